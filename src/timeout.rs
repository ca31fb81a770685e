//! Timeouts, from the number a caller passes to the wait that honours it.
//!
//! Every timeout, deadline and librdkafka wait goes through here, because each
//! hand-made conversion failed on some input (issue 10, defects 2-4):
//! `Duration::from_secs_f64(1e308)` panics, `Instant::now() + Duration` panics
//! past the clock's range (`flush(timeout=1e19)`), and the rdkafka crate casts a
//! wait's milliseconds to `i32`, so 3e6 s (more than 24.8 days) wrapped to a
//! negative wait and failed at once. The rules:
//! - NaN, a negative number or a non-number is a `ConfigError` (a `ValueError`)
//!   naming the argument and its value;
//! - `math.inf`, and None where a call documents it, mean no limit; so does any
//!   number too large for a `Duration` (more than 584 billion years);
//! - a [`Deadline`] too far away for `Instant` is no deadline;
//! - one librdkafka call waits at most `i32::MAX` ms ([`rd`], [`slice`]); a wait
//!   longer than that is librdkafka's "no limit" (-1) in a single call, and is
//!   cut into slices by the loops that can check their own deadline.

use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::PyInt;
use rdkafka::util::Timeout;

use crate::errors::{Error, Result};

/// The longest wait one librdkafka call takes: its timeouts are `int` milliseconds.
pub const RD_MAX_WAIT: Duration = Duration::from_millis(i32::MAX as u64);

/// The unit a timeout argument is given in.
#[derive(Clone, Copy)]
pub enum Unit {
    Seconds,
    Millis,
}

impl Unit {
    fn scale(self) -> f64 {
        match self {
            Unit::Seconds => 1.0,
            Unit::Millis => 1e-3,
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Unit::Seconds => "a non-negative number of seconds, math.inf or None",
            Unit::Millis => "a non-negative number of milliseconds, math.inf or None",
        }
    }
}

/// A timeout argument in seconds where None means no limit: `Some(limit)`, or
/// `None` for no limit.
pub fn seconds(name: &str, value: Option<f64>) -> Result<Option<Duration>> {
    seconds_or(name, value, None)
}

/// A timeout argument in seconds where None means `default` (`math.inf` still
/// means no limit).
pub fn seconds_or(
    name: &str,
    value: Option<f64>,
    default: Option<Duration>,
) -> Result<Option<Duration>> {
    match value {
        Some(v) => from_f64(v, Unit::Seconds).ok_or_else(|| invalid(name, &show(v), Unit::Seconds)),
        None => Ok(default),
    }
}

/// A float as Python shows it (`nan`, `-inf`, `-1.0`).
fn show(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{v:?}")
    }
}

fn invalid(name: &str, shown: &str, unit: Unit) -> Error {
    Error::Config(format!(
        "invalid value for '{name}': {shown} (expected {})",
        unit.expected()
    ))
}

/// Any Python object (not None; an int of any size, a float, ...) → a limit,
/// `None` meaning no limit.
pub fn parse(name: &str, value: &Bound<'_, PyAny>, unit: Unit) -> Result<Option<Duration>> {
    let invalid = || {
        let shown = value
            .repr()
            .map(|r| r.to_string())
            .unwrap_or_else(|_| "?".into());
        invalid(name, &shown, unit)
    };
    match value.extract::<f64>() {
        Ok(v) => from_f64(v, unit).ok_or_else(invalid),
        // An int too large for a float (10**400): no limit, unless it is negative.
        Err(_) if value.cast::<PyInt>().is_ok() => match value.gt(0) {
            Ok(true) => Ok(None),
            _ => Err(invalid()),
        },
        Err(_) => Err(invalid()),
    }
}

/// `v` in `unit` → `Some(limit)` (the inner `None`: no limit), or `None` when `v`
/// is NaN or negative.
pub fn from_f64(v: f64, unit: Unit) -> Option<Option<Duration>> {
    if v.is_nan() || v < 0.0 {
        return None;
    }
    // Infinite, or too large for a Duration: no limit.
    Some(Duration::try_from_secs_f64(v * unit.scale()).ok())
}

/// A limit as people say it: "1.0 s", "no limit".
pub fn describe(limit: Option<Duration>) -> String {
    match limit {
        Some(d) => format!("{:?} s", d.as_secs_f64()),
        None => "no limit".into(),
    }
}

/// A limit for one librdkafka call: beyond what its `int` milliseconds hold, none.
pub fn rd(limit: Option<Duration>) -> Timeout {
    match limit {
        Some(d) if d <= RD_MAX_WAIT => Timeout::After(d),
        _ => Timeout::Never,
    }
}

/// [`rd`] as librdkafka's own milliseconds (-1: no limit), for raw calls.
pub fn rd_millis(limit: Option<Duration>) -> i32 {
    match rd(limit) {
        // At most i32::MAX ms, checked by `rd`.
        Timeout::After(d) => d.as_millis() as i32,
        Timeout::Never => -1,
    }
}

/// One slice of a longer wait, for a librdkafka call: at most `RD_MAX_WAIT`.
pub fn slice(d: Duration) -> Duration {
    d.min(RD_MAX_WAIT)
}

/// When a wait ends: an instant, or never. Built from the limit that was asked
/// for, which it keeps for error messages.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    at: Option<Instant>,
    asked: Option<Duration>,
}

impl Deadline {
    /// `limit` from now (`None`, or too far for the clock: never).
    pub fn after(limit: Option<Duration>) -> Self {
        Deadline {
            at: limit.and_then(|d| Instant::now().checked_add(d)),
            asked: limit,
        }
    }

    pub fn never() -> Self {
        Deadline {
            at: None,
            asked: None,
        }
    }

    /// The limit this deadline was made from.
    pub fn asked(&self) -> Option<Duration> {
        self.asked
    }

    /// The limit as people say it ("1.0 s").
    pub fn describe(&self) -> String {
        describe(self.asked)
    }

    pub fn passed(&self) -> bool {
        self.at.is_some_and(|at| Instant::now() >= at)
    }

    /// Time left (`None`: no limit).
    pub fn remaining(&self) -> Option<Duration> {
        self.at
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// The time to wait next: what is left, at most `most`.
    pub fn window(&self, most: Duration) -> Duration {
        self.remaining().map_or(most, |left| left.min(most))
    }

    /// The instant the next wait of at most `most` ends.
    pub fn window_end(&self, most: Duration) -> Instant {
        let now = Instant::now();
        now + self.window(most)
    }

    /// Whether this deadline comes no later than `other`.
    pub fn not_after(&self, other: &Deadline) -> bool {
        match (self.at, other.at) {
            (Some(a), Some(b)) => a <= b,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_limits() {
        let s = Unit::Seconds;
        assert_eq!(from_f64(1.5, s), Some(Some(Duration::from_millis(1500))));
        assert_eq!(from_f64(0.0, s), Some(Some(Duration::ZERO)));
        assert_eq!(from_f64(f64::INFINITY, s), Some(None));
        assert_eq!(from_f64(1e308, s), Some(None));
        assert_eq!(
            from_f64(1e19, s),
            Some(Some(Duration::from_secs(10u64.pow(19))))
        );
        assert_eq!(from_f64(f64::NAN, s), None);
        assert_eq!(from_f64(-1.0, s), None);
        assert_eq!(from_f64(f64::NEG_INFINITY, s), None);
        assert_eq!(from_f64(1e308, Unit::Millis), Some(None));
        assert_eq!(
            from_f64(250.0, Unit::Millis),
            Some(Some(Duration::from_millis(250)))
        );
    }

    #[test]
    fn deadlines_saturate() {
        let far = Deadline::after(Some(Duration::MAX));
        assert!(!far.passed());
        assert_eq!(far.remaining(), None);
        assert_eq!(
            far.window(Duration::from_millis(100)),
            Duration::from_millis(100)
        );
        let now = Deadline::after(Some(Duration::ZERO));
        assert!(now.passed());
        assert!(now.not_after(&far));
        assert!(!far.not_after(&now));
        assert_eq!(now.describe(), "0.0 s");
        assert_eq!(
            Deadline::after(Some(Duration::from_secs(1))).describe(),
            "1.0 s"
        );
    }

    #[test]
    fn librdkafka_waits_fit_its_int_milliseconds() {
        assert_eq!(rd_millis(Some(Duration::from_secs(3_000_000))), -1);
        assert_eq!(rd_millis(Some(RD_MAX_WAIT)), i32::MAX);
        assert_eq!(rd_millis(Some(Duration::from_millis(1500))), 1500);
        assert_eq!(rd_millis(None), -1);
        assert_eq!(slice(Duration::MAX), RD_MAX_WAIT);
    }
}
