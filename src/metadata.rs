//! `RecordMetadata`: where a record landed, with kafka-python's field names.

use pyo3::prelude::*;

use crate::delivery::Delivered;

/// Where a record landed. Field names follow kafka-python's `RecordMetadata`.
#[pyclass(module = "kafkify._kafkify", frozen, get_all, eq, hash, str)]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordMetadata {
    topic: String,
    partition: i32,
    offset: i64,
    /// Milliseconds since the epoch (CreateTime or LogAppendTime); -1 when unknown.
    timestamp: i64,
    /// -1 when the record had no key.
    serialized_key_size: i32,
    /// -1 for a tombstone (null value).
    serialized_value_size: i32,
    /// -1 when the record had no headers.
    serialized_header_size: i32,
}

impl From<Delivered> for RecordMetadata {
    fn from(d: Delivered) -> Self {
        RecordMetadata {
            topic: d.topic,
            partition: d.partition,
            offset: d.offset,
            timestamp: d.timestamp,
            serialized_key_size: d.key_size,
            serialized_value_size: d.value_size,
            serialized_header_size: d.header_size,
        }
    }
}

#[pymethods]
impl RecordMetadata {
    /// `(topic, partition)`, as kafka-python's `topic_partition`.
    #[getter]
    fn topic_partition(&self) -> (String, i32) {
        (self.topic.clone(), self.partition)
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
