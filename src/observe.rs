//! What a producer reports besides each record's result: librdkafka's log lines and
//! global errors (→ the `kafkify.<client_id>` logger and `on_error`), its statistics
//! (→ `metrics()` and `on_stats`), and kafkify's own counters, which work with
//! statistics off.
//!
//! Everything here that runs on librdkafka's or our poll thread only counts and
//! builds [`Event`]s; the dispatcher thread runs them with the GIL.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError as RdError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, DeliveryResult, ProducerContext};
use rdkafka::types::RDKafkaErrorCode as Code;
use serde_json::Value as Json;

use crate::config::{self, Properties};
use crate::errors::{self, Error, Result};
use crate::rd;
use crate::refusal::Refusals;
use crate::telemetry::Telemetry;

/// Python logging levels.
const DEBUG: i32 = 10;
const INFO: i32 = 20;
const WARNING: i32 = 30;
const ERROR: i32 = 40;

/// Delivery latencies: every report is timed until this many, then 1 in
/// `LATENCY_SAMPLING` (see `Observer::delivery`).
const LATENCY_ALWAYS: u64 = 64;
const LATENCY_SAMPLING: u64 = 16;

/// The user's observability options.
#[derive(Default)]
pub struct Hooks {
    /// `on_error(exc)`: librdkafka's global errors (all brokers down, fatal errors).
    on_error: Option<Py<PyAny>>,
    /// `on_stats(metrics)`: every `statistics_interval_ms`.
    on_stats: Option<Py<PyAny>>,
    /// Log each successful delivery at DEBUG.
    log_deliveries: bool,
    /// `tracing=` and `otel_metrics=` (see `telemetry`): None is "on if an
    /// OpenTelemetry SDK is configured".
    tracing: Option<Py<PyAny>>,
    otel_metrics: Option<Py<PyAny>>,
}

impl Hooks {
    /// Take (remove) kafkify's observability options from a producer's options.
    ///
    /// Raises ConfigError for a callback that is not callable or a non-bool flag.
    pub fn take(options: Option<&Bound<'_, PyDict>>) -> PyResult<Hooks> {
        let Some(options) = options else {
            return Ok(Hooks::default());
        };
        let pop = |name: &str| -> PyResult<Option<Bound<'_, PyAny>>> {
            let value = options.get_item(name)?;
            if value.is_some() {
                options.del_item(name)?;
            }
            Ok(value.filter(|v| !v.is_none()))
        };
        let callable = |name: &str| -> PyResult<Option<Py<PyAny>>> {
            match pop(name)? {
                Some(f) if f.is_callable() => Ok(Some(f.unbind())),
                Some(f) => Err(Error::Config(format!(
                    "invalid value for '{name}': {} (expected a callable)",
                    crate::serialize::json::type_name(&f)
                ))
                .into()),
                None => Ok(None),
            }
        };
        let log_deliveries = match pop("log_deliveries")? {
            None => false,
            Some(v) => match v.cast::<PyBool>() {
                Ok(b) => b.is_true(),
                Err(_) => {
                    return Err(Error::Config(format!(
                        "invalid value for 'log_deliveries': {} (expected True or False)",
                        crate::serialize::json::type_name(&v)
                    ))
                    .into())
                }
            },
        };
        Ok(Hooks {
            on_error: callable("on_error")?,
            on_stats: callable("on_stats")?,
            log_deliveries,
            tracing: pop("tracing")?.map(Bound::unbind),
            otel_metrics: pop("otel_metrics")?.map(Bound::unbind),
        })
    }
}

/// One producer's logger, hooks and counters.
pub struct Observer {
    /// `kafkify.<client_id>`, or `kafkify` without a client id.
    logger: String,
    hooks: Hooks,
    /// Secret property values, masked in every log line that passes through here.
    secrets: Vec<String>,
    /// librdkafka's log level, from the logger's effective level at creation.
    log_level: RDKafkaLogLevel,
    /// Counted by sending threads; on its own cache line, away from the counters
    /// the poll thread updates for every report (no line bouncing between them).
    sent: OwnLine<AtomicU64>,
    delivered: AtomicU64,
    failed: AtomicU64,
    /// Key and value bytes handed to librdkafka (by the sending threads, on a line
    /// of their own) and reported back (by the poll thread): the queue-bytes gauge.
    bytes_queued: OwnLine<AtomicU64>,
    bytes_reported: AtomicU64,
    /// OpenTelemetry, when tracing or its metrics are on (see `start_telemetry`).
    telemetry: std::sync::OnceLock<Telemetry>,
    /// Sum and count of delivery latencies (µs from produce to report) that
    /// librdkafka measured, for successful deliveries.
    latency_us: AtomicU64,
    latencies: AtomicU64,
    /// The latest statistics JSON (when `statistics_interval_ms` is set).
    stats: Mutex<Option<Arc<str>>>,
    /// The librdkafka handle, to ask whether an error made it fatal (the error
    /// event rdkafka passes on does not say), and to purge the queue when the
    /// brokers refuse us. Null until `attach`.
    handle: rd::Handle,
    /// Whether the brokers refuse this client (see `refusal`).
    refusals: Refusals,
}

/// What the OpenTelemetry gauges read (`kafkify._otel.hook`): a producer's
/// records in flight and bytes queued, or None once the producer is gone.
#[pyclass(module = "kafkify._kafkify", frozen)]
pub struct Gauges {
    observer: std::sync::Weak<Observer>,
}

#[pymethods]
impl Gauges {
    /// `(records in flight, key and value bytes in librdkafka's queue)`.
    fn read(&self) -> Option<(usize, u64)> {
        let observer = self.observer.upgrade()?;
        Some((observer.in_flight(), observer.queue_bytes()))
    }
}

/// A value alone on its cache line (128 bytes: x86 prefetches lines in pairs), for
/// a counter one thread updates for every record while others work nearby.
#[repr(align(128))]
pub struct OwnLine<T>(pub T);

impl<T> std::ops::Deref for OwnLine<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl Observer {
    /// Raises ConfigError: `on_stats` without a positive `statistics_interval_ms`.
    pub fn new(properties: &Properties, hooks: Hooks) -> Result<Observer> {
        let interval = properties
            .get("statistics.interval.ms")
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0);
        if hooks.on_stats.is_some() && interval <= 0 {
            return Err(Error::Config(
                "on_stats needs statistics_interval_ms > 0 (how often librdkafka reports)".into(),
            ));
        }
        let logger = match properties.get("client.id") {
            Some(id) if !id.is_empty() => format!("kafkify.{id}"),
            _ => "kafkify".to_owned(),
        };
        let level = Python::attach(|py| -> PyResult<i32> {
            logger_object(py, &logger)?
                .call_method0("getEffectiveLevel")?
                .extract()
        })
        .unwrap_or(WARNING);
        let mut secrets: Vec<String> = properties
            .0
            .iter()
            .filter(|(k, v)| config::is_secret(k) && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect();
        // Mask longer secrets first, so one that contains another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Ok(Observer {
            logger,
            hooks,
            secrets,
            log_level: rdkafka_level(level),
            sent: OwnLine(AtomicU64::new(0)),
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            bytes_queued: OwnLine(AtomicU64::new(0)),
            bytes_reported: AtomicU64::new(0),
            telemetry: std::sync::OnceLock::new(),
            latency_us: AtomicU64::new(0),
            latencies: AtomicU64::new(0),
            stats: Mutex::new(None),
            handle: rd::Handle::default(),
            refusals: Refusals::default(),
        })
    }

    /// Start OpenTelemetry if the options (or a configured SDK) ask for it. Once,
    /// right after the observer is made: the gauges hold it weakly.
    ///
    /// Raises ConfigError for an invalid `tracing` or `otel_metrics`.
    pub fn start_telemetry(self: &Arc<Self>, properties: &Properties) -> Result<()> {
        Python::attach(|py| {
            let gauges = Py::new(
                py,
                Gauges {
                    observer: Arc::downgrade(self),
                },
            )
            .map_err(|e| Error::Config(e.to_string()))?;
            let hooks = &self.hooks;
            if let Some(t) = Telemetry::new(
                py,
                hooks.tracing.as_ref(),
                hooks.otel_metrics.as_ref(),
                properties,
                gauges.into_any(),
            )? {
                let _ = self.telemetry.set(t);
            }
            Ok(())
        })
    }

    pub fn telemetry(&self) -> Option<&Telemetry> {
        self.telemetry.get()
    }

    /// `n` key and value bytes handed to librdkafka, or (negative) refused after all.
    pub fn bytes_queued(&self, n: usize, refused: bool) {
        if refused {
            self.bytes_queued.fetch_sub(n as u64, Ordering::AcqRel);
        } else {
            self.bytes_queued.fetch_add(n as u64, Ordering::AcqRel);
        }
    }

    /// Key and value bytes in librdkafka's queue: handed over, not reported back.
    pub fn queue_bytes(&self) -> u64 {
        let out = self.bytes_reported.load(Ordering::Acquire);
        self.bytes_queued
            .load(Ordering::Acquire)
            .saturating_sub(out)
    }

    /// Give the observer its client's handle (once created).
    pub fn attach<C: ProducerContext>(&self, producer: &BaseProducer<C>) {
        self.handle.attach(producer);
    }

    /// Whether the client has hit a fatal error (idempotence or transactions):
    /// it can no longer produce.
    fn is_fatal(&self) -> bool {
        self.fatal_error().is_some()
    }

    /// The fatal error the client hit, if any: its code and librdkafka's reason.
    /// Called from librdkafka's callbacks and by senders that hold the producer,
    /// so the handle is alive.
    fn fatal_error(&self) -> Option<(Code, String)> {
        self.handle.fatal_error()
    }

    /// The error to report for a record that failed with `code`: after a fatal
    /// error librdkafka fails the queued records as purged and refuses new ones
    /// with a bare "Fatal"; the caller should hear the fatal error itself (its
    /// class, reason and `.fatal`), as `on_error` does. The same for the record
    /// whose response revealed a fencing: it fails with the broker's epoch error
    /// while librdkafka has already made `_FENCED` the producer's fatal error.
    /// None: report `code`.
    pub fn fatal_cause(&self, code: Option<Code>, context: &str) -> Option<Error> {
        match code? {
            Code::PurgeQueue
            | Code::PurgeInflight
            | Code::Fatal
            | Code::InvalidProducerEpoch
            | Code::ProducerFenced
            | Code::Fenced => {
                let (code, reason) = self.fatal_error()?;
                Some(Error::Kafka {
                    code,
                    message: format!("{context}: fatal error: {reason} ({code:?})"),
                    fatal: true,
                })
            }
            _ => None,
        }
    }

    /// The error to report for a record purged because the brokers refuse this
    /// client (see `refusal`); None: report `code`.
    pub fn refusal_cause(&self, code: Option<Code>, context: &str) -> Option<Error> {
        self.refusals.cause(code, context)
    }

    /// The brokers' refusal, while every broker is down and refuses this client.
    pub fn standing_refusal(&self, context: &str) -> Option<Error> {
        self.refusals.standing(context)
    }

    /// Fail the records queued in librdkafka (none of them sent): the brokers
    /// refuse this client. Called on the thread serving librdkafka's queue, from
    /// its error callback; the purged records' reports follow on that queue.
    fn purge_queued(&self) {
        self.handle.purge_queued();
    }

    /// Why librdkafka refused to queue a record (see `errors::refused`), naming
    /// the fatal error behind a "Fatal" refusal.
    pub fn refused(&self, err: &RdError, topic: &str, value_size: usize) -> Error {
        let context = format!("could not queue a record for topic {topic:?}");
        self.fatal_cause(err.rdkafka_error_code(), &context)
            .unwrap_or_else(|| errors::refused(err, topic, value_size))
    }

    pub fn log_level(&self) -> RDKafkaLogLevel {
        self.log_level
    }

    /// A record was handed to librdkafka ...
    pub fn record_sent(&self) {
        self.records_sent(1);
    }

    pub fn records_sent(&self, n: usize) {
        self.sent.fetch_add(n as u64, Ordering::AcqRel);
    }

    /// ... or refused by it after all.
    pub fn records_unsent(&self, n: usize) {
        self.sent.fetch_sub(n as u64, Ordering::AcqRel);
    }

    /// Records reported so far (delivered or failed).
    pub fn reported(&self) -> u64 {
        self.delivered.load(Ordering::Acquire) + self.failed.load(Ordering::Acquire)
    }

    /// Records sent and not yet reported (delivered or failed).
    pub fn in_flight(&self) -> usize {
        let done = self.reported();
        // Read last: a record is counted as sent before its report can be counted.
        let sent = self.sent.load(Ordering::Acquire);
        sent.saturating_sub(done) as usize
    }

    /// Count a delivery report; with `log_deliveries`, a DEBUG line for a success.
    pub fn delivery(self: &Arc<Self>, result: &DeliveryResult<'_>) -> Option<Event> {
        let size = |m: &rdkafka::message::BorrowedMessage<'_>| {
            m.payload_len() + m.key().map_or(0, <[u8]>::len)
        };
        let msg = match result {
            Ok(msg) => msg,
            Err((_, msg)) => {
                self.bytes_reported
                    .fetch_add(size(msg) as u64, Ordering::AcqRel);
                self.failed.fetch_add(1, Ordering::AcqRel);
                return None;
            }
        };
        self.bytes_reported
            .fetch_add(size(msg) as u64, Ordering::AcqRel);
        self.refusals.delivered();
        let before = self.delivered.fetch_add(1, Ordering::AcqRel);
        // Timing a report reads the clock: after the first reports, 1 in 16 is
        // timed, which keeps the average and spares the poll thread a clock read
        // per record (a few % of a 200k-record batch on 2 cores).
        let timed = before < LATENCY_ALWAYS || before % LATENCY_SAMPLING == 0;
        if !timed && !self.hooks.log_deliveries {
            return None;
        }
        let latency = rd::message_latency(msg);
        if latency >= 0 && timed {
            self.latency_us.fetch_add(latency as u64, Ordering::AcqRel);
            self.latencies.fetch_add(1, Ordering::AcqRel);
        }
        self.hooks.log_deliveries.then(|| Event::Log {
            observer: self.clone(),
            level: DEBUG,
            message: format!(
                "delivered to {} [{}] at offset {} in {:.3} ms",
                msg.topic(),
                msg.partition(),
                msg.offset(),
                latency.max(0) as f64 / 1000.0
            ),
        })
    }

    /// A failed record nobody waits for (fire-and-forget without a callback).
    pub fn unclaimed_failure(self: &Arc<Self>, error: &Error) -> Event {
        Event::Log {
            observer: self.clone(),
            level: ERROR,
            message: error.to_string(),
        }
    }

    /// A librdkafka log line.
    pub fn log_line(self: &Arc<Self>, level: RDKafkaLogLevel, fac: &str, line: &str) -> Event {
        Event::Log {
            observer: self.clone(),
            level: python_level(level),
            message: format!("librdkafka {fac}: {line}"),
        }
    }

    /// librdkafka's error callback: errors about the client as a whole. It recovers
    /// from most (reconnects, retries); fatal ones also fail the affected records.
    /// When it says the brokers refuse us and none is reachable, the queued records
    /// fail now (see `refusal`).
    pub fn global_error(self: &Arc<Self>, error: &RdError, reason: &str) -> Event {
        if let Some(code) = error.rdkafka_error_code() {
            if self.refusals.error(code, reason) {
                self.purge_queued();
            }
        }
        let mut error = errors::from_rdkafka(error, "librdkafka error");
        if let Error::Kafka {
            code,
            message,
            fatal,
        } = &mut error
        {
            *fatal |= self.is_fatal();
            let what = if *fatal { "fatal error: " } else { "" };
            *message = format!("{what}{reason} ({code:?})");
        }
        Event::GlobalError {
            observer: self.clone(),
            error,
        }
    }

    /// librdkafka's statistics JSON arrived: keep it, and call `on_stats` if set.
    pub fn statistics(self: &Arc<Self>, json: &[u8]) -> Option<Event> {
        let text: Arc<str> = String::from_utf8_lossy(json).into();
        *self.stats.lock().unwrap_or_else(|p| p.into_inner()) = Some(text);
        self.hooks.on_stats.is_some().then(|| Event::Stats {
            observer: self.clone(),
        })
    }

    /// librdkafka's latest statistics (an empty dict with statistics off) plus a
    /// `"kafkify"` entry with our own counters.
    pub fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let stats = self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let out = match stats.map(|s| serde_json::from_str::<Json>(&s)) {
            Some(Ok(json)) => match json_to_py(py, &json)?.cast_into::<PyDict>() {
                Ok(dict) => dict,
                Err(_) => PyDict::new(py),
            },
            _ => PyDict::new(py),
        };
        let (delivered, failed) = (
            self.delivered.load(Ordering::Acquire),
            self.failed.load(Ordering::Acquire),
        );
        let sent = self.sent.load(Ordering::Acquire); // after: never below the others
        let latencies = self.latencies.load(Ordering::Acquire);
        let own = PyDict::new(py);
        own.set_item("sent", sent)?;
        own.set_item("delivered", delivered)?;
        own.set_item("failed", failed)?;
        own.set_item("in_flight", sent.saturating_sub(delivered + failed))?;
        own.set_item("queue_bytes", self.queue_bytes())?;
        own.set_item(
            "avg_delivery_latency_ms",
            (latencies > 0)
                .then(|| self.latency_us.load(Ordering::Acquire) as f64 / latencies as f64 / 1e3),
        )?;
        out.set_item("kafkify", own)?;
        Ok(out)
    }

    fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "********");
            }
        }
        text
    }
}

/// Work for the dispatcher thread (it holds the GIL).
pub enum Event {
    Log {
        observer: Arc<Observer>,
        level: i32,
        message: String,
    },
    GlobalError {
        observer: Arc<Observer>,
        error: Error,
    },
    Stats {
        observer: Arc<Observer>,
    },
}

impl Event {
    pub fn run(self, py: Python<'_>) {
        match self {
            Event::Log {
                observer,
                level,
                message,
            } => log_to(
                py,
                &observer.logger,
                level,
                &observer.redact(&message),
                None,
            ),
            Event::GlobalError { observer, error } => {
                let level = match &error {
                    Error::Kafka { fatal: true, .. }
                    | Error::Kafka {
                        code: Code::AllBrokersDown,
                        ..
                    } => ERROR,
                    _ => WARNING,
                };
                let message = observer.redact(&error.to_string());
                log_to(py, &observer.logger, level, &message, None);
                if let Some(on_error) = &observer.hooks.on_error {
                    let exc = error.to_py(py);
                    // The same (masked) text as the log line.
                    let _ = exc.value(py).setattr("args", (message,));
                    observer.call(py, on_error, exc.into_value(py).into_any(), "on_error");
                }
            }
            Event::Stats { observer } => {
                if let Some(on_stats) = &observer.hooks.on_stats {
                    match observer.metrics(py) {
                        Ok(m) => observer.call(py, on_stats, m.into_any().unbind(), "on_stats"),
                        Err(e) => log_to(py, &observer.logger, ERROR, "bad statistics", Some(e)),
                    }
                }
            }
        }
    }
}

impl Observer {
    fn call(&self, py: Python<'_>, callback: &Py<PyAny>, arg: Py<PyAny>, name: &str) {
        if let Err(raised) = callback.bind(py).call1((arg,)) {
            let message = format!("{name} callback raised an exception");
            log_to(py, &self.logger, ERROR, &message, Some(raised));
        }
    }
}

fn logger_object<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("logging")?.call_method1("getLogger", (name,))
}

/// Log on the `kafkify` logger (with the exception's traceback when given).
pub fn log(py: Python<'_>, level: i32, message: &str, exc: Option<PyErr>) {
    log_to(py, "kafkify", level, message, exc);
}

/// Log on the logger `name` (with the exception's traceback when given).
pub fn log_to(py: Python<'_>, name: &str, level: i32, message: &str, exc: Option<PyErr>) {
    let logged = (|| -> PyResult<()> {
        let kwargs = PyDict::new(py);
        if let Some(exc) = exc {
            kwargs.set_item("exc_info", exc.into_value(py))?;
        }
        logger_object(py, name)?.call_method("log", (level, "%s", message), Some(&kwargs))?;
        Ok(())
    })();
    if let Err(err) = logged {
        if err.is_instance_of::<pyo3::exceptions::PyKeyboardInterrupt>(py) {
            // Ctrl+C landed inside the logging call: re-arm it so the wait that
            // follows (an exit flush, say) is interrupted as the user asked.
            rd::set_interrupt();
        }
        eprintln!("kafkify: {message}");
    }
}

/// syslog levels (librdkafka) → Python logging levels.
fn python_level(level: RDKafkaLogLevel) -> i32 {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => ERROR,
        RDKafkaLogLevel::Warning => WARNING,
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => INFO,
        RDKafkaLogLevel::Debug => DEBUG,
    }
}

/// The least severe librdkafka level a Python logger at `level` would show.
fn rdkafka_level(level: i32) -> RDKafkaLogLevel {
    match level {
        l if l <= DEBUG => RDKafkaLogLevel::Debug,
        l if l <= INFO => RDKafkaLogLevel::Info,
        l if l <= WARNING => RDKafkaLogLevel::Warning,
        _ => RDKafkaLogLevel::Error,
    }
}

fn json_to_py<'py>(py: Python<'py>, value: &Json) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Json::Null => py.None().into_bound(py),
        Json::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any(),
            (None, Some(u)) => u.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Json::String(s) => s.into_pyobject(py)?.into_any(),
        Json::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Json::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, json_to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_levels_round_trip_to_librdkafka_levels() {
        assert!(matches!(rdkafka_level(DEBUG), RDKafkaLogLevel::Debug));
        assert!(matches!(rdkafka_level(INFO), RDKafkaLogLevel::Info));
        assert!(matches!(rdkafka_level(WARNING), RDKafkaLogLevel::Warning));
        assert!(matches!(rdkafka_level(50), RDKafkaLogLevel::Error));
        assert_eq!(python_level(RDKafkaLogLevel::Notice), INFO);
        assert_eq!(python_level(RDKafkaLogLevel::Critical), ERROR);
    }
}
