//! Cluster metadata (`list_topics`), purging the local queue (`purge`), and
//! librdkafka's table of error codes: what the compatibility shims need from
//! the core beyond sending.

use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use rdkafka::error::KafkaError as RdError;
use rdkafka::metadata::Metadata;
use rdkafka::producer::{Producer as _, PurgeConfig};
use rdkafka::types::RDKafkaErrorCode as Code;

use crate::client::Client;
use crate::delivery::RdProducer;
use crate::errors::{self, Error, Result};
use crate::rd;
use crate::timeout::{self, Deadline};

/// The first wait for metadata; each later one is twice as long (see `fetch_metadata`).
const FIRST_METADATA_WAIT: Duration = Duration::from_millis(500);

/// Fetch cluster metadata (one topic's or all), waiting up to `timeout`, but fail
/// with the brokers' refusal (`AuthenticationError`, see `refusal`) as soon as every
/// broker refuses this client, instead of waiting it out: librdkafka's metadata
/// call cannot be interrupted, so it waits in growing slices (0.5 s, 1 s, 2 s, ...:
/// a slow but healthy broker still gets the time to answer) and checks in between.
/// `timeout` None: no limit. No slice is longer than librdkafka's `int` milliseconds
/// hold (`timeout::slice`): a longer one wrapped to a negative wait and failed at once.
pub fn fetch_metadata(
    producer: &RdProducer,
    topic: Option<&str>,
    timeout: Option<Duration>,
    failed: impl FnOnce(&RdError) -> Error,
) -> Result<Metadata> {
    let observer = producer.context().observer();
    let deadline = Deadline::after(timeout);
    let mut slice = FIRST_METADATA_WAIT;
    loop {
        let left = deadline.remaining().unwrap_or(Duration::MAX);
        match producer
            .client()
            .fetch_metadata(topic, timeout::slice(slice.min(left)))
        {
            Ok(md) => return Ok(md),
            Err(e) if left <= slice => return Err(failed(&e)),
            Err(_) => {
                if let Some(refusal) = observer.standing_refusal(&metadata_context(topic)) {
                    return Err(refusal);
                }
            }
        }
        slice = slice.saturating_mul(2);
    }
}

/// What a metadata error is about: "metadata for topic \"t\"" or "cluster metadata".
pub fn metadata_context(topic: Option<&str>) -> String {
    match topic {
        Some(t) => format!("metadata for topic {t:?}"),
        None => "cluster metadata".to_string(),
    }
}

fn code_or_none(err: Option<rdkafka::types::RDKafkaRespErr>) -> Option<i32> {
    err.map(|e| e as i32)
}

/// Cluster metadata as plain Python data:
/// `{"orig_broker_id", "orig_broker_name", "brokers": {id: (host, port)},
///   "topics": {name: {"error": code | None, "partitions": {id: {"leader",
///   "replicas", "isrs", "error"}}}}}`.
pub fn list_topics<'py>(
    py: Python<'py>,
    client: &Client,
    topic: Option<&str>,
    timeout: Option<Duration>,
) -> PyResult<Bound<'py, PyDict>> {
    // The lock is not held across the wait: close() must not wait for it (it
    // would stall every thread, see `Client::producer`).
    let producer = client.producer()?;
    let md = py.detach(move || {
        fetch_metadata(&producer, topic, timeout, |e| {
            errors::from_rdkafka(e, &metadata_context(topic))
        })
    })?;
    let out = PyDict::new(py);
    out.set_item("orig_broker_id", md.orig_broker_id())?;
    out.set_item("orig_broker_name", md.orig_broker_name())?;
    let brokers = PyDict::new(py);
    for b in md.brokers() {
        brokers.set_item(b.id(), (b.host(), b.port()))?;
    }
    out.set_item("brokers", brokers)?;
    let topics = PyDict::new(py);
    for t in md.topics() {
        let partitions = PyDict::new(py);
        for p in t.partitions() {
            let d = PyDict::new(py);
            d.set_item("leader", p.leader())?;
            d.set_item("replicas", PyList::new(py, p.replicas())?)?;
            d.set_item("isrs", PyList::new(py, p.isr())?)?;
            d.set_item("error", code_or_none(p.error()))?;
            partitions.set_item(p.id(), d)?;
        }
        let d = PyDict::new(py);
        d.set_item("error", code_or_none(t.error()))?;
        d.set_item("partitions", partitions)?;
        topics.set_item(t.name(), d)?;
    }
    out.set_item("topics", topics)?;
    Ok(out)
}

/// Drop records librdkafka has not delivered yet; each one's caller is told it
/// failed (`RecordPurgedError`). `blocking=false` skips waiting on in-flight
/// requests' locks (librdkafka's `RD_KAFKA_PURGE_F_NON_BLOCKING`).
pub fn purge(
    py: Python<'_>,
    client: &Client,
    in_queue: bool,
    in_flight: bool,
    blocking: bool,
) -> PyResult<()> {
    let mut flags = PurgeConfig::default();
    if in_queue {
        flags = flags.queue();
    }
    if in_flight {
        flags = flags.inflight();
    }
    if !blocking {
        flags = flags.non_blocking();
    }
    let producer = client.with_producer(|p| Ok(p.clone()))?;
    py.detach(|| producer.purge(flags));
    Ok(())
}

/// Every librdkafka error code as `(code, name, description)`, e.g.
/// `(-192, "_MSG_TIMED_OUT", "Local: Message timed out")`.
#[pyfunction]
pub fn librdkafka_error_codes() -> Vec<(i32, String, String)> {
    rd::error_descriptions()
}

/// The partition ids of `topic`, sorted, fetched within `timeout` (None: no limit).
pub fn partitions_for(
    py: Python<'_>,
    client: &Client,
    topic: &str,
    timeout: Option<Duration>,
) -> PyResult<Vec<i32>> {
    // Not under the client's lock: close() must not wait for this wait.
    let producer = client.producer()?;
    let ids = py.detach(move || {
        let md = fetch_metadata(&producer, Some(topic), timeout, |e| {
            errors::from_rdkafka(e, &metadata_context(Some(topic)))
        })?;
        let t = md
            .topics()
            .iter()
            .find(|t| t.name() == topic)
            .ok_or_else(|| {
                Error::kafka(Code::UnknownTopicOrPartition, format!("topic {topic:?}"))
            })?;
        if let Some(err) = t.error() {
            return Err(Error::kafka(err.into(), format!("topic {topic:?}")));
        }
        let mut ids: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
        ids.sort_unstable();
        Ok(ids)
    })?;
    Ok(ids)
}
