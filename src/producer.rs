//! The `Producer` Python class: argument handling, encoding, and the three ways
//! to wait for a delivery (block, await, callback).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType};
use rdkafka::error::KafkaError as RdError;
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::Producer as _;
use rdkafka::types::RDKafkaErrorCode as Code;

use crate::aio::{self, expire_fn, run_in_thread, running_loop};
use crate::client::{self, Client, SIGNAL_CHECK_INTERVAL};
use crate::cluster;
use crate::config::{self, Value};
use crate::delivery::batch::BatchLoop;
use crate::delivery::{Batch, Completion, Outcome, Wait, Waiter};
use crate::errors::{self, Error, PyErrOrError, Result};
use crate::metadata::RecordMetadata;
use crate::observe;
use crate::queue::{self, Fields};
use crate::serialize::{self, encode_headers, Encoder, Payload};
use crate::timeout::{self, Deadline, Unit};
use crate::transactions;

/// kafka-python's `max_block_ms` default: how long `produce` waits for queue room.
const DEFAULT_MAX_BLOCK: Duration = Duration::from_secs(60);

/// A Kafka producer backed by librdkafka. Thread-safe: share one per process.
#[pyclass(module = "kafkify._kafkify", frozen, weakref)]
pub struct Producer {
    client: Arc<Client>,
    value_encoder: Encoder,
    key_encoder: Encoder,
    /// How long a record waits for room in a full queue (None: no limit).
    max_block: Option<Duration>,
}

/// How long a producer nobody closed (garbage-collected, or open at interpreter
/// exit) keeps trying to deliver its records before they are reported failed.
/// Long enough for a healthy cluster (a round trip, or a leader election of a few
/// seconds); short enough that a container stopped with `docker stop` (10 s before
/// SIGKILL) or Kubernetes (30 s) still ends its process cleanly, and far below
/// `delivery.timeout.ms` (300 s), which a dead broker would make every exit wait.
const DEFAULT_EXIT_TIMEOUT: Duration = Duration::from_secs(5);

/// The `max_block_ms=` and `exit_timeout_ms=` arguments.
struct Limits<'a, 'py> {
    max_block_ms: Option<&'a Bound<'py, PyAny>>,
    exit_timeout_ms: Option<&'a Bound<'py, PyAny>>,
}

/// A non-negative duration option given in milliseconds (inf or too large: no
/// limit, `Duration::MAX`; the rules are `timeout`'s).
fn millis_option(
    name: &str,
    value: Option<&Bound<'_, PyAny>>,
    default: Duration,
) -> Result<Duration> {
    match value.filter(|v| !v.is_none()) {
        Some(v) => Ok(timeout::parse(name, v, Unit::Millis)?.unwrap_or(Duration::MAX)),
        None => Ok(default),
    }
}

/// The `value_serializer=`, `key_serializer=` and `json_default=` arguments.
struct Serializers<'a, 'py> {
    value: Option<&'a Bound<'py, PyAny>>,
    key: Option<&'a Bound<'py, PyAny>>,
    json_default: Option<&'a Bound<'py, PyAny>>,
}

/// What to do when librdkafka's queue is full.
#[derive(Clone, Copy)]
pub(crate) enum WhenFull {
    /// Wait for room (GIL released, Ctrl+C checked) for up to `max_block_ms`, then
    /// fail with QueueFullError, and never past the call's deadline (then
    /// KafkaTimeoutError): for callers that may block (`send`, `produce`,
    /// `send_batch`, whose records all share the call's one deadline).
    Wait(Deadline),
    /// Join the overflow line (`queue::Overflow`): for callers on an event loop.
    Defer,
}

/// A record whose key, value and headers are encoded, ready for librdkafka.
struct Prepared<'a, 'py> {
    topic: &'a str,
    value: Payload<'py>,
    key: Payload<'py>,
    headers: Option<OwnedHeaders>,
    partition: Option<i32>,
    timestamp_ms: Option<i64>,
}

impl Prepared<'_, '_> {
    fn fields(&self) -> Fields<'_> {
        Fields {
            topic: self.topic,
            value: self.value.as_slice(),
            key: self.key.as_slice(),
            partition: self.partition,
            timestamp_ms: self.timestamp_ms,
        }
    }
}

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

/// Options that belong to kafkify itself, not to librdkafka.
const OWN_OPTIONS: &[&str] = &[
    "value_serializer",
    "key_serializer",
    "max_block_ms",
    "exit_timeout_ms",
    "config",
    "on_error",
    "on_stats",
    "log_deliveries",
];

#[pymethods]
impl Producer {
    #[new]
    #[pyo3(signature = (bootstrap_servers=None, *, config=None, value_serializer=None, key_serializer=None, json_default=None, max_block_ms=None, exit_timeout_ms=None, **options))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        bootstrap_servers: Option<&Bound<'_, PyAny>>,
        config: Option<&Bound<'_, PyDict>>,
        value_serializer: Option<&Bound<'_, PyAny>>,
        key_serializer: Option<&Bound<'_, PyAny>>,
        json_default: Option<&Bound<'_, PyAny>>,
        max_block_ms: Option<&Bound<'_, PyAny>>,
        exit_timeout_ms: Option<&Bound<'_, PyAny>>,
        options: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let hooks = observe::Hooks::take(options)?;
        let mut named = Vec::new();
        if let Some(servers) = bootstrap_servers {
            named.push((
                "bootstrap_servers".to_string(),
                to_value("bootstrap_servers", servers)?,
            ));
        }
        if let Some(options) = options {
            named.extend(to_values(options)?);
        }
        let raw = match config {
            Some(c) => to_values(c)?,
            None => Vec::new(),
        };
        let serializers = Serializers {
            value: value_serializer,
            key: key_serializer,
            json_default,
        };
        let limits = Limits {
            max_block_ms,
            exit_timeout_ms,
        };
        Ok(Self::build(&named, &raw, serializers, limits, hooks)?)
    }

    /// Create a producer from one mapping of options: snake_case names, dotted
    /// librdkafka properties, or both (e.g. a parsed config file).
    ///
    /// Raises:
    ///     ConfigError: an unknown name (with a suggestion) or an invalid value.
    #[classmethod]
    fn from_config(_cls: &Bound<'_, PyType>, mapping: &Bound<'_, PyAny>) -> PyResult<Self> {
        let dict = PyDict::new(mapping.py());
        dict.call_method1("update", (mapping,)).map_err(|e| {
            if !e.is_instance_of::<pyo3::exceptions::PyTypeError>(mapping.py()) {
                return e;
            }
            // dict.update says "'int' object is not iterable": name the argument.
            pyo3::exceptions::PyTypeError::new_err(format!(
                "from_config: mapping must be a mapping of option names to values, not {}",
                crate::serialize::json::type_name(mapping)
            ))
        })?;
        let take = |name: &str| -> PyResult<Option<Bound<'_, PyAny>>> {
            let v = dict.get_item(name)?;
            if v.is_some() {
                dict.del_item(name)?;
            }
            Ok(v)
        };
        let value_serializer = take("value_serializer")?;
        let key_serializer = take("key_serializer")?;
        let json_default = take("json_default")?;
        let max_block_ms = take("max_block_ms")?;
        let exit_timeout_ms = take("exit_timeout_ms")?;
        let hooks = observe::Hooks::take(Some(&dict))?;
        let named = to_values(&dict)?;
        let serializers = Serializers {
            value: value_serializer.as_ref(),
            key: key_serializer.as_ref(),
            json_default: json_default.as_ref(),
        };
        let limits = Limits {
            max_block_ms: max_block_ms.as_ref(),
            exit_timeout_ms: exit_timeout_ms.as_ref(),
        };
        Ok(Self::build(&named, &[], serializers, limits, hooks)?)
    }

    /// Send one record and block until the broker acknowledges it.
    ///
    /// The GIL is released while waiting; Ctrl+C interrupts the wait. The wait does
    /// not pay ``linger_ms``: it costs one broker round trip.
    ///
    /// Returns:
    ///     RecordMetadata: where the record landed.
    /// Raises:
    ///     KafkaTimeoutError: no acknowledgement (or no room in a full queue) within
    ///         ``timeout`` seconds (an acknowledged record may still come later).
    ///     SerializationError: the value, key or headers cannot be encoded.
    ///     InvalidTopicError: the topic name is not valid.
    ///     MessageSizeTooLargeError: the record exceeds ``max_request_size``.
    ///     ProducerClosedError: the producer is closed.
    ///     KafkaError: the broker rejected the record (``.code``, ``.retriable``).
    #[pyo3(signature = (topic, value=None, key=None, *, headers=None, partition=None, timestamp_ms=None, timeout=10.0))]
    #[allow(clippy::too_many_arguments)]
    fn send<'py>(
        &self,
        py: Python<'py>,
        topic: &str,
        value: Option<&Bound<'py, PyAny>>,
        key: Option<&Bound<'py, PyAny>>,
        headers: Option<&Bound<'py, PyAny>>,
        partition: Option<i32>,
        timestamp_ms: Option<i64>,
        timeout: Option<f64>,
    ) -> PyResult<RecordMetadata> {
        let deadline = Deadline::after(timeout::seconds("timeout", timeout)?);
        let record = Record {
            topic,
            value,
            key,
            headers,
            partition,
            timestamp_ms,
        };
        let waiter = Arc::new(Waiter::default());
        self.enqueue(
            py,
            &record,
            Completion::Blocking(waiter.clone()),
            WhenFull::Wait(deadline),
        )?;
        let outcome = self.wait_blocking(py, &*waiter, deadline)?;
        into_metadata(outcome)
    }

    /// Send one record; returns an awaitable resolving to its ``RecordMetadata``.
    ///
    /// Never blocks the event loop. The record does not wait out ``linger_ms`` once
    /// the loop is idle: records sent in one loop iteration share a request, sent
    /// as soon as the loop has run the tasks that were ready. When the local queue
    /// is full the record waits for room in an overflow line served by a kafkify
    /// thread (in order, up to ``max_block_ms``). Cancelling the awaiting task is
    /// safe (the record may still be delivered). Usable from any thread's running loop.
    ///
    /// Raises (when awaited): the same errors as ``send``, and QueueFullError when
    /// the queue stayed full for ``max_block_ms``. Raises at once:
    ///     RuntimeError: no running event loop in this thread.
    ///     SerializationError, InvalidTopicError, ProducerClosedError.
    #[pyo3(signature = (topic, value=None, key=None, *, headers=None, partition=None, timestamp_ms=None, timeout=None))]
    #[allow(clippy::too_many_arguments)]
    fn send_async<'py>(
        &self,
        py: Python<'py>,
        topic: &str,
        value: Option<&Bound<'py, PyAny>>,
        key: Option<&Bound<'py, PyAny>>,
        headers: Option<&Bound<'py, PyAny>>,
        partition: Option<i32>,
        timestamp_ms: Option<i64>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let timeout = timeout::seconds("timeout", timeout)?;
        let event_loop = running_loop(py)?;
        let future = event_loop.call_method0(pyo3::intern!(py, "create_future"))?;
        let record = Record {
            topic,
            value,
            key,
            headers,
            partition,
            timestamp_ms,
        };
        let completion = Completion::Future {
            waker: aio::for_loop(&event_loop)?,
            future: future.clone().unbind(),
        };
        self.enqueue(py, &record, completion, WhenFull::Defer)?;
        self.expedite(&event_loop)?;
        if let Some(t) = timeout {
            let error = Error::Timeout(format!(
                "no acknowledgement for a record to topic {topic:?} within {} (it may still be delivered)",
                timeout::describe(Some(t))
            ));
            event_loop.call_method1(
                pyo3::intern!(py, "call_later"),
                (
                    t.as_secs_f64(),
                    expire_fn(py)?,
                    &future,
                    error.to_py(py).into_value(py),
                ),
            )?;
        }
        Ok(future)
    }

    /// Fire-and-forget: queue one record and return at once.
    ///
    /// ``on_delivery(err, metadata)`` is called exactly once per record, from a
    /// kafkify thread, without the caller ever calling ``poll()``; ``err`` is None
    /// on success. Without a callback, failures are logged on the ``kafkify`` logger.
    /// When the local queue is full, waits up to ``max_block_ms`` for room.
    ///
    /// Raises:
    ///     QueueFullError: still no room after ``max_block_ms``.
    ///     KeyboardInterrupt: Ctrl+C while waiting for room (the record was not queued).
    ///     SerializationError, InvalidTopicError, ProducerClosedError.
    #[pyo3(signature = (topic, value=None, key=None, *, headers=None, partition=None, timestamp_ms=None, on_delivery=None))]
    #[allow(clippy::too_many_arguments)]
    fn produce<'py>(
        &self,
        py: Python<'py>,
        topic: &str,
        value: Option<&Bound<'py, PyAny>>,
        key: Option<&Bound<'py, PyAny>>,
        headers: Option<&Bound<'py, PyAny>>,
        partition: Option<i32>,
        timestamp_ms: Option<i64>,
        on_delivery: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<()> {
        let completion = match on_delivery.filter(|c| !c.is_none()) {
            Some(cb) if cb.is_callable() => Completion::Callback(cb.clone().unbind()),
            Some(cb) => {
                return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                    "on_delivery must be callable, not {}",
                    crate::serialize::json::type_name(cb)
                )))
            }
            None => Completion::Logged,
        };
        let record = Record {
            topic,
            value,
            key,
            headers,
            partition,
            timestamp_ms,
        };
        Ok(self.enqueue(py, &record, completion, self.when_full())?)
    }

    /// Send many records to one topic with one call and one wait.
    ///
    /// Every value (and key) is encoded before anything is queued; then all are
    /// queued and the call blocks (GIL released) until each has been acknowledged
    /// or has failed. ``headers`` and ``partition`` apply to every record.
    ///
    /// Returns:
    ///     list: one entry per value, in input order: its ``RecordMetadata``, or the
    ///     ``KafkaError`` that record failed with.
    /// Raises:
    ///     SerializationError: a value or key cannot be encoded (``values[i]: ...``);
    ///         nothing was queued.
    ///     KafkaTimeoutError: not every record reported within ``timeout`` seconds
    ///         (the whole call's limit; records still waiting for queue room then
    ///         are not sent, and each is reported failed).
    ///     KafkaError: with ``raise_on_error=True``, the first failure in input order.
    ///     InvalidTopicError, ProducerClosedError.
    #[pyo3(signature = (topic, values, keys=None, *, headers=None, partition=None, timeout=10.0, raise_on_error=false))]
    #[allow(clippy::too_many_arguments)]
    fn send_batch<'py>(
        &self,
        py: Python<'py>,
        topic: &str,
        values: &Bound<'py, PyAny>,
        keys: Option<&Bound<'py, PyAny>>,
        headers: Option<&Bound<'py, PyAny>>,
        partition: Option<i32>,
        timeout: Option<f64>,
        raise_on_error: bool,
    ) -> PyResult<Py<PyAny>> {
        // One deadline for the whole call: the waits for room and for the reports.
        let deadline = Deadline::after(timeout::seconds("timeout", timeout)?);
        let make = |n| Batch::new(topic, n, None, raise_on_error);
        let batch = self.enqueue_batch(
            py,
            topic,
            values,
            keys,
            headers,
            partition,
            make,
            WhenFull::Wait(deadline),
        )?;
        let complete = self.wait_blocking(py, &*batch, deadline)?;
        match batch.result(py, complete) {
            (true, list) => Ok(list),
            (false, exc) => Err(PyErr::from_value(exc.into_bound(py))),
        }
    }

    /// ``send_batch`` for asyncio: returns an awaitable resolving to the same list.
    ///
    /// Never blocks the event loop: records that find the local queue full wait
    /// for room in the overflow line (see ``send_async``).
    ///
    /// Raises at once: RuntimeError (no running loop), SerializationError,
    /// InvalidTopicError, ProducerClosedError. When awaited, with
    /// ``raise_on_error=True``: the first failure in input order.
    #[pyo3(signature = (topic, values, keys=None, *, headers=None, partition=None, raise_on_error=false))]
    #[allow(clippy::too_many_arguments)]
    fn send_batch_async<'py>(
        &self,
        py: Python<'py>,
        topic: &str,
        values: &Bound<'py, PyAny>,
        keys: Option<&Bound<'py, PyAny>>,
        headers: Option<&Bound<'py, PyAny>>,
        partition: Option<i32>,
        raise_on_error: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let event_loop = running_loop(py)?;
        let future = event_loop.call_method0(pyo3::intern!(py, "create_future"))?;
        let waker: Arc<dyn BatchLoop> = aio::for_loop(&event_loop)?;
        let target = (waker, future.clone().unbind());
        let make = |n| Batch::new(topic, n, Some(target), raise_on_error);
        let batch = self.enqueue_batch(
            py,
            topic,
            values,
            keys,
            headers,
            partition,
            make,
            WhenFull::Defer,
        )?;
        self.expedite(&event_loop)?;
        if batch.is_empty() {
            future.call_method1("set_result", (pyo3::types::PyList::empty(py),))?;
        }
        Ok(future)
    }

    /// Wait until every queued record is delivered or has failed.
    ///
    /// Raises:
    ///     KafkaTimeoutError: records are still queued after ``timeout`` seconds.
    ///     KeyboardInterrupt: Ctrl+C during the wait (records stay queued).
    #[pyo3(signature = (timeout=None))]
    fn flush(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let timeout = timeout::seconds("timeout", timeout)?;
        let left = self.client.flush(py, timeout)?;
        if left > 0 {
            return Err(Error::Timeout(format!(
                "{left} record(s) still undelivered after flush timeout"
            ))
            .into());
        }
        Ok(())
    }

    /// Flush, then release the connection and threads. Safe to call twice.
    ///
    /// Raises:
    ///     KafkaTimeoutError: records were still undelivered after ``timeout``
    ///         seconds; they were purged and each caller was told it failed.
    #[pyo3(signature = (timeout=None))]
    fn close(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        // Checked before anything is closed: a bad timeout leaves the producer open.
        let timeout = timeout::seconds("timeout", timeout)?;
        self.close_within(py, timeout)
    }

    /// Check that the cluster answers (aiokafka-style lifecycle). Awaitable.
    ///
    /// Raises (when awaited):
    ///     NoBrokersAvailable: no broker answered within ``timeout`` seconds.
    #[pyo3(signature = (timeout=10.0))]
    fn start<'py>(slf: &Bound<'py, Self>, timeout: f64) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let timeout = timeout::seconds("timeout", Some(timeout))?;
        let client = slf.get().client.clone();
        let me = slf.clone().into_any().unbind();
        run_in_thread(py, move || {
            // Not under the client's lock: close() must not wait for this wait.
            let producer = client.producer()?;
            cluster::fetch_metadata(&producer, None, timeout, |e| no_brokers(e, timeout))?;
            Ok(me)
        })
    }

    /// Flush and close without blocking the event loop. Awaitable.
    #[pyo3(signature = (timeout=None))]
    fn stop<'py>(slf: &Bound<'py, Self>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let timeout = timeout::seconds("timeout", timeout)?;
        let me = slf.clone().unbind();
        let py = slf.py();
        run_in_thread(py, move || {
            Python::attach(|py| me.get().close_within(py, timeout).map(|_| py.None()))
                .map_err(PyErrOrError::Py)
        })
    }

    /// The partition ids of ``topic`` (fetched from the cluster).
    ///
    /// Raises:
    ///     KafkaTimeoutError: no metadata within ``max_block_ms``.
    ///     UnknownTopicOrPartitionError: the broker reports an error for the topic.
    fn partitions_for(&self, py: Python<'_>, topic: &str) -> PyResult<Vec<i32>> {
        validate_topic(topic)?;
        let timeout = self.max_block;
        // Not under the client's lock: close() must not wait for this wait.
        let producer = self.client.producer()?;
        let ids = py.detach(move || {
            let md = cluster::fetch_metadata(&producer, Some(topic), timeout, |e| {
                errors::from_rdkafka(e, &cluster::metadata_context(Some(topic)))
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

    /// Register ``transactional_id`` with the cluster (fencing older producers
    /// with the same id). Call once, before the first transaction.
    ///
    /// Raises:
    ///     IllegalStateError: the producer has no ``transactional_id``.
    ///     KafkaTimeoutError: no answer within ``timeout`` seconds (``retriable``).
    ///     KafkaError: ``.fatal`` when the producer can no longer be used.
    #[pyo3(signature = (timeout=None))]
    fn init_transactions(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        transactions::init(py, &self.client, timeout::seconds("timeout", timeout)?)
    }

    /// Start a transaction: records sent until commit/abort belong to it.
    ///
    /// Raises:
    ///     IllegalStateError: no ``transactional_id``, ``init_transactions`` not
    ///         called, or a transaction is already open.
    fn begin_transaction(&self, py: Python<'_>) -> PyResult<()> {
        transactions::begin(py, &self.client)
    }

    /// Flush the transaction's records and commit them (GIL released).
    ///
    /// Raises:
    ///     KafkaError: ``.retriable`` (call again), ``.txn_requires_abort`` (call
    ///         ``abort_transaction``) or ``.fatal``; IllegalStateError when no
    ///         transaction is open.
    #[pyo3(signature = (timeout=None))]
    fn commit_transaction(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        transactions::commit(py, &self.client, timeout::seconds("timeout", timeout)?)
    }

    /// Abort the open transaction: its undelivered records fail with
    /// ``RecordPurgedError``; consumers reading committed data never see the rest.
    ///
    /// Raises:
    ///     IllegalStateError: no transaction is open. KafkaError otherwise.
    #[pyo3(signature = (timeout=None))]
    fn abort_transaction(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        transactions::abort(py, &self.client, timeout::seconds("timeout", timeout)?)
    }

    /// Commit a consumer's ``(topic, partition, offset[, metadata[, leader_epoch]])``
    /// offsets within the open transaction; ``group`` is a group id (str) or
    /// serialized group metadata (bytes).
    ///
    /// Raises:
    ///     ConfigError: malformed offsets or group. IllegalStateError, KafkaError.
    #[pyo3(signature = (offsets, group, timeout=None))]
    fn send_offsets_to_transaction(
        &self,
        py: Python<'_>,
        offsets: &Bound<'_, PyAny>,
        group: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let timeout = timeout::seconds("timeout", timeout)?;
        transactions::send_offsets(py, &self.client, offsets, group, timeout)
    }

    /// ``with producer.transaction(): ...``: begin (running ``init_transactions``
    /// the first time), commit on success, abort if the block raises.
    ///
    /// Raises (on entry or exit): the errors of the transactional calls above.
    #[pyo3(signature = (timeout=None))]
    fn transaction(&self, timeout: Option<f64>) -> PyResult<transactions::Transaction> {
        let timeout = timeout::seconds("timeout", timeout)?;
        Ok(transactions::Transaction::new(self.client.clone(), timeout))
    }

    /// Drop undelivered records; each one's caller hears ``RecordPurgedError``.
    ///
    /// Raises:
    ///     ProducerClosedError: the producer is closed.
    #[pyo3(signature = (in_queue=true, in_flight=true, blocking=true))]
    fn purge(
        &self,
        py: Python<'_>,
        in_queue: bool,
        in_flight: bool,
        blocking: bool,
    ) -> PyResult<()> {
        cluster::purge(py, &self.client, in_queue, in_flight, blocking)
    }

    /// Cluster metadata as plain data (brokers, topics, partitions, errors).
    ///
    /// Raises:
    ///     KafkaTimeoutError: no metadata within ``timeout`` seconds (default
    ///         ``max_block_ms``).
    #[pyo3(signature = (topic=None, timeout=None))]
    fn list_topics<'py>(
        &self,
        py: Python<'py>,
        topic: Option<&str>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        // As send does: a cluster that creates topics on request would make it.
        if let Some(t) = topic {
            validate_topic(t)?;
        }
        let timeout = timeout::seconds_or("timeout", timeout, self.max_block)?;
        cluster::list_topics(py, &self.client, topic, timeout)
    }

    /// Records queued or in flight, not yet reported back.
    fn __len__(&self) -> usize {
        self.client.pending()
    }

    /// True once ``close()`` has run.
    #[getter]
    fn closed(&self) -> bool {
        self.client.is_closed()
    }

    /// The librdkafka properties in effect (secrets masked).
    #[getter]
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.client.properties.0 {
            d.set_item(k, config::redacted(k, v))?;
        }
        Ok(d)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, PyTuple>) -> PyResult<bool> {
        self.close(py, None)?;
        Ok(false)
    }

    fn __aenter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let future = running_loop(py)?.call_method0("create_future")?;
        future.call_method1("set_result", (slf,))?;
        Ok(future)
    }

    #[pyo3(signature = (*_exc))]
    fn __aexit__<'py>(
        slf: &Bound<'py, Self>,
        _exc: &Bound<'py, PyTuple>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let me = slf.clone().unbind();
        run_in_thread(slf.py(), move || {
            Python::attach(|py| {
                me.get()
                    .close(py, None)
                    .map(|_| PyBool::new(py, false).to_owned().into_any().unbind())
            })
            .map_err(PyErrOrError::Py)
        })
    }

    /// librdkafka's latest statistics as a dict (refreshed every
    /// ``statistics_interval_ms``; empty with statistics off), plus ``"kafkify"``:
    /// records ``sent`` (handed to librdkafka), ``delivered``, ``failed``,
    /// ``in_flight`` and ``avg_delivery_latency_ms`` (None before any delivery).
    /// Works after ``close()``.
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.client.observer.metrics(py)
    }

    fn __repr__(&self) -> String {
        let p = &self.client.properties;
        format!(
            "<kafkify.Producer bootstrap_servers={:?} client_id={:?}{}>",
            p.get("bootstrap.servers").unwrap_or(""),
            p.get("client.id").unwrap_or("rdkafka"),
            if self.client.is_closed() {
                " closed"
            } else {
                ""
            }
        )
    }
}

impl Producer {
    /// `close()` with its timeout checked (None: no limit).
    fn close_within(&self, py: Python<'_>, timeout: Option<Duration>) -> PyResult<()> {
        let left = self.client.close(py, timeout)?;
        if left > 0 {
            return Err(Error::Timeout(format!(
                "{left} record(s) undelivered when close() timed out; they were purged and reported as failed"
            ))
            .into());
        }
        Ok(())
    }

    fn build(
        named: &[(String, Value)],
        raw: &[(String, Value)],
        serializers: Serializers<'_, '_>,
        limits: Limits<'_, '_>,
        hooks: observe::Hooks,
    ) -> Result<Self> {
        let properties = config::translate(named, raw, client::rdkafka_properties())?;
        let max_block = match limits.max_block_ms.filter(|v| !v.is_none()) {
            Some(v) => timeout::parse("max_block_ms", v, Unit::Millis)?,
            None => Some(DEFAULT_MAX_BLOCK),
        };
        let exit_timeout = millis_option(
            "exit_timeout_ms",
            limits.exit_timeout_ms,
            DEFAULT_EXIT_TIMEOUT,
        )?;
        let json_default = match serializers.json_default.filter(|d| !d.is_none()) {
            Some(d) if d.is_callable() => Some(d.clone().unbind()),
            Some(d) => {
                return Err(Error::Config(format!(
                    "invalid value for 'json_default': {} (expected a callable)",
                    crate::serialize::json::type_name(d)
                )))
            }
            None => None,
        };
        let json = || Encoder::Json { default: None };
        let key_json_default = Python::attach(|py| json_default.as_ref().map(|d| d.clone_ref(py)));
        Ok(Producer {
            value_encoder: Encoder::from_py("value_serializer", serializers.value, json())?
                .with_json_default(json_default),
            key_encoder: Encoder::from_py("key_serializer", serializers.key, Encoder::Raw)?
                .with_json_default(key_json_default),
            client: Client::new(properties, hooks, max_block, exit_timeout)?,
            max_block,
        })
    }

    /// An awaitable send just queued records: have them sent once `event_loop`
    /// has run what is ready now, rather than after linger.ms (see `expedite`).
    fn expedite(&self, event_loop: &Bound<'_, PyAny>) -> PyResult<()> {
        match &self.client.expediter {
            Some(expediter) => expediter.schedule(event_loop),
            None => Ok(()),
        }
    }

    /// What a caller without a deadline of its own does when the queue is full:
    /// wait up to `max_block_ms`.
    pub(crate) fn when_full(&self) -> WhenFull {
        WhenFull::Wait(Deadline::never())
    }

    /// Encode and hand one record to librdkafka. JSON values are written into the
    /// thread's scratch buffer and copied once, by librdkafka.
    pub(crate) fn enqueue<'a, 'py>(
        &self,
        py: Python<'py>,
        r: &Record<'a, 'py>,
        completion: Completion,
        when_full: WhenFull,
    ) -> std::result::Result<(), PyErrOrError> {
        let headers = self.prepare_headers(r)?;
        let key = self.encode(&self.key_encoder, r.key, "key")?;
        let record = Prepared {
            topic: r.topic,
            value: Payload::Null,
            key,
            headers,
            partition: r.partition,
            timestamp_ms: r.timestamp_ms,
        };
        match (&self.value_encoder, present(r.value)) {
            (Encoder::Json { default }, Some(v)) => {
                let options = serialize::json::Options {
                    default: default.as_ref().map(|d| d.bind(py)),
                    sort_keys: false,
                };
                serialize::with_json(v, "value", options, |bytes| {
                    let record = Prepared {
                        value: Payload::Scratch(bytes),
                        ..record
                    };
                    self.submit(py, record, completion, when_full, false, &mut || {})
                })?
            }
            _ => {
                let value = self.encode(&self.value_encoder, r.value, "value")?;
                let record = Prepared { value, ..record };
                self.submit(py, record, completion, when_full, false, &mut || {})
            }
        }
    }

    /// Check the arguments and encode the headers of a record (shared by a batch).
    fn prepare_headers(&self, r: &Record<'_, '_>) -> Result<Option<OwnedHeaders>> {
        if self.client.is_closed() || self.client.forked() {
            // Say "closed" (or "forked") before complaining about the arguments.
            self.client.with_producer(|_| Ok(()))?;
        }
        validate_topic(r.topic)?;
        if let Some(p) = r.partition {
            if p < 0 {
                return Err(Error::Config(format!(
                    "invalid partition {p}: partitions are numbered from 0"
                )));
            }
        }
        match r.headers {
            Some(h) => encode_headers(h),
            None => Ok(None),
        }
    }

    /// Encode a key or value (`None` and Python None: no bytes at all).
    fn encode<'py>(
        &self,
        encoder: &Encoder,
        obj: Option<&Bound<'py, PyAny>>,
        what: &str,
    ) -> Result<Payload<'py>> {
        match present(obj) {
            Some(o) => encoder.encode(o, what),
            None => Ok(Payload::Null),
        }
    }

    /// Encode a record's key and value: everything that can fail on bad input,
    /// before anything is queued (a batch encodes all its records first).
    fn prepare<'a, 'py>(&self, r: &Record<'a, 'py>) -> Result<Prepared<'a, 'py>> {
        Ok(Prepared {
            topic: r.topic,
            value: self.encode(&self.value_encoder, r.value, "value")?,
            key: self.encode(&self.key_encoder, r.key, "key")?,
            headers: None,
            partition: r.partition,
            timestamp_ms: r.timestamp_ms,
        })
    }

    /// Hand a prepared record to librdkafka; `when_full` says what a full queue
    /// means. `counted`: the record is counted as pending already (a batch counts
    /// all its records at once, see `queue::try_send`). On an error the record
    /// is not counted any more. `before_wait` runs once before the GIL is first
    /// released to wait for room (a batch copies its other records then).
    fn submit(
        &self,
        py: Python<'_>,
        mut p: Prepared<'_, '_>,
        completion: Completion,
        when_full: WhenFull,
        counted: bool,
        before_wait: &mut dyn FnMut(),
    ) -> std::result::Result<(), PyErrOrError> {
        let headers = p.headers.take();
        let call = match when_full {
            WhenFull::Wait(call) => call,
            WhenFull::Defer => {
                let fields = p.fields();
                let sent = self.client.with_producer(|producer| {
                    Ok(self
                        .client
                        .overflow
                        .send_or_wait(producer, &fields, headers, completion, counted))
                });
                return match sent {
                    Ok(sent) => sent.map_err(|(err, _, _)| {
                        self.client
                            .observer
                            .refused(&err, p.topic, p.value.size())
                            .into()
                    }),
                    Err(closed) => Err(self.uncounted(closed, counted).into()),
                };
            }
        };
        let mut sent = self.attempt(&p.fields(), headers, completion, counted);
        // Only read the clock once the queue turns out to be full.
        let mut room: Option<Deadline> = None;
        loop {
            let (err, headers, completion) = match sent {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(refused)) => refused,
                // Closed meanwhile; a record that waited for room was counted.
                Err(closed) => {
                    return Err(self.uncounted(closed, room.is_some() || counted).into())
                }
            };
            if !queue::is_queue_full(&err) {
                // Refused outright (too large, unknown partition): not counted.
                return Err(self
                    .client
                    .observer
                    .refused(&err, p.topic, p.value.size())
                    .into());
            }
            // Counted again by `attempt` while it waits for room. Full for
            // max_block_ms: QueueFullError; past the call's deadline first: its timeout.
            let room = *room.get_or_insert_with(|| Deadline::after(self.max_block));
            let call_first = call.not_after(&room);
            let until = if call_first { call } else { room };
            if until.passed() {
                let err = if call_first {
                    Error::Timeout(format!(
                        "no room in the local queue for a record to topic {:?} within the \
                         call's timeout of {} (queue.buffering.max.messages / buffer_memory); \
                         it was not sent",
                        p.topic,
                        call.describe()
                    ))
                } else {
                    self.client.observer.refused(&err, p.topic, p.value.size())
                };
                return Err(self.uncounted(err, true).into());
            }
            // Before anything can let another thread run (a signal handler, the
            // wait): a batch copies its other mutable buffers (`hold_rest`).
            before_wait();
            // Ctrl+C (any signal handler that raises) ends the wait: not sent.
            if let Err(raised) = py.check_signals() {
                self.client.record_not_queued();
                return Err(PyErrOrError::Py(raised));
            }
            // librdkafka frees room as deliveries complete (the poll thread serves
            // them): try again every millisecond without the GIL, coming back for
            // signal handlers every SIGNAL_CHECK_INTERVAL. A mutable buffer is
            // copied first, so another thread changing it cannot tear the record.
            p.value.snapshot();
            p.key.snapshot();
            let window_end = until.window_end(SIGNAL_CHECK_INTERVAL);
            let fields = p.fields();
            sent = py.detach(move || {
                let (mut headers, mut completion) = (headers, completion);
                loop {
                    std::thread::sleep(Duration::from_millis(1));
                    match self.attempt(&fields, headers, completion, true) {
                        Ok(Err((err, h, c)))
                            if queue::is_queue_full(&err) && Instant::now() < window_end =>
                        {
                            (headers, completion) = (h, c);
                        }
                        other => return other,
                    }
                }
            });
        }
    }

    /// One try at handing a record to librdkafka. A record refused because the
    /// queue is full stays counted: it is still the caller's while it waits for
    /// room (`len()`, `close()`).
    fn attempt(
        &self,
        fields: &Fields<'_>,
        headers: Option<OwnedHeaders>,
        completion: Completion,
        counted: bool,
    ) -> Result<std::result::Result<(), queue::Refused>> {
        self.client.with_producer(move |producer| {
            let sent = queue::try_send(producer, fields, headers, completion, counted);
            if matches!(&sent, Err((err, _, _)) if queue::is_queue_full(err)) {
                producer.context().record_queued();
            }
            Ok(sent)
        })
    }

    /// `err`, after uncounting a record that `submit` counted but did not queue.
    fn uncounted(&self, err: Error, counted: bool) -> Error {
        if counted {
            self.client.record_not_queued();
        }
        err
    }

    /// Prepare every record of a batch (raising before anything is queued), then
    /// queue them with one `Batch` collecting the outcomes in input order.
    #[allow(clippy::too_many_arguments)]
    fn enqueue_batch<'py>(
        &self,
        py: Python<'py>,
        topic: &str,
        values: &Bound<'py, PyAny>,
        keys: Option<&Bound<'py, PyAny>>,
        headers: Option<&Bound<'py, PyAny>>,
        partition: Option<i32>,
        make_batch: impl FnOnce(usize) -> Arc<Batch>,
        when_full: WhenFull,
    ) -> PyResult<Arc<Batch>> {
        let values: Vec<Bound<'py, PyAny>> =
            serialize::iterate(values, "values")?.collect::<PyResult<_>>()?;
        let keys: Option<Vec<Bound<'py, PyAny>>> = match keys.filter(|k| !k.is_none()) {
            Some(k) => Some(serialize::iterate(k, "keys")?.collect::<PyResult<_>>()?),
            None => None,
        };
        if let Some(k) = &keys {
            if k.len() != values.len() {
                return Err(Error::Config(format!(
                    "send_batch: {} keys for {} values (give one key per value, or none)",
                    k.len(),
                    values.len()
                ))
                .into());
            }
        }
        let first = Record {
            topic,
            value: None,
            key: None,
            headers,
            partition,
            timestamp_ms: None,
        };
        let shared_headers = self.prepare_headers(&first)?;
        let record = |i: usize| Record {
            value: Some(&values[i]),
            key: keys.as_ref().map(|k| &k[i]),
            ..first
        };
        let count = values.len();
        // Everything is encoded before anything is queued, so bad input raises with
        // nothing sent. Encoders that only borrow bytes (bytes, str) are simply run
        // twice, once to check and once to send: keeping 200k encoded records
        // costs more (~100 bytes each, written once and read once).
        let borrowing = self.value_encoder.borrows() && self.key_encoder.borrows();
        let mut prepared = VecDeque::with_capacity(if borrowing { 0 } else { count });
        for i in 0..count {
            let mut p = self.prepare(&record(i)).map_err(|e| batch_error(i, e))?;
            if !borrowing {
                // A JSON or callable encoder can run Python code, and with it other
                // threads, before the batch is queued: keep bytearrays as they are now.
                p.value.snapshot();
                p.key.snapshot();
                prepared.push_back(p);
            }
        }
        // The batch sends the bytes its bytearrays/memoryviews held at the call
        // (issue 10, defect 11). From here to the last record the GIL stays held,
        // so no other thread can change them, except while `submit` waits for
        // queue room: just before it first lets go, `hold_rest` copies every
        // mutable buffer not handed over yet (a bytes-only batch copies nothing,
        // and a batch that never finds the queue full pays nothing). Should a new
        // step here release the GIL, it must call `hold_rest` first.
        let mut held = false;
        let batch = make_batch(count);
        // Counted as pending all at once (see `queue::try_send`).
        let producer = self.client.with_producer(|p| Ok(p.clone()))?;
        producer.context().records_queued(count);
        for index in 0..count {
            let completion = Completion::InBatch(batch.slot(index));
            let p = match prepared.pop_front() {
                Some(p) => Ok(p),
                // The same encoders on the same objects, checked above.
                None => self
                    .prepare(&record(index))
                    .map_err(|e| self.uncounted(batch_error(index, e), true)),
            };
            let mut hold_rest = || {
                if std::mem::replace(&mut held, true) {
                    return;
                }
                if borrowing {
                    // The same encoders on the same objects, checked above; should
                    // one fail now, the loop meets that record fresh and reports it.
                    for i in index + 1..count {
                        let Ok(p) = self.prepare(&record(i)) else {
                            break;
                        };
                        prepared.push_back(p);
                    }
                }
                for p in prepared.iter_mut() {
                    p.value.snapshot();
                    p.key.snapshot();
                }
            };
            let sent = match p {
                Ok(mut p) => {
                    p.headers = shared_headers.clone();
                    self.submit(py, p, completion, when_full, true, &mut hold_rest)
                }
                Err(err) => Err(PyErrOrError::Kafka(err)),
            };
            // Closed meanwhile, past the call's deadline, or interrupted (Ctrl+C):
            // this record and the rest are not handed over, and each is reported.
            let stop = match sent {
                Ok(()) => continue,
                Err(PyErrOrError::Kafka(
                    err @ (Error::Closed | Error::Forked { .. } | Error::Timeout(_)),
                )) => {
                    let reported = match &err {
                        Error::Timeout(_) => err.clone(),
                        _ => Error::Closed,
                    };
                    (PyErr::from(err), reported)
                }
                Err(PyErrOrError::Py(raised)) => {
                    let reported = Error::kafka(
                        Code::Interrupted,
                        "send_batch was interrupted before this record was queued",
                    );
                    (raised, reported)
                }
                // Refused by librdkafka (too large, queue full): that record's result.
                Err(PyErrOrError::Kafka(err)) => {
                    if let Some(batch) = batch.report(index, Err(err)) {
                        aio::settle_finished(py, &*batch)?;
                    }
                    continue;
                }
            };
            let (raised, reported) = stop;
            producer.context().records_not_queued(count - index - 1);
            for rest in index..count {
                drop(batch.report(rest, Err(reported.clone())));
            }
            return Err(raised);
        }
        Ok(batch)
    }

    /// Wait for a blocking call's outcome, serving librdkafka's report queue on
    /// this thread meanwhile (see `serve`), with its records sent at once rather
    /// than after linger.ms.
    fn wait_blocking<W: Wait>(
        &self,
        py: Python<'_>,
        waiter: &W,
        deadline: Deadline,
    ) -> PyResult<W::Output> {
        let producer = self.client.with_producer(|p| Ok(p.clone()))?;
        // The record goes out now rather than after linger.ms: the expedite thread
        // holds librdkafka in flush mode while this thread serves the report queue
        // itself (one wakeup from the broker thread to here, see `serve`). With
        // linger.ms=0 there is nothing to hold.
        let keep_sending = || {
            if let Some(expediter) = &self.client.expediter {
                expediter.kick();
            }
        };
        loop {
            let outcome = py.detach(|| {
                let window_end = deadline.window_end(SIGNAL_CHECK_INTERVAL);
                let server = &self.client.server;
                server.serve_until(&producer, window_end, || waiter.take(), keep_sending)
            });
            if let Some(o) = outcome {
                return Ok(o);
            }
            py.check_signals()?;
            if deadline.passed() {
                return Err(Error::Timeout(format!(
                    "no acknowledgement within the call's timeout of {} (the record may \
                     still be delivered)",
                    deadline.describe()
                ))
                .into());
            }
        }
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        if self.client.is_closed() || self.client.forked() {
            return;
        }
        // Not here: the last reference may go on an event loop's thread, or in
        // any frame the cyclic collector interrupts (see `close_in_background`).
        client::close_in_background(self.client.clone(), "Producer garbage-collected");
    }
}

/// Name the record of a batch an error is about.
fn batch_error(index: usize, err: Error) -> Error {
    match err {
        Error::Serialization(m) => Error::Serialization(format!("values[{index}]: {m}")),
        Error::SerializationRecursion(m) => {
            Error::SerializationRecursion(format!("values[{index}]: {m}"))
        }
        other => other,
    }
}

/// Kafka's rules for topic names, checked before anything is queued.
fn validate_topic(topic: &str) -> Result<()> {
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

fn into_metadata(outcome: Outcome) -> PyResult<RecordMetadata> {
    match outcome {
        Ok(d) => Ok(RecordMetadata::from(d)),
        Err((err, _)) => Err(err.into()),
    }
}

fn no_brokers(err: &RdError, timeout: Option<Duration>) -> Error {
    Error::Kafka {
        code: Code::AllBrokersDown,
        message: format!(
            "no broker answered within {}: {err}",
            timeout::describe(timeout)
        ),
        fatal: false,
    }
}

/// Python config values → [`Value`]s.
fn to_values(d: &Bound<'_, PyDict>) -> PyResult<Vec<(String, Value)>> {
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

fn to_value(name: &str, v: &Bound<'_, PyAny>) -> PyResult<Value> {
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
fn masked(name: &str, show: impl FnOnce() -> String) -> String {
    if config::is_secret(name) || name.contains("password") {
        "********".to_string()
    } else {
        show()
    }
}
