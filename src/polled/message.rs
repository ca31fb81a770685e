//! confluent-kafka's `Message`, as a delivery callback sees it
//! (`kafkify.compat.confluent_kafka.Message`).

use pyo3::prelude::*;
use pyo3::types::PyString;

/// A produced record and its fate. As in confluent-kafka, ``headers()`` is None on
/// delivery reports (librdkafka does not hand them back).
#[pyclass(module = "kafkify._kafkify", name = "PolledMessage", subclass)]
pub struct Message {
    topic: Option<Py<PyString>>,
    partition: Option<i32>,
    offset: Option<i64>,
    key: Option<Py<PyAny>>,
    value: Option<Py<PyAny>>,
    /// (type, milliseconds since the epoch), as `timestamp()` returns it.
    timestamp: (i32, i64),
    error: Option<Py<PyAny>>,
    latency: Option<f64>,
    headers: Option<Py<PyAny>>,
    leader_epoch: Option<i32>,
}

/// confluent-kafka's timestamp types (`TIMESTAMP_*`).
const TIMESTAMP_NOT_AVAILABLE: i32 = 0;
const TIMESTAMP_CREATE_TIME: i32 = 1;

impl Message {
    #[allow(clippy::too_many_arguments)]
    pub fn report(
        topic: Py<PyString>,
        partition: i32,
        offset: i64,
        key: Option<Py<PyAny>>,
        value: Option<Py<PyAny>>,
        timestamp: i64,
        error: Option<Py<PyAny>>,
        latency: f64,
    ) -> Self {
        Message {
            topic: Some(topic),
            partition: Some(partition),
            offset: Some(offset),
            key,
            value,
            timestamp: if timestamp < 0 {
                (TIMESTAMP_NOT_AVAILABLE, 0)
            } else {
                (TIMESTAMP_CREATE_TIME, timestamp)
            },
            error,
            latency: Some(latency),
            headers: None,
            leader_epoch: None,
        }
    }
}

fn or_none(py: Python<'_>, obj: &Option<Py<PyAny>>) -> Py<PyAny> {
    obj.as_ref().map_or_else(|| py.None(), |o| o.clone_ref(py))
}

#[pymethods]
impl Message {
    /// A message with the given fields, for tests: confluent-kafka's constructor
    /// (the same parameters in the same order, all optional).
    #[new]
    #[pyo3(signature = (topic=None, partition=None, offset=None, key=None, value=None, headers=None, error=None, timestamp=None, latency=None, leader_epoch=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        topic: Option<Py<PyString>>,
        partition: Option<i32>,
        offset: Option<i64>,
        key: Option<Py<PyAny>>,
        value: Option<Py<PyAny>>,
        headers: Option<Py<PyAny>>,
        error: Option<Py<PyAny>>,
        timestamp: Option<(i32, i64)>,
        latency: Option<f64>,
        leader_epoch: Option<i32>,
    ) -> Self {
        Message {
            topic,
            partition,
            offset,
            key,
            value,
            timestamp: timestamp.unwrap_or((TIMESTAMP_NOT_AVAILABLE, 0)),
            error,
            latency,
            headers,
            leader_epoch,
        }
    }

    fn topic(&self, py: Python<'_>) -> Py<PyAny> {
        self.topic
            .as_ref()
            .map_or_else(|| py.None(), |t| t.clone_ref(py).into_any())
    }

    fn partition(&self) -> Option<i32> {
        self.partition
    }

    fn offset(&self) -> Option<i64> {
        self.offset
    }

    fn leader_epoch(&self) -> Option<i32> {
        self.leader_epoch
    }

    fn key(&self, py: Python<'_>) -> Py<PyAny> {
        or_none(py, &self.key)
    }

    fn value(&self, py: Python<'_>) -> Py<PyAny> {
        or_none(py, &self.value)
    }

    fn headers(&self, py: Python<'_>) -> Py<PyAny> {
        or_none(py, &self.headers)
    }

    fn set_headers(&mut self, headers: Option<Py<PyAny>>) {
        self.headers = headers;
    }

    fn set_key(&mut self, key: Option<Py<PyAny>>) {
        self.key = key;
    }

    fn set_value(&mut self, value: Option<Py<PyAny>>) {
        self.value = value;
    }

    /// ``(timestamp type, milliseconds since the epoch)``; ``(0, 0)`` when unknown.
    fn timestamp(&self) -> (i32, i64) {
        self.timestamp
    }

    /// The delivery's ``KafkaError``, or None when it was delivered.
    fn error(&self, py: Python<'_>) -> Py<PyAny> {
        or_none(py, &self.error)
    }

    /// Seconds from ``produce()`` to the delivery report.
    fn latency(&self) -> Option<f64> {
        self.latency
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        match &self.value {
            Some(v) => v.bind(py).len(),
            None => Ok(0),
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let topic = match &self.topic {
            Some(t) => t.bind(py).repr()?.to_string(),
            None => "None".to_owned(),
        };
        let error = match &self.error {
            Some(e) => format!(" error={}", e.bind(py).str()?),
            None => String::new(),
        };
        let number = |n: Option<i64>| n.map_or("None".to_owned(), |n| n.to_string());
        Ok(format!(
            "<Message topic={topic} partition={} offset={}{error}>",
            number(self.partition.map(i64::from)),
            number(self.offset)
        ))
    }
}
