//! What librdkafka itself knows and takes: its property names and defaults (read
//! from a fresh configuration), kafkify's own defaults on top, a property's value
//! as librdkafka parses it (a 32-bit C `int` for numbers), and a property read
//! back as a duration.

use std::sync::OnceLock;
use std::time::Duration;

use super::value::{bad_value, Properties, Value};
use crate::errors::Result;
use crate::rd;
use crate::timeout::{self, Unit};

/// kafkify's defaults: safe for production (the seeds all ask for acks=all and
/// idempotence) and fast (lz4, a short linger so records share batches).
///
/// reconnect.backoff.ms 20 (librdkafka's is 100, Java's 50): librdkafka waits half
/// of it between choosing brokers to connect to (`sparse_connect_intvl`), and a new
/// producer waits that long after the bootstrap connection before it connects to
/// the broker it learnt of, so every first record paid 50 ms (issue 12, target h).
/// The backoff still doubles on each failed attempt, up to reconnect.backoff.max.ms.
pub const DEFAULTS: &[(&str, &str)] = &[
    ("acks", "all"),
    ("enable.idempotence", "true"),
    ("compression.type", "lz4"),
    ("linger.ms", "5"),
    ("reconnect.backoff.ms", "20"),
];

/// The names of every librdkafka property (for suggestions and `_` → `.` spelling).
pub fn rdkafka_properties() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| rdkafka_defaults().iter().map(|(k, _)| k.clone()).collect())
}

/// librdkafka's properties with their default values, from a fresh configuration.
pub fn rdkafka_defaults() -> &'static [(String, String)] {
    static DEFAULTS: OnceLock<Vec<(String, String)>> = OnceLock::new();
    DEFAULTS.get_or_init(rd::conf_defaults)
}

/// A property in milliseconds, set under its name or its alias (librdkafka takes
/// fractions for some, such as linger.ms); None when unset (librdkafka's default).
pub fn millis(properties: &Properties, name: &str, alias: &str) -> Option<Duration> {
    properties
        .get(name)
        .or(properties.get(alias))
        .and_then(|v| v.parse::<f64>().ok())
        .and_then(|ms| timeout::from_f64(ms, Unit::Millis).flatten())
}

/// librdkafka's numeric properties are C `int`s: it parses a larger number and
/// keeps it truncated (2**40 ms became 0, "no limit", for delivery.timeout.ms).
pub const RDKAFKA_INT_MAX: i64 = i32::MAX as i64;
const OUT_OF_INT_RANGE: &str = "a number between -2147483648 and 2147483647: librdkafka's \
                                numeric properties are 32-bit";

/// Set `property` (the user's option `name`, named in errors) to `value` as given.
pub fn set_raw(props: &mut Properties, name: &str, property: &str, value: &Value) -> Result<()> {
    let rendered = match value {
        Value::None => {
            props.0.remove(property);
            return Ok(());
        }
        Value::Bool(b) => b.to_string(),
        Value::Int(i) if !(-RDKAFKA_INT_MAX - 1..=RDKAFKA_INT_MAX).contains(i) => {
            return Err(bad_value(name, value, OUT_OF_INT_RANGE))
        }
        Value::Int(i) => i.to_string(),
        // librdkafka's range checks let NaN through (every comparison is false).
        Value::Float(f) if f.is_nan() => return Err(bad_value(name, value, "a number")),
        Value::Float(f) => render_float(*f),
        Value::Str(s) => s.clone(),
        Value::List(l) => l.join(","),
    };
    props.0.insert(property.into(), rendered);
    Ok(())
}

pub fn render_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        f.to_string()
    }
}
