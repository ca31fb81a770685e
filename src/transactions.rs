//! Transactions: `init_transactions`, `begin/commit/abort_transaction`,
//! `send_offsets_to_transaction`, and the `with producer.transaction():` guard.
//!
//! Every call is librdkafka's own transactional API, run with the GIL released.
//! Errors keep librdkafka's verdict on what the caller may do next: `retriable`
//! (call again), `txn_requires_abort` (abort, then start over) and `fatal` (the
//! producer is unusable), set on the raised `KafkaError`.

use std::ffi::CString;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use rdkafka::error::KafkaError as RdError;
use rdkafka::producer::Producer as _;
use rdkafka::types::RDKafkaErrorCode as Code;
use rdkafka::util::Timeout;
use rdkafka::TopicPartitionList;

use crate::client::Client;
use crate::delivery::RdProducer;
use crate::errors::Error;
use crate::rd;
use crate::timeout;

/// Clients whose `init_transactions` succeeded, so `transaction()` runs it once.
static INITIALIZED: Mutex<Vec<Weak<Client>>> = Mutex::new(Vec::new());

fn txn_error(err: &RdError, what: &str) -> Error {
    match err {
        RdError::Transaction(e) => Error::Txn {
            code: e.code(),
            message: format!("{what}: {}", e.string()),
            fatal: e.is_fatal(),
            retriable: e.is_retriable(),
            txn_requires_abort: e.txn_requires_abort(),
        },
        other => crate::errors::from_rdkafka(other, what),
    }
}

/// A raw librdkafka error (from calls the rdkafka crate does not wrap) → ours.
fn raw_error(e: rd::RawError, what: &str) -> Error {
    Error::Txn {
        code: e.code,
        message: format!("{what}: {}", e.text),
        fatal: e.fatal,
        retriable: e.retriable,
        txn_requires_abort: e.txn_requires_abort,
    }
}

/// A wait longer than librdkafka's `int` milliseconds hold is no limit there
/// (the rdkafka crate's own cast wrapped 3e6 s to a negative wait, see `timeout`).
fn timeout_of(t: Option<Duration>) -> Timeout {
    timeout::rd(t)
}

/// The librdkafka handle of a transactional producer (or why there is none).
fn transactional(client: &Client) -> Result<Arc<RdProducer>, Error> {
    let producer = client.with_producer(|p| Ok(p.clone()))?;
    if client.properties.get("transactional.id").is_none() {
        return Err(Error::Kafka {
            code: Code::State,
            message: "transactions need a producer created with transactional_id=... \
                      (librdkafka's transactional.id)"
                .into(),
            fatal: false,
        });
    }
    Ok(producer)
}

/// Run one transactional call with the GIL released.
fn call(
    py: Python<'_>,
    client: &Client,
    what: &str,
    f: impl FnOnce(&RdProducer) -> Result<(), Error> + Send,
) -> PyResult<()> {
    let producer = transactional(client).map_err(|e| e.to_py(py))?;
    py.detach(|| f(&producer)).map_err(|mut e| {
        if let Error::Kafka { message, .. } | Error::Txn { message, .. } = &mut e {
            if !message.starts_with(what) {
                *message = format!("{what}: {message}");
            }
        }
        e.to_py(py)
    })
}

fn is_initialized(client: &Arc<Client>) -> bool {
    let list = INITIALIZED.lock().unwrap_or_else(|p| p.into_inner());
    list.iter()
        .any(|w| w.upgrade().is_some_and(|c| Arc::ptr_eq(&c, client)))
}

/// `init_transactions(timeout)`: register the transactional id with the cluster
/// (fencing older producers with the same id). Once per producer.
pub fn init(py: Python<'_>, client: &Arc<Client>, timeout: Option<Duration>) -> PyResult<()> {
    call(py, client, "init_transactions", |p| {
        p.init_transactions(timeout_of(timeout))
            .map_err(|e| txn_error(&e, "init_transactions"))
    })?;
    let mut list = INITIALIZED.lock().unwrap_or_else(|p| p.into_inner());
    list.retain(|w| w.strong_count() > 0);
    list.push(Arc::downgrade(client));
    Ok(())
}

pub fn begin(py: Python<'_>, client: &Client) -> PyResult<()> {
    call(py, client, "begin_transaction", |p| {
        p.begin_transaction()
            .map_err(|e| txn_error(&e, "begin_transaction"))
    })
}

/// Flushes the transaction's records, then commits them.
pub fn commit(py: Python<'_>, client: &Client, timeout: Option<Duration>) -> PyResult<()> {
    call(py, client, "commit_transaction", |p| {
        p.commit_transaction(timeout_of(timeout))
            .map_err(|e| txn_error(&e, "commit_transaction"))
    })
}

/// Purges the transaction's undelivered records (each reported as failed), then aborts.
pub fn abort(py: Python<'_>, client: &Client, timeout: Option<Duration>) -> PyResult<()> {
    call(py, client, "abort_transaction", |p| {
        let started = Instant::now();
        settle_before_abort(p, timeout.map_or(ABORT_SETTLE, |t| t.min(ABORT_SETTLE)));
        let left = timeout.map(|t| t.saturating_sub(started.elapsed()));
        p.abort_transaction(timeout_of(left))
            .map_err(|e| txn_error(&e, "abort_transaction"))
    })
}

/// The longest an abort waits for a report before it aborts (see `settle_before_abort`).
const ABORT_SETTLE: Duration = Duration::from_secs(5);

/// librdkafka's issue #4849: an abort right after the transaction's first records
/// were sent can fail, fatally, with INVALID_TXN_STATE. librdkafka counts a
/// partition's AddPartitionsToTxn as done when it *sends* it, so its EndTxn(abort)
/// can reach the coordinator while the transaction is still empty there. Seen here
/// on Kafka 4.1 in `test_compat_aiokafka.py::test_docs_transaction_example`, and
/// in 38 of 60 aborts sent 0-9 ms after the record that followed a commit
/// (`test_an_abort_right_after_a_commit_does_not_fail_the_producer`).
/// A record's delivery report comes only after its partition's registration was
/// answered, so while records are in flight the abort first waits for the next
/// report (one round trip; at most `limit`), then aborts as librdkafka would.
fn settle_before_abort(p: &RdProducer, limit: Duration) {
    let observer = p.context().observer();
    let before = observer.reported();
    let deadline = Instant::now() + limit;
    while observer.in_flight() > 0 && observer.reported() == before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Consumer group metadata: a group id (str), or the serialized form librdkafka
/// writes (`bytes`, what confluent-kafka's `consumer_group_metadata()` holds).
fn group_metadata(group: &Bound<'_, PyAny>) -> Result<rd::GroupMetadata, Error> {
    if let Ok(id) = group.extract::<String>() {
        let id = CString::new(id)
            .map_err(|_| Error::Config("group id contains a NUL character".into()))?;
        return Ok(rd::GroupMetadata::new(&id));
    }
    if let Ok(bytes) = group.cast::<PyBytes>() {
        return rd::GroupMetadata::read(bytes.as_bytes())
            .map_err(|e| raw_error(e, "consumer group metadata"));
    }
    Err(Error::Config(format!(
        "group metadata must be a group id (str) or serialized consumer group metadata (bytes), got {}",
        crate::serialize::json::type_name(group)
    )))
}

/// One consumer offset to commit in a transaction (see `send_offsets`).
struct OffsetEntry {
    topic: String,
    partition: i32,
    offset: i64,
    metadata: Option<String>,
    leader_epoch: Option<i32>,
}

impl OffsetEntry {
    /// A `(topic, partition, offset[, metadata[, leader_epoch]])` tuple, or None
    /// (also for a topic or metadata with a NUL character, which C cannot carry).
    fn extract(item: &Bound<'_, PyAny>) -> Option<OffsetEntry> {
        let t = item.cast::<PyTuple>().ok()?;
        if !(3..=5).contains(&t.len()) {
            return None;
        }
        let optional = |i: usize| t.get_item(i).ok().filter(|v| !v.is_none());
        let entry = OffsetEntry {
            topic: t.get_item(0).ok()?.extract().ok()?,
            partition: t.get_item(1).ok()?.extract().ok()?,
            offset: t.get_item(2).ok()?.extract().ok()?,
            metadata: optional(3).map(|v| v.extract()).transpose().ok()?,
            leader_epoch: optional(4).map(|v| v.extract()).transpose().ok()?,
        };
        let nul = |s: &str| s.contains('\0');
        (!nul(&entry.topic) && !entry.metadata.as_deref().is_some_and(nul)).then_some(entry)
    }

    fn add_to(&self, list: &mut TopicPartitionList) -> Result<(), RdError> {
        let offset = rdkafka::Offset::Offset(self.offset);
        list.add_partition_offset(&self.topic, self.partition, offset)?;
        if let (Some(metadata), Some(mut elem)) = (
            &self.metadata,
            list.find_partition(&self.topic, self.partition),
        ) {
            elem.set_metadata(metadata);
        }
        let epoch = self.leader_epoch.filter(|e| *e >= 0);
        // `extract` refused topics with a NUL, so the CString is always made.
        if let (Some(epoch), Ok(topic)) = (epoch, CString::new(self.topic.as_str())) {
            rd::set_leader_epoch(list, &topic, self.partition, epoch);
        }
        Ok(())
    }
}

/// `send_offsets_to_transaction(offsets, group, timeout)`: commit a consumer's
/// offsets as part of the current transaction. `offsets` are
/// `(topic, partition, offset[, metadata[, leader_epoch]])` tuples: the offset of the
/// next record to read, the commit's metadata string and the leader epoch of the
/// record before it (None: none / unknown), as kafka-python's `OffsetAndMetadata`.
pub fn send_offsets(
    py: Python<'_>,
    client: &Client,
    offsets: &Bound<'_, PyAny>,
    group: &Bound<'_, PyAny>,
    timeout: Option<Duration>,
) -> PyResult<()> {
    let what = "send_offsets_to_transaction";
    let mut list = TopicPartitionList::new();
    for item in crate::serialize::iterate(offsets, "offsets")? {
        let item = item?;
        let offset = OffsetEntry::extract(&item).ok_or_else(|| {
            PyErr::from(Error::Config(format!(
                "{what}: offsets must be (topic, partition, offset[, metadata[, leader_epoch]]) \
                 tuples, got {}",
                item.repr().map(|r| r.to_string()).unwrap_or_default()
            )))
        })?;
        offset
            .add_to(&mut list)
            .map_err(|e| txn_error(&e, what).to_py(py))?;
    }
    let cgm = group_metadata(group).map_err(|e| e.to_py(py))?;
    let ms = timeout::rd_millis(timeout);
    call(py, client, what, |p| {
        rd::send_offsets_to_transaction(p, &list, &cgm, ms).map_err(|e| raw_error(e, what))
    })
}

/// `with producer.transaction(): ...` — begins on entry (running
/// `init_transactions` first if this producer never did), commits on a clean
/// exit, aborts when the block raises (the exception propagates).
#[pyclass(module = "kafkify._kafkify", frozen)]
pub struct Transaction {
    client: Arc<Client>,
    timeout: Option<Duration>,
}

impl Transaction {
    pub fn new(client: Arc<Client>, timeout: Option<Duration>) -> Self {
        Transaction { client, timeout }
    }
}

#[pymethods]
impl Transaction {
    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        let py = slf.py();
        let me = slf.get();
        if !is_initialized(&me.client) {
            init(py, &me.client, me.timeout)?;
        }
        begin(py, &me.client)?;
        Ok(slf)
    }

    #[pyo3(signature = (*exc))]
    fn __exit__(&self, py: Python<'_>, exc: &Bound<'_, PyTuple>) -> PyResult<bool> {
        let raised = exc.len() > 0 && !exc.get_item(0)?.is_none();
        if raised {
            abort(py, &self.client, self.timeout)?;
            return Ok(false);
        }
        if let Err(err) = commit(py, &self.client, self.timeout) {
            let requires_abort = err
                .value(py)
                .getattr("txn_requires_abort")
                .and_then(|v| v.is_truthy())
                .unwrap_or(false);
            if requires_abort {
                // Leave the producer ready for the next transaction; report the commit error.
                let _ = abort(py, &self.client, self.timeout);
            }
            return Err(err);
        }
        Ok(false)
    }
}
