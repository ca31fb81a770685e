//! The constructor's options from Python: kafkify's own (`max_block_ms`,
//! `exit_timeout_ms`, the serializers), and every other as a [`Value`] for
//! `config::translate`, each error naming its option (secrets masked).

use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use super::value::{is_secret, Value};
use crate::errors::{Error, Result};
use crate::timeout::{self, Unit};

/// The `max_block_ms=` and `exit_timeout_ms=` arguments.
pub(crate) struct Limits<'a, 'py> {
    pub(crate) max_block_ms: Option<&'a Bound<'py, PyAny>>,
    pub(crate) exit_timeout_ms: Option<&'a Bound<'py, PyAny>>,
}

/// A non-negative duration option given in milliseconds, `default` when absent
/// (None: no limit, as inf or a number too large for a wait is; the rules are
/// `timeout`'s).
pub(crate) fn millis_option(
    name: &str,
    value: Option<&Bound<'_, PyAny>>,
    default: Option<Duration>,
) -> Result<Option<Duration>> {
    match value.filter(|v| !v.is_none()) {
        Some(v) => timeout::parse(name, v, Unit::Millis),
        None => Ok(default),
    }
}

/// The `value_serializer=`, `key_serializer=` and `json_default=` arguments.
pub(crate) struct Serializers<'a, 'py> {
    pub(crate) value: Option<&'a Bound<'py, PyAny>>,
    pub(crate) key: Option<&'a Bound<'py, PyAny>>,
    pub(crate) json_default: Option<&'a Bound<'py, PyAny>>,
}

/// Options that belong to kafkify itself, not to librdkafka.
pub(crate) const OWN_OPTIONS: &[&str] = &[
    "value_serializer",
    "key_serializer",
    "max_block_ms",
    "exit_timeout_ms",
    "config",
    "on_error",
    "on_stats",
    "log_deliveries",
    "tracing",
    "otel_metrics",
];

/// Python config values → [`Value`]s.
pub(crate) fn to_values(d: &Bound<'_, PyDict>) -> PyResult<Vec<(String, Value)>> {
    let mut out = Vec::with_capacity(d.len());
    for (k, v) in d.iter() {
        let name: String = k.extract().map_err(|_| {
            Error::Config(format!(
                "configuration names must be str, got {}",
                crate::serialize::json::type_name(&k)
            ))
        })?;
        if OWN_OPTIONS.contains(&name.as_str()) {
            return Err(Error::Config(format!(
                "{name:?} is a kafkify option: pass it as a keyword argument, not inside config="
            ))
            .into());
        }
        let value = to_value(&name, &v)?;
        out.push((name, value));
    }
    Ok(out)
}

pub(crate) fn to_value(name: &str, v: &Bound<'_, PyAny>) -> PyResult<Value> {
    if v.is_none() {
        return Ok(Value::None);
    }
    if let Ok(b) = v.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(i) = v.cast::<PyInt>() {
        // Past i64 no option means anything (librdkafka's are i32 at most), but a
        // bare OverflowError would not say which option it was (issue 10, defect 10).
        return i.extract().map(Value::Int).map_err(|_| {
            let shown = masked(name, || {
                v.str()
                    .map(|s| s.to_string())
                    .unwrap_or_else(|_| "an int too long to print".into())
            });
            Error::Config(format!(
                "invalid value for '{name}': {shown} (out of range: expected an integer \
                 between -2**63 and 2**63-1)"
            ))
            .into()
        });
    }
    if let Ok(f) = v.cast::<PyFloat>() {
        return Ok(Value::Float(f.value()));
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(Value::Str(s.to_str()?.to_owned()));
    }
    if v.cast::<PyList>().is_ok() || v.cast::<PyTuple>().is_ok() {
        if let Ok(items) = v.extract::<Vec<String>>() {
            return Ok(Value::List(items));
        }
    }
    let shown = masked(name, || crate::serialize::json::type_name(v));
    Err(Error::Config(format!(
        "invalid value for '{name}': {shown} (expected str, int, float, bool or a list of str)"
    ))
    .into())
}

/// A value as shown in an error about option `name`: masked if it is a secret.
pub(crate) fn masked(name: &str, show: impl FnOnce() -> String) -> String {
    if is_secret(name) {
        "********".to_string()
    } else {
        show()
    }
}

/// Whether the core takes keyword-style option `name` (see `config::accepts`):
/// what the compat shims pass through to it.
#[pyfunction]
pub fn _core_accepts(name: &str) -> bool {
    super::accepts(name, super::librdkafka::rdkafka_properties())
}
