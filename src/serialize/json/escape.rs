//! JSON string escaping: UTF-8 kept, only `"`, `\\` and control characters
//! escaped, checked 8 bytes at a time.

/// True if any byte of `chunk` is a control character, `"` or `\` (exact:
/// the classic "has a byte less than n" / "has a zero byte" bit tricks).
#[inline]
fn chunk_needs_escape(chunk: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let control = chunk.wrapping_sub(ONES * 0x20) & !chunk;
    let quote = chunk ^ (ONES * b'"' as u64);
    let backslash = chunk ^ (ONES * b'\\' as u64);
    let quote = quote.wrapping_sub(ONES) & !quote;
    let backslash = backslash.wrapping_sub(ONES) & !backslash;
    (control | quote | backslash) & HIGH != 0
}

/// Bytes JSON requires escaping: control characters, `"` and `\`.
static NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

#[inline]
fn byte_needs_escape(b: u8) -> bool {
    NEEDS_ESCAPE[b as usize]
}

/// Copy `bytes` to `dst` while checking that none needs escaping; false (with
/// `dst` partly written) as soon as one does.
///
/// SAFETY: `dst` must be valid for `bytes.len()` writes.
#[inline]
unsafe fn copy_if_clean(bytes: &[u8], dst: *mut u8) -> bool {
    let len = bytes.len();
    let src = bytes.as_ptr();
    if len < 8 {
        let mut dirty = false;
        for i in 0..len {
            let b = *src.add(i);
            dirty |= byte_needs_escape(b);
            *dst.add(i) = b;
        }
        return !dirty;
    }
    // 8 bytes at a time; the last word overlaps the one before it.
    let mut i = 0;
    while i + 8 <= len {
        let word = src.add(i).cast::<u64>().read_unaligned();
        if chunk_needs_escape(word) {
            return false;
        }
        dst.add(i).cast::<u64>().write_unaligned(word);
        i += 8;
    }
    if i < len {
        let word = src.add(len - 8).cast::<u64>().read_unaligned();
        if chunk_needs_escape(word) {
            return false;
        }
        dst.add(len - 8).cast::<u64>().write_unaligned(word);
    }
    true
}

/// True if no byte of `bytes` needs escaping.
#[cfg(test)]
fn is_clean(bytes: &[u8]) -> bool {
    let mut scratch = vec![0u8; bytes.len()];
    // SAFETY: scratch holds bytes.len() bytes.
    unsafe { copy_if_clean(bytes, scratch.as_mut_ptr()) }
}

/// Write UTF-8 `bytes` as a JSON string literal: UTF-8 kept, only `"`, `\` and
/// control characters escaped (what JSON requires; the rest stays readable).
#[inline]
pub(super) fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = bytes.len();
    out.reserve(len + 2);
    let at = out.len();
    // SAFETY: `reserve` made room for len + 2 bytes after `at`; the length is
    // only extended once all of them are written.
    unsafe {
        let dst = out.as_mut_ptr().add(at);
        *dst = b'"';
        if copy_if_clean(bytes, dst.add(1)) {
            *dst.add(len + 1) = b'"';
            out.set_len(at + len + 2);
            return;
        }
    }
    out.push(b'"');
    write_escaped_slow(out, bytes);
    out.push(b'"');
}

#[cold]
fn write_escaped_slow(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if short.is_empty() {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ]);
        } else {
            out.extend_from_slice(short);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = Vec::new();
        write_escaped(&mut out, s.as_bytes());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_only_what_json_requires() {
        assert_eq!(escaped("plain é ✓"), "\"plain é ✓\"");
        assert_eq!(escaped("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(escaped("\n\r\t\u{8}\u{c}"), "\"\\n\\r\\t\\b\\f\"");
        assert_eq!(escaped("\u{0}\u{1f}"), "\"\\u0000\\u001f\"");
        // Every escape serde_json's reader accepts back to the same text.
        for s in ["", "x", "\u{7f}", "tab\there", "\u{1}\u{2}"] {
            let back: String = serde_json::from_str(&escaped(s)).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn clean_check_agrees_with_a_byte_loop() {
        let needs = |b: &u8| *b < 0x20 || *b == b'"' || *b == b'\\';
        for len in 0..40 {
            for pos in 0..len {
                for bad in [b'"', b'\\', b'\n', 0x00, 0x1f] {
                    let mut v = vec![b'a'; len];
                    v[pos] = bad;
                    assert!(!is_clean(&v), "len {len} pos {pos} byte {bad}");
                }
                let mut v = vec![b'a'; len];
                v[pos] = 0x7f; // DEL and non-ASCII need no escaping
                assert!(is_clean(&v));
                assert_eq!(is_clean(&v), !v.iter().any(needs));
            }
        }
        assert!(is_clean("ünïcödé ✓ 日本語".as_bytes()));
    }
}
