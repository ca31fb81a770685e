//! A call's Python arguments, checked and named: the arguments of one record
//! ([`Record`], topic names) and of a batch (which record an error is about).
//! The constructor's options are `config::from_py`'s.

use pyo3::prelude::*;

use crate::errors::{Error, Result};

/// A key or value that is there (Python None counts as absent).
pub(crate) fn present<'a, 'py>(
    obj: Option<&'a Bound<'py, PyAny>>,
) -> Option<&'a Bound<'py, PyAny>> {
    obj.filter(|v| !v.is_none())
}

/// The arguments of one record, as given (`None` or Python None: no value / no key).
#[derive(Clone, Copy)]
pub(crate) struct Record<'a, 'py> {
    pub topic: &'a str,
    pub value: Option<&'a Bound<'py, PyAny>>,
    pub key: Option<&'a Bound<'py, PyAny>>,
    pub headers: Option<&'a Bound<'py, PyAny>>,
    pub partition: Option<i32>,
    pub timestamp_ms: Option<i64>,
}

/// Name the record of a batch an error is about.
pub(crate) fn batch_error(index: usize, err: Error) -> Error {
    match err {
        Error::Serialization(m) => Error::Serialization(format!("values[{index}]: {m}")),
        Error::SerializationRecursion(m) => {
            Error::SerializationRecursion(format!("values[{index}]: {m}"))
        }
        other => other,
    }
}

/// Kafka's rules for topic names, checked before anything is queued.
pub(crate) fn validate_topic(topic: &str) -> Result<()> {
    let problem = if topic.is_empty() {
        Some("it is empty".to_string())
    } else if topic.len() > 249 {
        Some(format!(
            "it is {} characters long (the limit is 249)",
            topic.len()
        ))
    } else if topic == "." || topic == ".." {
        Some("'.' and '..' are reserved".to_string())
    } else {
        topic
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
            .map(|c| format!("{c:?} is not allowed (only ASCII letters, digits, '.', '_' and '-')"))
    };
    match problem {
        Some(p) => Err(Error::InvalidTopic(format!(
            "invalid topic name {topic:?}: {p}"
        ))),
        None => Ok(()),
    }
}
