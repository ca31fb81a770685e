//! The enqueue engine behind every send: encode a record's key, value and headers
//! ([`Prepared`]), hand it to librdkafka, wait for room when the queue is full
//! ([`WhenFull`]), queue a whole batch, and wait for a blocking call's outcome.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::Producer as _;
use rdkafka::types::RDKafkaErrorCode as Code;

use crate::aio;
use crate::args::{batch_error, present, validate_topic, Record};
use crate::client::Client;
use crate::client::SIGNAL_CHECK_INTERVAL;
use crate::config::from_py::{millis_option, Limits, Serializers};
use crate::config::{self, Value};
use crate::delivery::{Batch, Completion, Wait};
use crate::errors::{Error, PyErrOrError, Result};
use crate::observe;
use crate::queue::{self, Fields};
use crate::serialize::{self, encode_headers, Encoder, Payload};
use crate::telemetry::Started;
use crate::timeout::Deadline;

/// A span begun, or None (and the hook's failure logged): the record is sent either
/// way, as a failing hook must not change a call's result.
fn telemetry_began(py: Python<'_>, began: PyResult<Option<Started>>) -> Option<Started> {
    began.unwrap_or_else(|raised| {
        observe::log(
            py,
            40,
            "OpenTelemetry: starting a span failed",
            Some(raised),
        );
        None
    })
}

/// Log the hook's failure to end a span (the call's result stands).
fn telemetry_failed(py: Python<'_>, ended: PyResult<()>) {
    if let Err(raised) = ended {
        observe::log(py, 40, "OpenTelemetry: ending a span failed", Some(raised));
    }
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
pub(crate) struct Prepared<'a, 'py> {
    topic: &'a str,
    value: Payload<'py>,
    key: Payload<'py>,
    headers: Option<OwnedHeaders>,
    partition: Option<i32>,
    timestamp_ms: Option<i64>,
}

impl Prepared<'_, '_> {
    pub(crate) fn fields(&self) -> Fields<'_> {
        Fields {
            topic: self.topic,
            value: self.value.as_slice(),
            key: self.key.as_slice(),
            partition: self.partition,
            timestamp_ms: self.timestamp_ms,
        }
    }
}

/// kafka-python's `max_block_ms` default: how long `produce` waits for queue room.
const DEFAULT_MAX_BLOCK: Duration = Duration::from_secs(60);

/// How long a producer nobody closed (garbage-collected, or open at interpreter
/// exit) keeps trying to deliver its records before they are reported failed.
/// Long enough for a healthy cluster (a round trip, or a leader election of a few
/// seconds); short enough that a container stopped with `docker stop` (10 s before
/// SIGKILL) or Kubernetes (30 s) still ends its process cleanly, and far below
/// `delivery.timeout.ms` (300 s), which a dead broker would make every exit wait.
const DEFAULT_EXIT_TIMEOUT: Duration = Duration::from_secs(5);

/// What every send of a producer goes through: its client (librdkafka handle and
/// threads), its encoders and its limit on waiting for queue room. The Python
/// class (`producer::Producer`) holds one.
pub struct Engine {
    pub client: Arc<Client>,
    pub value_encoder: Encoder,
    pub key_encoder: Encoder,
    /// How long a record waits for room in a full queue (None: no limit).
    pub max_block: Option<std::time::Duration>,
}

impl Engine {
    /// The engine of a new producer: its options translated, its encoders chosen,
    /// its client (librdkafka handle and threads) started.
    pub(crate) fn build(
        named: &[(String, Value)],
        raw: &[(String, Value)],
        serializers: Serializers<'_, '_>,
        limits: Limits<'_, '_>,
        hooks: observe::Hooks,
    ) -> Result<Engine> {
        let properties = config::translate(named, raw, config::librdkafka::rdkafka_properties())?;
        let max_block =
            millis_option("max_block_ms", limits.max_block_ms, Some(DEFAULT_MAX_BLOCK))?;
        let exit_timeout = millis_option(
            "exit_timeout_ms",
            limits.exit_timeout_ms,
            Some(DEFAULT_EXIT_TIMEOUT),
        )?
        .unwrap_or(Duration::MAX);
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
        Ok(Engine {
            value_encoder: Encoder::from_py("value_serializer", serializers.value, json())?
                .with_json_default(json_default),
            key_encoder: Encoder::from_py("key_serializer", serializers.key, Encoder::Raw)?
                .with_json_default(key_json_default),
            client: Client::new(properties, hooks, max_block, exit_timeout)?,
            max_block,
        })
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
        let mut headers = self.prepare_headers(r)?;
        let mut key = self.encode(&self.key_encoder, r.key, "key")?;
        // The span begins before the value is encoded (a JSON value is written
        // into the thread's scratch buffer, and the hook runs Python code).
        let observed = match self.client.observer.telemetry() {
            Some(telemetry) => {
                key.snapshot(); // other threads may run during the hook
                let tombstone = present(r.value).is_none();
                let started =
                    telemetry.begin(py, r.topic, key.as_slice(), tombstone, None, &mut headers);
                telemetry_began(py, started).map(|s| (telemetry, s))
            }
            None => None,
        };
        let completion = match &observed {
            Some((_, started)) => {
                Completion::Observed(Box::new((completion, started.clone_ref(py))))
            }
            None => completion,
        };
        let record = Prepared {
            topic: r.topic,
            value: Payload::Null,
            key,
            headers,
            partition: r.partition,
            timestamp_ms: r.timestamp_ms,
        };
        let sent = self.encode_and_submit(py, r, record, completion, when_full);
        if let (Err(err), Some((telemetry, started))) = (&sent, observed) {
            telemetry_failed(
                py,
                telemetry.fail_now(py, started, r.topic, err.clone_py(py)),
            );
        }
        sent
    }

    /// The rest of `enqueue`: encode the value (JSON into the scratch buffer,
    /// copied once, by librdkafka) and hand the record over.
    fn encode_and_submit<'a, 'py>(
        &self,
        py: Python<'py>,
        r: &Record<'a, 'py>,
        record: Prepared<'a, 'py>,
        completion: Completion,
        when_full: WhenFull,
    ) -> std::result::Result<(), PyErrOrError> {
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
    pub(crate) fn prepare_headers(&self, r: &Record<'_, '_>) -> Result<Option<OwnedHeaders>> {
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
    pub(crate) fn encode<'py>(
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
    pub(crate) fn prepare<'a, 'py>(&self, r: &Record<'a, 'py>) -> Result<Prepared<'a, 'py>> {
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
    pub(crate) fn submit(
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
    pub(crate) fn attempt(
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
    pub(crate) fn uncounted(&self, err: Error, counted: bool) -> Error {
        if counted {
            self.client.record_not_queued();
        }
        err
    }

    /// Prepare every record of a batch (raising before anything is queued), then
    /// queue them with one `Batch` collecting the outcomes in input order.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn enqueue_batch<'py>(
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
        // With OpenTelemetry on, every record's span begins here, before the first
        // is queued: the hook runs Python code, which must not run in the loop
        // below (see above), and each record gets its own propagation headers.
        let mut observed: Vec<(Option<OwnedHeaders>, Option<Started>)> = Vec::new();
        if let Some(telemetry) = self.client.observer.telemetry() {
            observed.reserve(count);
            for (i, value) in values.iter().enumerate() {
                let mut headers = shared_headers.clone();
                let key = match prepared.get(i) {
                    Some(p) => p.key.as_slice().map(<[u8]>::to_vec),
                    // Borrowing encoders: no Python code runs to encode the key again
                    // (and the value need not be).
                    None => {
                        let key = self.encode(&self.key_encoder, record(i).key, "key")?;
                        key.as_slice().map(<[u8]>::to_vec)
                    }
                };
                let tombstone = value.is_none();
                let started = telemetry.begin(
                    py,
                    topic,
                    key.as_deref(),
                    tombstone,
                    Some(count),
                    &mut headers,
                );
                observed.push((headers, telemetry_began(py, started)));
            }
        }
        let mut observed = observed.into_iter();
        // A record's span, ended at once when the record is not queued.
        let fail_span = |started: Option<Started>, err: PyErr| {
            if let (Some(telemetry), Some(started)) = (self.client.observer.telemetry(), started) {
                telemetry_failed(py, telemetry.fail_now(py, started, topic, err));
            }
        };
        let batch = make_batch(count);
        // Counted as pending all at once (see `queue::try_send`).
        let producer = self.client.with_producer(|p| Ok(p.clone()))?;
        producer.context().records_queued(count);
        for index in 0..count {
            let (headers, started) = match observed.next() {
                Some(o) => o,
                None => (shared_headers.clone(), None),
            };
            let mine = started.as_ref().map(|s| s.clone_ref(py));
            let completion = match started {
                Some(s) => {
                    Completion::Observed(Box::new((Completion::InBatch(batch.slot(index)), s)))
                }
                None => Completion::InBatch(batch.slot(index)),
            };
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
                    p.headers = headers;
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
                    fail_span(mine, err.to_py(py));
                    if let Some(batch) = batch.report(index, Err(err)) {
                        aio::settle_finished(py, &*batch)?;
                    }
                    continue;
                }
            };
            let (raised, reported) = stop;
            fail_span(mine, reported.to_py(py));
            for (_, started) in observed.by_ref() {
                fail_span(started, reported.to_py(py));
            }
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
    pub(crate) fn wait_blocking<W: Wait>(
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
