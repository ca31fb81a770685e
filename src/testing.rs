//! librdkafka's in-process mock cluster, for tests without a broker: topics, brokers
//! going down and coming back, added latency, injected request errors, and reading
//! back what a topic holds (with a consumer on the same cluster).
//!
//! Python sees it as `kafkify.testing.MockCluster` (python/kafkify/testing.py), a
//! thin wrapper over `_MockCluster` here.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError as RdError, KafkaResult};
use rdkafka::message::{Headers, Message};
use rdkafka::mocking::MockCluster as RdMockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::types::{RDKafkaApiKey as Api, RDKafkaErrorCode as Code, RDKafkaRespErr};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::client::FORK_GENERATION;
use crate::errors::{self, Error, Result};
use crate::rd;
use crate::suggest;
use crate::timeout::{self, Deadline};

/// The rdkafka mock cluster, made shareable between threads (`rd.rs` says why
/// that is sound).
type Cluster = rd::SharedMockCluster;

/// One record read back: (partition, offset, timestamp ms, key, value, headers).
type Row = (
    i32,
    i64,
    i64,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Vec<(String, Option<Vec<u8>>)>,
);

/// An in-process Kafka cluster (librdkafka's mock brokers on 127.0.0.1).
#[pyclass(module = "kafkify._kafkify", name = "_MockCluster", frozen)]
pub struct MockCluster {
    /// `None` once closed.
    cluster: RwLock<Option<Arc<Cluster>>>,
    num_brokers: i32,
    bootstrap_servers: String,
    /// `client::FORK_GENERATION` at creation: in a forked child the cluster's
    /// thread does not exist, so destroying the cluster (which joins it) or asking
    /// it anything (which waits for its reply) would hang the child.
    fork_generation: u64,
    pid: u32,
}

#[pymethods]
impl MockCluster {
    #[new]
    #[pyo3(signature = (num_brokers=3))]
    fn new(num_brokers: i32) -> PyResult<Self> {
        if !(1..=64).contains(&num_brokers) {
            return Err(invalid(format!(
                "num_brokers must be between 1 and 64, got {num_brokers}"
            ))
            .into());
        }
        let cluster = RdMockCluster::new(num_brokers)
            .map_err(|e| errors::from_rdkafka(&e, "starting the mock cluster"))?;
        Ok(MockCluster {
            bootstrap_servers: cluster.bootstrap_servers(),
            cluster: RwLock::new(Some(Arc::new(rd::SharedMockCluster(cluster)))),
            num_brokers,
            fork_generation: FORK_GENERATION.load(Ordering::Acquire),
            pid: std::process::id(),
        })
    }

    #[getter]
    fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }

    #[getter]
    fn num_brokers(&self) -> i32 {
        self.num_brokers
    }

    #[getter]
    fn closed(&self) -> bool {
        self.cluster
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
    }

    fn create_topic(&self, name: &str, partitions: i32, replication_factor: i32) -> PyResult<()> {
        if partitions < 1 {
            return Err(invalid(format!("partitions must be at least 1, got {partitions}")).into());
        }
        if !(1..=self.num_brokers).contains(&replication_factor) {
            return Err(invalid(format!(
                "replication_factor must be between 1 and {} (the number of brokers), got {replication_factor}",
                self.num_brokers
            ))
            .into());
        }
        let c = self.get()?;
        c.0.create_topic(name, partitions, replication_factor)
            .map_err(|e| errors::from_rdkafka(&e, &format!("creating topic {name:?}")))?;
        Ok(())
    }

    fn set_leader(&self, topic: &str, partition: i32, broker_id: i32) -> PyResult<()> {
        self.on_broker(broker_id, "making the partition leader", |c| {
            c.partition_leader(topic, partition, Some(broker_id))
        })
    }

    fn broker_down(&self, broker_id: i32) -> PyResult<()> {
        self.on_broker(broker_id, "taking down", |c| c.broker_down(broker_id))
    }

    fn broker_up(&self, broker_id: i32) -> PyResult<()> {
        self.on_broker(broker_id, "bringing up", |c| c.broker_up(broker_id))
    }

    fn set_rtt(&self, broker_id: i32, ms: i64) -> PyResult<()> {
        if !(0..=i32::MAX as i64).contains(&ms) {
            return Err(
                invalid(format!("rtt must be a non-negative number of ms, got {ms}")).into(),
            );
        }
        let delay = Duration::from_millis(ms as u64);
        self.on_broker(broker_id, "setting the rtt of", |c| {
            c.broker_round_trip_time(broker_id, delay)
        })
    }

    /// `errors` are names (librdkafka's, e.g. "NOT_LEADER_OR_FOLLOWER", or the
    /// CamelCase ones kafkify's exceptions carry) or numeric codes.
    fn push_request_errors(&self, api: &str, errors: Vec<Bound<'_, PyAny>>) -> PyResult<()> {
        let api = api_key(api)?;
        let codes = errors
            .iter()
            .map(error_code)
            .collect::<Result<Vec<RDKafkaRespErr>>>()?;
        self.get()?.0.request_errors(api, &codes);
        Ok(())
    }

    fn clear_request_errors(&self, api: &str) -> PyResult<()> {
        let api = api_key(api)?;
        self.get()?.0.clear_request_errors(api);
        Ok(())
    }

    /// Everything `topic` holds, sorted by (partition, offset), read with a consumer
    /// on this cluster (committed records only: aborted transactions are skipped).
    /// `timeout` in seconds; `math.inf` or None: no limit.
    #[pyo3(signature = (topic, timeout))]
    fn read_topic(
        &self,
        py: Python<'_>,
        topic: &str,
        timeout: Option<f64>,
    ) -> PyResult<Vec<Py<PyAny>>> {
        let timeout = timeout::seconds("timeout", timeout)?;
        self.get()?;
        let bootstrap = self.bootstrap_servers.clone();
        let topic_owned = topic.to_owned();
        let rows = py.detach(move || read_topic(&bootstrap, &topic_owned, timeout))?;
        rows.into_iter()
            .map(|(partition, offset, timestamp, key, value, headers)| {
                let bytes = |b: Option<Vec<u8>>| b.map(|b| PyBytes::new(py, &b).unbind());
                let headers: Vec<(String, Option<Py<PyBytes>>)> =
                    headers.into_iter().map(|(k, v)| (k, bytes(v))).collect();
                Ok((
                    partition,
                    offset,
                    timestamp,
                    bytes(key),
                    bytes(value),
                    headers,
                )
                    .into_pyobject(py)?
                    .into_any()
                    .unbind())
            })
            .collect()
    }

    /// Stop the brokers (idempotent). Clients still connected see them vanish.
    fn close(&self, py: Python<'_>) {
        let taken = self.take();
        // Joins the cluster's thread: never with the GIL held.
        py.detach(move || drop(taken));
    }
}

impl Drop for MockCluster {
    fn drop(&mut self) {
        // Without the GIL released here (pyo3 runs Drop with it held); close()
        // is the way to stop a cluster without holding it.
        drop(self.take());
    }
}

impl MockCluster {
    fn forked(&self) -> bool {
        FORK_GENERATION.load(Ordering::Acquire) != self.fork_generation
    }

    /// The cluster, taken out for destruction; in a forked child it is forgotten
    /// instead (its thread, which destruction joins, exists only in the parent).
    fn take(&self) -> Option<Arc<Cluster>> {
        let taken = self
            .cluster
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if self.forked() {
            std::mem::forget(taken);
            return None;
        }
        taken
    }

    fn get(&self) -> Result<Arc<Cluster>> {
        if self.forked() {
            return Err(Error::Kafka {
                code: Code::State,
                message: format!(
                    "this mock cluster belongs to process {} (the parent of this fork); start one in the child",
                    self.pid
                ),
                fatal: false,
            });
        }
        self.cluster
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| Error::Kafka {
                code: Code::State,
                message: "the mock cluster is closed".into(),
                fatal: false,
            })
    }

    /// Run a mock operation on broker `broker_id` (checked to exist first).
    fn on_broker(
        &self,
        broker_id: i32,
        what: &str,
        op: impl FnOnce(&RdMockCluster<'static, DefaultProducerContext>) -> KafkaResult<()>,
    ) -> PyResult<()> {
        if !(1..=self.num_brokers).contains(&broker_id) {
            return Err(invalid(format!(
                "no broker {broker_id}: this cluster's brokers are numbered 1 to {}",
                self.num_brokers
            ))
            .into());
        }
        op(&self.get()?.0)
            .map_err(|e| errors::from_rdkafka(&e, &format!("{what} broker {broker_id}")))?;
        Ok(())
    }
}

fn invalid(message: String) -> Error {
    Error::Kafka {
        code: Code::InvalidArgument,
        message,
        fatal: false,
    }
}

fn read_topic(bootstrap: &str, topic: &str, timeout: Option<Duration>) -> Result<Vec<Row>> {
    let deadline = Deadline::after(timeout);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "kafkify-testing-read-back")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("allow.auto.create.topics", "false")
        .create()
        .map_err(|e| errors::from_rdkafka(&e, "creating a read-back consumer"))?;
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout::rd(timeout))
        .map_err(|e| errors::from_rdkafka(&e, &format!("metadata for topic {topic:?}")))?;
    let partitions: Vec<i32> = match metadata.topics().iter().find(|t| t.name() == topic) {
        Some(t) if t.error().is_none() => t.partitions().iter().map(|p| p.id()).collect(),
        _ => {
            return Err(Error::kafka(
                Code::UnknownTopicOrPartition,
                format!("reading back topic {topic:?}: the mock cluster has no such topic"),
            ))
        }
    };
    let mut assignment = TopicPartitionList::new();
    for &p in &partitions {
        assignment
            .add_partition_offset(topic, p, Offset::Beginning)
            .map_err(|e| errors::from_rdkafka(&e, "assigning partitions"))?;
    }
    consumer
        .assign(&assignment)
        .map_err(|e| errors::from_rdkafka(&e, "assigning partitions"))?;
    let mut at_end: HashSet<i32> = HashSet::new();
    let mut rows = Vec::new();
    while at_end.len() < partitions.len() {
        if deadline.passed() {
            return Err(Error::Timeout(format!(
                "reading back topic {topic:?}: {} of {} partitions read to the end within {} \
                 (is a broker down?)",
                at_end.len(),
                partitions.len(),
                deadline.describe()
            )));
        }
        match consumer.poll(deadline.window(Duration::from_millis(100))) {
            None => {}
            Some(Err(RdError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            Some(Err(e)) => return Err(errors::from_rdkafka(&e, "reading back")),
            Some(Ok(msg)) => {
                at_end.remove(&msg.partition());
                let headers = msg
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|hdr| (hdr.key.to_owned(), hdr.value.map(<[u8]>::to_vec)))
                            .collect()
                    })
                    .unwrap_or_default();
                rows.push((
                    msg.partition(),
                    msg.offset(),
                    msg.timestamp().to_millis().unwrap_or(-1),
                    msg.key().map(<[u8]>::to_vec),
                    msg.payload().map(<[u8]>::to_vec),
                    headers,
                ));
            }
        }
    }
    rows.sort_by_key(|r| (r.0, r.1));
    Ok(rows)
}

/// Protocol request names (Kafka's), as `push_request_errors` accepts them.
const APIS: &[(&str, Api)] = &[
    ("Produce", Api::Produce),
    ("Fetch", Api::Fetch),
    ("ListOffsets", Api::ListOffsets),
    ("Metadata", Api::Metadata),
    ("OffsetCommit", Api::OffsetCommit),
    ("OffsetFetch", Api::OffsetFetch),
    ("FindCoordinator", Api::FindCoordinator),
    ("JoinGroup", Api::JoinGroup),
    ("Heartbeat", Api::Heartbeat),
    ("LeaveGroup", Api::LeaveGroup),
    ("SyncGroup", Api::SyncGroup),
    ("DescribeGroups", Api::DescribeGroups),
    ("ListGroups", Api::ListGroups),
    ("SaslHandshake", Api::SaslHandshake),
    ("ApiVersion", Api::ApiVersion),
    ("CreateTopics", Api::CreateTopics),
    ("DeleteTopics", Api::DeleteTopics),
    ("InitProducerId", Api::InitProducerId),
    ("AddPartitionsToTxn", Api::AddPartitionsToTxn),
    ("AddOffsetsToTxn", Api::AddOffsetsToTxn),
    ("EndTxn", Api::EndTxn),
    ("TxnOffsetCommit", Api::TxnOffsetCommit),
    ("SaslAuthenticate", Api::SaslAuthenticate),
];

/// Case, `_` and `-` do not matter: "NOT_LEADER_OR_FOLLOWER" = "NotLeaderOrFollower".
fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn api_key(name: &str) -> Result<Api> {
    let wanted = normalize(name);
    APIS.iter()
        .find(|(n, _)| normalize(n) == wanted)
        .map(|(_, api)| *api)
        .ok_or_else(|| {
            let names: Vec<&str> = APIS.iter().map(|(n, _)| *n).collect();
            invalid(format!(
                "unknown request type {name:?}{}; known: {}",
                did_you_mean(name, names.iter().copied()),
                names.join(", ")
            ))
        })
}

/// librdkafka's error codes with their names (e.g. "NOT_LEADER_FOR_PARTITION",
/// "_MSG_TIMED_OUT"), broker errors first so they win over local ones.
fn error_names() -> Vec<(i32, String)> {
    let mut out: Vec<(i32, String)> = rd::error_descriptions()
        .into_iter()
        .map(|(code, name, _)| (code, name))
        .collect();
    out.sort_by_key(|(code, _)| (*code < 0, code.abs()));
    out
}

/// Kafka's newer names for codes librdkafka still calls by their old ones.
const ALIASES: &[(&str, i32)] = &[("NOT_LEADER_OR_FOLLOWER", 6)];

fn error_code(value: &Bound<'_, PyAny>) -> Result<RDKafkaRespErr> {
    let code = if let Ok(code) = value.extract::<i32>() {
        code
    } else if let Ok(name) = value.extract::<String>() {
        let wanted = normalize(name.trim_start_matches("RD_KAFKA_RESP_ERR_"));
        let names = error_names();
        ALIASES
            .iter()
            .map(|(n, c)| (*c, (*n).to_owned()))
            .chain(names.iter().cloned())
            .chain(names.iter().filter_map(|(c, _)| {
                let camel = format!("{:?}", Code::from(RDKafkaRespErr::try_from(*c).ok()?));
                Some((*c, camel))
            }))
            .find(|(_, n)| normalize(n) == wanted)
            .map(|(c, _)| c)
            .ok_or_else(|| {
                invalid(format!(
                    "unknown Kafka error name {name:?}{}",
                    did_you_mean(&name, names.iter().map(|(_, n)| n.as_str()))
                ))
            })?
    } else {
        return Err(invalid(format!(
            "request errors are names or codes (str or int), got {}",
            crate::serialize::json::type_name(value)
        )));
    };
    RDKafkaRespErr::try_from(code).map_err(|_| invalid(format!("{code} is not a Kafka error code")))
}

fn did_you_mean<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    suggest::closest(name, candidates, normalize)
        .map(|c| format!(" (did you mean {c:?}?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_names_ignore_case_and_separators() {
        assert_eq!(api_key("Produce").unwrap(), Api::Produce);
        assert_eq!(api_key("init_producer_id").unwrap(), Api::InitProducerId);
        let err = api_key("Produse").unwrap_err().to_string();
        assert!(err.contains("did you mean \"Produce\""), "{err}");
    }

    #[test]
    fn error_names_come_from_librdkafka() {
        let names = error_names();
        let find = |n: &str| names.iter().find(|(_, name)| name == n).map(|(c, _)| *c);
        assert_eq!(find("NOT_LEADER_FOR_PARTITION"), Some(6));
        assert_eq!(find("_MSG_TIMED_OUT"), Some(-192));
    }

    #[test]
    fn normalize_makes_snake_and_camel_case_equal() {
        assert_eq!(
            normalize("NOT_LEADER_OR_FOLLOWER"),
            normalize("NotLeaderOrFollower")
        );
    }
}
