//! `RecordMetadata`: where a record landed, with kafka-python's field names; and
//! a delivery outcome as Python sees it ([`outcome_value`]).

use std::sync::Arc;

use pyo3::prelude::*;

use crate::delivery::outcome::{Delivered, Outcome};

/// Where a record landed. Field names follow kafka-python's `RecordMetadata`.
#[pyclass(module = "kafkify._kafkify", frozen, eq, hash, str)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordMetadata {
    /// Shared by every report of a batch (one string, not one per record).
    topic: Arc<str>,
    #[pyo3(get)]
    partition: i32,
    #[pyo3(get)]
    offset: i64,
    /// Milliseconds since the epoch (CreateTime or LogAppendTime); -1 when unknown.
    #[pyo3(get)]
    timestamp: i64,
    /// -1 when the record had no key.
    #[pyo3(get)]
    serialized_key_size: i32,
    /// -1 for a tombstone (null value).
    #[pyo3(get)]
    serialized_value_size: i32,
    /// -1 when the record had no headers.
    #[pyo3(get)]
    serialized_header_size: i32,
}

impl From<Delivered> for RecordMetadata {
    fn from(d: Delivered) -> Self {
        RecordMetadata {
            topic: d.topic,
            partition: d.at.partition,
            offset: d.at.offset,
            timestamp: d.at.timestamp,
            serialized_key_size: d.at.key_size,
            serialized_value_size: d.at.value_size,
            serialized_header_size: d.at.header_size,
        }
    }
}

#[pymethods]
impl RecordMetadata {
    /// The topic the record was sent to.
    #[getter]
    fn topic(&self) -> &str {
        &self.topic
    }

    /// `(topic, partition)`, as kafka-python's `topic_partition`.
    #[getter]
    fn topic_partition(&self) -> (&str, i32) {
        (&self.topic, self.partition)
    }

    fn __repr__(&self) -> String {
        format!(
            "RecordMetadata(topic={:?}, partition={}, offset={}, timestamp={})",
            self.topic, self.partition, self.offset, self.timestamp
        )
    }
}

impl std::fmt::Display for RecordMetadata {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}]@{}", self.topic, self.partition, self.offset)
    }
}

/// A record's outcome as Python sees it: (true, RecordMetadata) or (false, exception).
pub fn outcome_value(py: Python<'_>, outcome: Outcome) -> (bool, Py<PyAny>) {
    match outcome {
        Ok(d) => (true, metadata_object(py, d)),
        Err((err, _)) => (false, err.to_py(py).into_value(py).into_any()),
    }
}

/// A `RecordMetadata`, not tracked by the cyclic garbage collector.
///
/// pyo3 makes every class a GC type, so 200k results of a batch would sit in the
/// collector's youngest generation and be traversed by the next collections (a
/// few % of a `send_batch`). A RecordMetadata holds no Python references, so it
/// can never be part of a cycle: CPython itself untracks tuples and dicts that
/// hold only atomic values, the same way.
pub fn metadata_object(py: Python<'_>, d: Delivered) -> Py<PyAny> {
    match Py::new(py, RecordMetadata::from(d)) {
        Ok(m) => {
            crate::rd::gc_untrack(m.bind(py).as_any());
            m.into_any()
        }
        Err(e) => e.into_value(py).into_any(),
    }
}
