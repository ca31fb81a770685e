//! `PolledProducer`: the native base of the confluent shim's `Producer`
//! (python/kafkify/compat/confluent_kafka/producer.py), which keeps the
//! configuration, `flush`, `close` and the rest in Python and inherits the calls
//! of the hot loop from here: `produce`, `poll` and `len()`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString};

use super::message::Message;
use super::{PollQueue, Report, Served};
use crate::args::{present, Record};
use crate::client::SIGNAL_CHECK_INTERVAL;
use crate::delivery::Completion;
use crate::errors::PyErrOrError;
use crate::producer::Producer;
use crate::timeout::{self, Deadline};

/// What confluent-kafka raises for a call on a closed producer.
const CLOSED: &str = "Producer has been closed";

/// The core producer and the shim's hooks, set once by `_attach`.
struct Attached {
    core: Py<Producer>,
    queue: Arc<PollQueue>,
    /// `on_delivery` of the configuration: for records produced without a callback.
    default_callback: Option<Py<PyAny>>,
    /// `delivery.report.only.error`: successes are counted as served, not reported.
    only_errors: bool,
    /// kafkify error → confluent `KafkaError` (for a failed record's callback).
    make_error: Py<PyAny>,
    /// kafkify error → what confluent-kafka raises (`BufferError`, `KafkaException`, ...).
    translate: Py<PyAny>,
}

/// The native half of ``kafkify.compat.confluent_kafka.Producer`` (its methods'
/// documentation is in python/kafkify/_kafkify.pyi).
#[pyclass(module = "kafkify._kafkify", subclass, frozen, weakref)]
pub struct PolledProducer {
    attached: OnceLock<Attached>,
    closed: AtomicBool,
}

#[pymethods]
impl PolledProducer {
    /// Arguments are the subclass's (its ``__init__`` reads them and calls ``_attach``).
    #[new]
    #[pyo3(signature = (*_args, **_kwargs))]
    fn new(
        _args: &Bound<'_, pyo3::types::PyTuple>,
        _kwargs: Option<&Bound<'_, pyo3::types::PyDict>>,
    ) -> Self {
        PolledProducer {
            attached: OnceLock::new(),
            closed: AtomicBool::new(false),
        }
    }

    /// Serve reports from ``core`` (a ``kafkify.Producer``); called once by ``__init__``.
    #[pyo3(signature = (core, *, on_delivery, only_errors, make_error, translate))]
    fn _attach(
        &self,
        core: Py<Producer>,
        on_delivery: Option<Py<PyAny>>,
        only_errors: bool,
        make_error: Py<PyAny>,
        translate: Py<PyAny>,
    ) -> PyResult<()> {
        let attached = Attached {
            core,
            queue: Arc::new(PollQueue::default()),
            default_callback: on_delivery,
            only_errors,
            make_error,
            translate,
        };
        self.attached
            .set(attached)
            .map_err(|_| PyRuntimeError::new_err("the producer is attached already"))
    }

    /// Whether ``close()`` ran (every call but ``len()`` then raises RuntimeError).
    #[getter]
    fn _closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    #[setter(_closed)]
    fn set_closed(&self, closed: bool) {
        self.closed.store(closed, Ordering::Release);
    }

    /// Records produced whose report no ``poll``/``flush`` has served yet.
    #[getter]
    fn _pending(&self) -> usize {
        self.attached.get().map_or(0, |a| a.queue.pending())
    }

    /// Queue one record; its delivery callback runs from a later ``poll``/``flush``.
    #[pyo3(signature = (topic, value=None, key=None, partition=-1, on_delivery=None, callback=None, timestamp=0, headers=None))]
    #[allow(clippy::too_many_arguments)]
    fn produce<'py>(
        &self,
        py: Python<'py>,
        topic: &str,
        value: Option<&Bound<'py, PyAny>>,
        key: Option<&Bound<'py, PyAny>>,
        partition: Option<i32>,
        on_delivery: Option<&Bound<'py, PyAny>>,
        callback: Option<&Bound<'py, PyAny>>,
        timestamp: i64,
        headers: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<()> {
        let a = self.attached()?;
        let given = present(on_delivery)
            .map(|c| ("on_delivery", c))
            .or(present(callback).map(|c| ("callback", c)));
        if let Some((name, c)) = given.filter(|(_, c)| !c.is_callable()) {
            // As confluent-kafka checks it: at produce(), not as a TypeError from a
            // later poll() that also loses the record's report.
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "{name} expects a callable, not {}",
                crate::serialize::json::type_name(c)
            )));
        }
        let callback = given
            .map(|(_, c)| c.clone().unbind())
            .or_else(|| a.default_callback.as_ref().map(|c| c.clone_ref(py)));
        // confluent-kafka takes str values as UTF-8; the core (value_serializer="bytes")
        // only bytes-like ones, so a str becomes bytes here, once.
        let encoded = match present(value) {
            Some(v) => match v.cast::<PyString>() {
                Ok(s) => Some(PyBytes::new(py, s.to_str()?.as_bytes()).into_any()),
                Err(_) => Some(v.clone()),
            },
            None => None,
        };
        let (value, key) = (encoded.as_ref(), present(key));
        let entry = a.queue.entry(
            callback,
            key.map(|k| k.clone().unbind()),
            value.map(|v| v.clone().unbind()),
        );
        let record = Record {
            topic,
            value,
            key,
            headers: present(headers),
            partition: partition.filter(|p| *p >= 0),
            timestamp_ms: (timestamp != 0).then_some(timestamp),
        };
        // Counted before librdkafka sees it: its report can come back first.
        a.queue.add_pending();
        let core = a.core.get();
        match core.engine.enqueue(
            py,
            &record,
            Completion::Polled(entry),
            core.engine.when_full(),
        ) {
            Ok(()) => Ok(()),
            Err(err) => {
                a.queue.sub_pending();
                Err(match err {
                    PyErrOrError::Kafka(err) => a.translated(py, err.to_py(py)),
                    // Ctrl+C while waiting for room: raised as it is.
                    PyErrOrError::Py(raised) => raised,
                })
            }
        }
    }

    /// Serve delivery callbacks: wait up to ``timeout`` seconds (-1 or None: forever)
    /// for the first, then serve all that are ready. Returns how many were served.
    #[pyo3(signature = (timeout=-1.0))]
    fn poll(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<usize> {
        self.attached()?;
        self._serve(py, timeout)
    }

    /// ``poll`` without the closed check (``flush`` and ``close`` serve through it).
    #[pyo3(signature = (timeout=-1.0))]
    fn _serve(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<usize> {
        let a = self.attached.get().ok_or_else(not_attached)?;
        if timeout == Some(0.0) && a.queue.is_empty() {
            return Ok(0); // the loop's poll(0), with nothing to serve
        }
        // confluent-kafka's negative timeout (-1, the default) waits forever.
        let limit = match timeout {
            Some(t) if t < 0.0 => None,
            other => timeout::seconds("timeout", other)?,
        };
        let deadline = Deadline::after(limit);
        loop {
            let reports = a.queue.take_all();
            if !reports.is_empty() {
                return a.serve(py, reports);
            }
            if deadline.passed() {
                return Ok(0);
            }
            let until = deadline.window_end(SIGNAL_CHECK_INTERVAL);
            py.detach(|| a.queue.wait(until));
            py.check_signals()?;
        }
    }

    /// Queue a client-level callback (its arguments bound) to run from ``poll``.
    fn _push_call(&self, call: Py<PyAny>) -> PyResult<()> {
        let a = self.attached.get().ok_or_else(not_attached)?;
        a.queue.push(Report::Call(call));
        Ok(())
    }

    /// Records not yet delivered plus delivery reports not yet served (0 once closed).
    fn __len__(&self) -> usize {
        if self.closed.load(Ordering::Acquire) {
            0
        } else {
            self._pending()
        }
    }

    /// A producer is true even when nothing is pending (``__len__`` would say False).
    fn __bool__(&self) -> bool {
        true
    }
}

impl PolledProducer {
    /// The attached state of an open producer.
    fn attached(&self) -> PyResult<&Attached> {
        if self.closed.load(Ordering::Acquire) {
            return Err(PyRuntimeError::new_err(CLOSED));
        }
        self.attached.get().ok_or_else(not_attached)
    }
}

fn not_attached() -> PyErr {
    PyRuntimeError::new_err("Producer.__init__ did not complete")
}

impl Attached {
    /// What confluent-kafka raises for core error `err`, caused by it.
    fn translated(&self, py: Python<'_>, err: PyErr) -> PyErr {
        let original = err.value(py).clone();
        match self.translate.bind(py).call1((&original,)) {
            Ok(t) if t.is(&original) => err,
            Ok(t) => {
                let translated = PyErr::from_value(t);
                translated.set_cause(py, Some(err));
                translated
            }
            Err(failed) => failed,
        }
    }

    /// Run the callbacks of `reports`, in order. If one raises, the rest are put
    /// back for the next `poll` and the exception propagates (as in confluent-kafka).
    fn serve(&self, py: Python<'_>, mut reports: VecDeque<Report>) -> PyResult<usize> {
        let mut served = 0;
        let mut topic_cache: Option<(std::sync::Arc<str>, Py<PyString>)> = None;
        while let Some(report) = reports.pop_front() {
            let result = match report {
                Report::Call(call) => call.bind(py).call0().map(|_| 1),
                Report::Record(record) => {
                    self.queue.sub_pending();
                    self.run_callback(py, record, &mut topic_cache)
                }
            };
            match result {
                Ok(n) => served += n,
                Err(raised) => {
                    self.queue.put_back(reports);
                    return Err(raised);
                }
            }
        }
        Ok(served)
    }

    /// One record's callback; returns how many reports it counts as (0 for a
    /// success under `delivery.report.only.error`).
    fn run_callback(
        &self,
        py: Python<'_>,
        record: Served,
        topic_cache: &mut Option<(std::sync::Arc<str>, Py<PyString>)>,
    ) -> PyResult<usize> {
        let Served {
            callback,
            key,
            value,
            outcome,
            latency,
        } = record;
        if self.only_errors && outcome.is_ok() {
            return Ok(0);
        }
        let Some(callback) = callback else {
            return Ok(1);
        };
        let (delivered, error) = match outcome {
            Ok(d) => (d, None),
            Err((err, d)) => {
                let exc = err.to_py(py).into_value(py);
                (d, Some(self.make_error.bind(py).call1((exc,))?.unbind()))
            }
        };
        let topic = match topic_cache {
            Some((name, obj)) if **name == *delivered.topic => obj.clone_ref(py),
            _ => {
                let obj = PyString::new(py, &delivered.topic).unbind();
                *topic_cache = Some((delivered.topic.clone(), obj.clone_ref(py)));
                obj
            }
        };
        let message = Message::report(
            topic,
            delivered.at.partition,
            delivered.at.offset,
            key.map(|k| as_bytes(py, k)).transpose()?,
            value.map(|v| as_bytes(py, v)).transpose()?,
            delivered.at.timestamp,
            error.as_ref().map(|e| e.clone_ref(py)),
            latency,
        );
        let message = Py::new(py, message)?;
        let error = error.unwrap_or_else(|| py.None());
        callback.bind(py).call1((error, message))?;
        Ok(1)
    }
}

/// A key or value as the report's `Message` hands it back: bytes (str as UTF-8).
fn as_bytes(py: Python<'_>, obj: Py<PyAny>) -> PyResult<Py<PyAny>> {
    let bound = obj.bind(py);
    if bound.is_instance_of::<PyBytes>() {
        return Ok(obj);
    }
    if let Ok(s) = bound.cast::<PyString>() {
        return Ok(PyBytes::new(py, s.to_str()?.as_bytes()).into_any().unbind());
    }
    if let Ok(b) = bound.cast::<PyByteArray>() {
        return Ok(PyBytes::new(py, &b.to_vec()).into_any().unbind());
    }
    Ok(py.get_type::<PyBytes>().call1((bound,))?.unbind())
}
