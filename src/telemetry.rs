//! OpenTelemetry: a record's span and metrics, through the Python half in
//! `python/kafkify/_otel/` (the OpenTelemetry API is a Python library).
//!
//! With tracing and OpenTelemetry metrics off (no SDK configured, or
//! `tracing=False, otel_metrics=False`) a producer has no [`Telemetry`] and no
//! record pays anything. With either on:
//! - at the call, [`Telemetry::begin`] asks the hook for a span (`start`: one
//!   Python call per record, made on the caller's thread, so the current
//!   OpenTelemetry context is the span's parent), merges the headers the
//!   propagator injected into the record's (a header the caller set wins), and
//!   wraps the record's `Completion` so its report comes back here;
//! - at the report, the poll thread notes the time and the outcome
//!   ([`Finished`]) without the GIL, and the dispatcher thread hands every
//!   finished record of its batch to the hook in one call (`finish`), which ends
//!   the spans at the times noted and records the metrics.
//!
//! The hook's side of this protocol is `python/kafkify/_otel/hook.py`.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyList, PyTuple};
use rdkafka::message::{Header, Headers, OwnedHeaders};

use crate::config::Properties;
use crate::errors::{Error, Result};

/// A producer's OpenTelemetry hook.
pub struct Telemetry {
    /// A `kafkify._otel.hook.Hook`.
    hook: Py<PyAny>,
    /// Spans are started (tracing on).
    tracing: bool,
    /// Every record is timed (OpenTelemetry metrics on).
    metrics: bool,
}

/// What travels with a traced or timed record until its report.
pub struct Started {
    /// Its span, if it is recording (a sampled-out span needs no end).
    span: Option<Py<PyAny>>,
    /// When the call began, ns since the epoch (OpenTelemetry's clock).
    started_ns: u64,
    /// The record's batch size, for `messaging.batch.message_count`.
    batch: Option<usize>,
}

/// A record's report, as the hook's `finish` takes it.
pub struct Finished {
    started: Started,
    ended_ns: u64,
    topic: Arc<str>,
    partition: i32,
    offset: i64,
    error: Option<Error>,
}

pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl Telemetry {
    /// The hook for a new producer, or None when tracing and metrics are both
    /// off. `tracing` and `otel_metrics` are the constructor's options (None:
    /// on if an OpenTelemetry SDK provider is configured); `gauges` answers the
    /// in-flight and queue-bytes gauges.
    ///
    /// Raises ConfigError for an invalid option, or `True` without OpenTelemetry installed.
    pub fn new(
        py: Python<'_>,
        tracing: Option<&Py<PyAny>>,
        otel_metrics: Option<&Py<PyAny>>,
        properties: &Properties,
        gauges: Py<PyAny>,
    ) -> Result<Option<Telemetry>> {
        let off = |o: Option<&Py<PyAny>>| o.is_some_and(|v| v.bind(py).is(PyBool::new(py, false)));
        if off(tracing) && off(otel_metrics) {
            return Ok(None);
        }
        let made = (|| -> PyResult<Option<Telemetry>> {
            let hook = py.import("kafkify._otel")?.getattr("hook_for")?.call1((
                tracing.map(|t| t.clone_ref(py)),
                otel_metrics.map(|m| m.clone_ref(py)),
                properties.get("client.id").filter(|id| !id.is_empty()),
                properties.get("bootstrap.servers"),
                gauges,
            ))?;
            if hook.is_none() {
                return Ok(None);
            }
            Ok(Some(Telemetry {
                tracing: hook.getattr("tracing")?.is_truthy()?,
                metrics: hook.getattr("metrics")?.is_truthy()?,
                hook: hook.unbind(),
            }))
        })();
        // hook_for raises ConfigError naming the option; any other error is a
        // broken OpenTelemetry install, said as it is.
        made.map_err(|e| {
            let text = e
                .value(py)
                .str()
                .map_or_else(|_| e.to_string(), |s| s.to_string());
            Error::Config(text)
        })
    }

    /// Start a record's span (tracing on) and time it (metrics on): `headers`
    /// gets the propagator's headers (those the caller did not set), and the
    /// record's completion is `wrap`ped with what its report needs.
    ///
    /// None: nothing to finish (a sampled-out span, metrics off).
    pub fn begin(
        &self,
        py: Python<'_>,
        topic: &str,
        key: Option<&[u8]>,
        tombstone: bool,
        batch: Option<usize>,
        headers: &mut Option<OwnedHeaders>,
    ) -> PyResult<Option<Started>> {
        let started_ns = now_ns();
        let mut span = None;
        if self.tracing {
            let key = key.map(|k| PyBytes::new(py, k));
            let started = self
                .hook
                .bind(py)
                .call_method1("start", (topic, key, tombstone, batch))?;
            let (recording, carrier): (Bound<'_, PyAny>, Bound<'_, PyAny>) = started.extract()?;
            if !carrier.is_none() {
                *headers = Some(merge(headers.take(), carrier.cast::<PyList>()?)?);
            }
            span = Some(recording).filter(|s| !s.is_none()).map(Bound::unbind);
        }
        Ok((span.is_some() || self.metrics).then_some(Started {
            span,
            started_ns,
            batch,
        }))
    }

    /// End at once the span of a record that was not queued (refused, or the
    /// call was interrupted), with `error`.
    pub fn fail_now(
        &self,
        py: Python<'_>,
        started: Started,
        topic: &str,
        error: PyErr,
    ) -> PyResult<()> {
        let item = (
            started.span,
            started.started_ns,
            now_ns(),
            topic,
            -1,
            -1,
            error.into_value(py),
            started.batch,
        );
        self.call_finish(py, vec![item.into_pyobject(py).map(Bound::into_any)])
    }

    /// End the spans and record the metrics of a batch of reports (the dispatcher).
    pub fn finish(&self, py: Python<'_>, batch: Vec<Finished>) -> PyResult<()> {
        let items = batch
            .into_iter()
            .map(|f| {
                let error = f.error.map(|e| e.to_py(py).into_value(py).into_any());
                (
                    f.started.span,
                    f.started.started_ns,
                    f.ended_ns,
                    &*f.topic,
                    f.partition,
                    f.offset,
                    error,
                    f.started.batch,
                )
                    .into_pyobject(py)
                    .map(Bound::into_any)
            })
            .collect();
        self.call_finish(py, items)
    }

    fn call_finish(&self, py: Python<'_>, items: Vec<PyResult<Bound<'_, PyAny>>>) -> PyResult<()> {
        let items: Vec<Bound<'_, PyAny>> = items.into_iter().collect::<PyResult<_>>()?;
        self.hook
            .bind(py)
            .call_method1("finish", (PyList::new(py, items)?,))?;
        Ok(())
    }
}

impl Started {
    /// The record's report: noted on the poll thread, without the GIL.
    pub fn finished(
        self,
        topic: Arc<str>,
        partition: i32,
        offset: i64,
        error: Option<Error>,
    ) -> Finished {
        Finished {
            started: self,
            ended_ns: now_ns(),
            topic,
            partition,
            offset,
            error,
        }
    }

    /// The span, for a caller that ends it itself should the record not be queued.
    pub fn clone_ref(&self, py: Python<'_>) -> Started {
        Started {
            span: self.span.as_ref().map(|s| s.clone_ref(py)),
            started_ns: self.started_ns,
            batch: self.batch,
        }
    }
}

/// The record's headers plus the propagator's `(name, bytes)` pairs whose
/// names the caller did not use.
fn merge(headers: Option<OwnedHeaders>, carrier: &Bound<'_, PyList>) -> PyResult<OwnedHeaders> {
    let mut merged = headers.unwrap_or_else(|| OwnedHeaders::new_with_capacity(carrier.len()));
    for pair in carrier.iter() {
        let pair = pair.cast_into::<PyTuple>()?;
        let name: String = pair.get_item(0)?.extract()?;
        let value: Vec<u8> = pair.get_item(1)?.extract()?;
        if !merged.iter().any(|h| h.key == name) {
            merged = merged.insert(Header {
                key: &name,
                value: Some(&value),
            });
        }
    }
    Ok(merged)
}
