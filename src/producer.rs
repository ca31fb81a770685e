//! The `Producer` Python class: its methods, as shells over the enqueue engine
//! (`enqueue`), the argument checks (`args`) and the lifecycle (`client`).

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyTuple, PyType};
use rdkafka::error::KafkaError as RdError;
use rdkafka::types::RDKafkaErrorCode as Code;

use crate::aio::{self, expire_fn, run_attached_in_thread, run_in_thread, running_loop};
use crate::args::{validate_topic, Record};
use crate::client;
use crate::cluster;
use crate::config;
use crate::config::from_py::{to_value, to_values, Limits, Serializers};
use crate::delivery::batch::BatchLoop;
use crate::delivery::{Batch, Completion, Outcome, Waiter};
use crate::enqueue::{Engine, WhenFull};
use crate::errors::Error;
use crate::metadata::RecordMetadata;
use crate::observe;
use crate::timeout::{self, Deadline};
use crate::transactions;
use crate::warmup;

/// A Kafka producer backed by librdkafka. Thread-safe: share one per process.
///
/// The methods' documentation (arguments, what each raises) lives in the type
/// stubs, kafkify/_kafkify.pyi, once; here each method keeps its first line.
#[pyclass(module = "kafkify._kafkify", frozen, weakref)]
pub struct Producer {
    pub(crate) engine: Engine,
}

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
        let engine = Engine::build(&named, &raw, serializers, limits, hooks)?;
        Ok(Producer { engine })
    }

    /// Create a producer from one mapping of options: snake_case names, dotted
    /// librdkafka properties, or both (e.g. a parsed config file).
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
        let engine = Engine::build(&named, &[], serializers, limits, hooks)?;
        Ok(Producer { engine })
    }

    /// Send one record and block until the broker acknowledges it.
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
        self.engine.enqueue(
            py,
            &record,
            Completion::Blocking(waiter.clone()),
            WhenFull::Wait(deadline),
        )?;
        let outcome = self.engine.wait_blocking(py, &*waiter, deadline)?;
        into_metadata(outcome)
    }

    /// Send one record; returns an awaitable resolving to its ``RecordMetadata``.
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
        self.engine
            .enqueue(py, &record, completion, WhenFull::Defer)?;
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
        Ok(self
            .engine
            .enqueue(py, &record, completion, self.engine.when_full())?)
    }

    /// Send many records to one topic with one call and one wait.
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
        let batch = self.engine.enqueue_batch(
            py,
            topic,
            values,
            keys,
            headers,
            partition,
            make,
            WhenFull::Wait(deadline),
        )?;
        let complete = self.engine.wait_blocking(py, &*batch, deadline)?;
        match batch.result(py, complete) {
            (true, list) => Ok(list),
            (false, exc) => Err(PyErr::from_value(exc.into_bound(py))),
        }
    }

    /// ``send_batch`` for asyncio: returns an awaitable resolving to the same list.
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
        let batch = self.engine.enqueue_batch(
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
    #[pyo3(signature = (timeout=None))]
    fn flush(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        let timeout = timeout::seconds("timeout", timeout)?;
        let left = self.engine.client.flush(py, timeout)?;
        if left > 0 {
            return Err(Error::Timeout(format!(
                "{left} record(s) still undelivered after flush timeout"
            ))
            .into());
        }
        Ok(())
    }

    /// Flush, then release the connection and threads. Safe to call twice.
    #[pyo3(signature = (timeout=None))]
    fn close(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        // Checked before anything is closed: a bad timeout leaves the producer open.
        let timeout = timeout::seconds("timeout", timeout)?;
        self.close_within(py, timeout)
    }

    /// Check that the cluster answers (aiokafka-style lifecycle). Awaitable.
    #[pyo3(signature = (timeout=10.0))]
    fn start<'py>(slf: &Bound<'py, Self>, timeout: f64) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let timeout = timeout::seconds("timeout", Some(timeout))?;
        let client = slf.get().engine.client.clone();
        let me = slf.clone().into_any().unbind();
        run_in_thread(py, move || {
            // Not under the client's lock: close() must not wait for this wait.
            let producer = client.producer()?;
            let deadline = Deadline::after(timeout);
            cluster::fetch_metadata(&producer, None, timeout, |e| no_brokers(e, timeout))?;
            if warmup::wanted(&client.properties) {
                // So that no request pays for the producer id (`warmup`).
                warmup::ask_for_producer_id(|| Some(producer.clone()), deadline);
            }
            Ok(me)
        })
    }

    /// Flush and close without blocking the event loop. Awaitable.
    #[pyo3(signature = (timeout=None))]
    fn stop<'py>(slf: &Bound<'py, Self>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let timeout = timeout::seconds("timeout", timeout)?;
        let me = slf.clone().unbind();
        let py = slf.py();
        run_attached_in_thread(py, move |py| {
            me.get().close_within(py, timeout).map(|_| py.None())
        })
    }

    /// The partition ids of ``topic`` (fetched from the cluster).
    fn partitions_for(&self, py: Python<'_>, topic: &str) -> PyResult<Vec<i32>> {
        validate_topic(topic)?;
        cluster::partitions_for(py, &self.engine.client, topic, self.engine.max_block)
    }

    /// Register ``transactional_id`` with the cluster (fencing older producers
    /// with the same id). Call once, before the first transaction.
    #[pyo3(signature = (timeout=None))]
    fn init_transactions(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        transactions::init(
            py,
            &self.engine.client,
            timeout::seconds("timeout", timeout)?,
        )
    }

    /// Start a transaction: records sent until commit/abort belong to it.
    fn begin_transaction(&self, py: Python<'_>) -> PyResult<()> {
        transactions::begin(py, &self.engine.client)
    }

    /// Flush the transaction's records and commit them (GIL released).
    #[pyo3(signature = (timeout=None))]
    fn commit_transaction(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        transactions::commit(
            py,
            &self.engine.client,
            timeout::seconds("timeout", timeout)?,
        )
    }

    /// Abort the open transaction: its undelivered records fail with
    /// ``RecordPurgedError``; consumers reading committed data never see the rest.
    #[pyo3(signature = (timeout=None))]
    fn abort_transaction(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<()> {
        transactions::abort(
            py,
            &self.engine.client,
            timeout::seconds("timeout", timeout)?,
        )
    }

    /// Commit a consumer's ``(topic, partition, offset[, metadata[, leader_epoch]])``
    /// offsets within the open transaction; ``group`` is a group id (str) or
    /// serialized group metadata (bytes).
    #[pyo3(signature = (offsets, group, timeout=None))]
    fn send_offsets_to_transaction(
        &self,
        py: Python<'_>,
        offsets: &Bound<'_, PyAny>,
        group: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let timeout = timeout::seconds("timeout", timeout)?;
        transactions::send_offsets(py, &self.engine.client, offsets, group, timeout)
    }

    /// ``with producer.transaction(): ...``: begin (running ``init_transactions``
    /// the first time), commit on success, abort if the block raises.
    #[pyo3(signature = (timeout=None))]
    fn transaction(&self, timeout: Option<f64>) -> PyResult<transactions::Transaction> {
        let timeout = timeout::seconds("timeout", timeout)?;
        Ok(transactions::Transaction::new(
            self.engine.client.clone(),
            timeout,
        ))
    }

    /// Drop undelivered records; each one's caller hears ``RecordPurgedError``.
    #[pyo3(signature = (in_queue=true, in_flight=true, blocking=true))]
    fn purge(
        &self,
        py: Python<'_>,
        in_queue: bool,
        in_flight: bool,
        blocking: bool,
    ) -> PyResult<()> {
        cluster::purge(py, &self.engine.client, in_queue, in_flight, blocking)
    }

    /// Cluster metadata as plain data (brokers, topics, partitions, errors).
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
        let timeout = timeout::seconds_or("timeout", timeout, self.engine.max_block)?;
        cluster::list_topics(py, &self.engine.client, topic, timeout)
    }

    /// Records queued or in flight, not yet reported back.
    fn __len__(&self) -> usize {
        self.engine.client.pending()
    }

    /// True once ``close()`` has run.
    #[getter]
    fn closed(&self) -> bool {
        self.engine.client.is_closed()
    }

    /// The librdkafka properties in effect (secrets masked).
    #[getter]
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.engine.client.properties.0 {
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
        run_attached_in_thread(slf.py(), move |py| {
            me.get()
                .close(py, None)
                .map(|_| PyBool::new(py, false).to_owned().into_any().unbind())
        })
    }

    /// librdkafka's latest statistics as a dict (refreshed every
    /// ``statistics_interval_ms``; empty with statistics off), plus ``"kafkify"``:
    /// records ``sent`` (handed to librdkafka), ``delivered``, ``failed``,
    /// ``in_flight`` and ``avg_delivery_latency_ms`` (None before any delivery).
    /// Works after ``close()``.
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.engine.client.observer.metrics(py)
    }

    fn __repr__(&self) -> String {
        let p = &self.engine.client.properties;
        format!(
            "<kafkify.Producer bootstrap_servers={:?} client_id={:?}{}>",
            p.get("bootstrap.servers").unwrap_or(""),
            p.get("client.id").unwrap_or("rdkafka"),
            if self.engine.client.is_closed() {
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
        let left = self.engine.client.close(py, timeout)?;
        if left > 0 {
            return Err(Error::Timeout(format!(
                "{left} record(s) undelivered when close() timed out; they were purged and reported as failed"
            ))
            .into());
        }
        Ok(())
    }

    /// An awaitable send just queued records: have them sent once `event_loop`
    /// has run what is ready now, rather than after linger.ms (see `expedite`).
    fn expedite(&self, event_loop: &Bound<'_, PyAny>) -> PyResult<()> {
        match &self.engine.client.expediter {
            Some(expediter) => expediter.schedule(event_loop),
            None => Ok(()),
        }
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        if self.engine.client.is_closed() || self.engine.client.forked() {
            return;
        }
        // Not here: the last reference may go on an event loop's thread, or in
        // any frame the cyclic collector interrupts (see `close_in_background`).
        client::close_in_background(self.engine.client.clone(), "Producer garbage-collected");
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
