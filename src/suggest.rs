//! "Did you mean ...?": the known name closest to one that is not known, for
//! error messages (`config::unknown_name`, and `testing`'s request and error names).

/// How alike two names must be (Jaro-Winkler) to be suggested.
const ALIKE: f64 = 0.85;

/// The candidate closest to `name` when compared by `key` (say, lowercased
/// without separators), if one is alike enough.
pub fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    key: impl Fn(&str) -> String,
) -> Option<&'a str> {
    let wanted = key(name);
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&wanted, &key(c)), c))
        .filter(|(score, _)| *score > ALIKE)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_only_a_close_name() {
        let names = ["linger.ms", "acks", "batch.size"];
        assert_eq!(
            closest("linger.mss", names, str::to_owned),
            Some("linger.ms")
        );
        assert_eq!(closest("compression", names, str::to_owned), None);
    }
}
