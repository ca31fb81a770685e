//! Handing records to librdkafka's queue: one attempt ([`try_send`]), and the
//! overflow line for callers that must not wait when the queue is full.
//!
//! A blocking caller (`send`, `produce`, `send_batch`) that finds the queue full
//! waits for room itself, with the GIL released. A caller on an event loop
//! (`send_async`, `send_batch_async`) cannot: its record joins the [`Overflow`]
//! line instead (copied once more, only on this slow path), and the overflow
//! thread feeds the line to librdkafka as deliveries free room, in order. While
//! the line is not empty, new async records join its end, so they keep the order
//! they were sent in. A record still waiting after `max_block_ms` fails with
//! QueueFullError (kafka-python's semantics for a full buffer).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use rdkafka::error::KafkaError as RdError;
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::Producer as _;
use rdkafka::types::RDKafkaErrorCode as Code;

use crate::delivery::{Completion, Delivered, Opaque, RdProducer};
use crate::errors::{self, Error};
use crate::rd;
use crate::timeout::Deadline;

/// One record's fields, borrowed for one attempt.
pub struct Fields<'a> {
    pub topic: &'a str,
    pub value: Option<&'a [u8]>,
    pub key: Option<&'a [u8]>,
    pub partition: Option<i32>,
    pub timestamp_ms: Option<i64>,
}

/// What librdkafka handed back with a refusal, for a retry.
pub type Refused = (RdError, Option<OwnedHeaders>, Completion);

pub fn is_queue_full(err: &RdError) -> bool {
    matches!(err, RdError::MessageProduction(Code::QueueFull))
}

/// Hand one record to librdkafka (which copies key and value). On refusal the
/// headers and completion come back, so the caller can retry or report.
///
/// `rd_kafka_producev` is called directly rather than through rdkafka's
/// `BaseProducer::send`, which builds a `CString` of the topic name for every
/// record: here the topic's C string is cached per thread (a pipeline sends to a
/// few topics), and fire-and-forget records without a callback carry no
/// allocation at all (see [`Opaque`]).
///
/// A record counts as pending (`len()`, `close()`) from before librdkafka sees it
/// (its report can come back before producev returns): it is counted here, unless
/// `counted` says it already is (a batch counts all its records with one addition
/// first, `Context::records_queued`; a record waiting for room stays counted). A
/// refused record is uncounted.
pub fn try_send(
    producer: &RdProducer,
    f: &Fields<'_>,
    headers: Option<OwnedHeaders>,
    completion: Completion,
    counted: bool,
) -> Result<(), Refused> {
    if !counted {
        producer.context().record_queued();
    }
    // Counted before librdkafka sees it, as the record is (its report can come first).
    let size = f.value.map_or(0, <[u8]>::len) + f.key.map_or(0, <[u8]>::len);
    producer.context().observer().bytes_queued(size, false);
    let opaque = Opaque::from(completion);
    let result = with_topic_cstr(f.topic, |topic| {
        let record = rd::Record {
            topic,
            partition: f.partition.unwrap_or(-1),
            value: f.value,
            key: f.key,
            timestamp_ms: f.timestamp_ms.unwrap_or(0),
        };
        rd::produce(producer, &record, headers, opaque)
    });
    result.map_err(|(err, headers, opaque)| {
        producer.context().record_not_queued();
        producer.context().observer().bytes_queued(size, true);
        (
            RdError::MessageProduction(err.into()),
            headers,
            opaque.into(),
        )
    })
}

/// The topic as a C string, cached per thread (a topic name cannot contain NUL:
/// `validate_topic` allows only ASCII letters, digits, '.', '_' and '-').
fn with_topic_cstr<R>(topic: &str, f: impl FnOnce(&CStr) -> R) -> R {
    thread_local! {
        static LAST: RefCell<(String, CString)> = RefCell::new((String::new(), CString::default()));
    }
    LAST.with(|cell| {
        let mut last = cell.borrow_mut();
        if last.0 != topic {
            let c = CString::new(topic).unwrap_or_default();
            *last = (topic.to_owned(), c);
        }
        f(&last.1)
    })
}

/// A record waiting in the overflow line (owned copies of its fields).
struct Waiting {
    topic: String,
    value: Option<Vec<u8>>,
    key: Option<Vec<u8>>,
    partition: Option<i32>,
    timestamp_ms: Option<i64>,
    headers: Option<OwnedHeaders>,
    completion: Completion,
    deadline: Deadline,
}

/// Records from event-loop callers waiting for room in librdkafka's queue.
pub struct Overflow {
    line: Mutex<VecDeque<Waiting>>,
    changed: Condvar,
    stop: AtomicBool,
    /// `max_block_ms`: how long a record may wait for room (None: no limit).
    max_wait: Option<Duration>,
}

impl Overflow {
    pub fn new(max_wait: Option<Duration>) -> Arc<Self> {
        Arc::new(Overflow {
            line: Mutex::new(VecDeque::new()),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
            max_wait,
        })
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Waiting>> {
        self.line.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Send now if nobody is waiting and there is room; otherwise join the line.
    /// Errors other than a full queue (too large, unknown partition) come back.
    /// `counted`: the record is already counted as pending (see [`try_send`]).
    pub fn send_or_wait(
        &self,
        producer: &RdProducer,
        f: &Fields<'_>,
        headers: Option<OwnedHeaders>,
        completion: Completion,
        counted: bool,
    ) -> Result<(), Refused> {
        let mut line = self.lock();
        let (headers, completion, counted) = if line.is_empty() {
            match try_send(producer, f, headers, completion, counted) {
                Ok(()) => return Ok(()),
                // Refused: uncounted again.
                Err((err, headers, completion)) if is_queue_full(&err) => {
                    (headers, completion, false)
                }
                Err(refused) => return Err(refused),
            }
        } else {
            (headers, completion, counted)
        };
        if !counted {
            // It counts as pending (len(), flush) from now on.
            producer.context().record_queued();
        }
        line.push_back(Waiting {
            topic: f.topic.to_owned(),
            value: f.value.map(<[u8]>::to_vec),
            key: f.key.map(<[u8]>::to_vec),
            partition: f.partition,
            timestamp_ms: f.timestamp_ms,
            headers,
            completion,
            deadline: Deadline::after(self.max_wait),
        });
        self.changed.notify_one();
        Ok(())
    }

    /// The overflow thread: feed the line to librdkafka until `stop`. A record
    /// leaves the line only once librdkafka took it (or it failed), under the lock,
    /// so `is_empty` never misses a record in between.
    pub fn run(&self, producer: Arc<RdProducer>) {
        let mut line = self.lock();
        while !self.stop.load(Ordering::Acquire) {
            let Some(mut w) = line.pop_front() else {
                line = self.changed.wait(line).unwrap_or_else(|p| p.into_inner());
                continue;
            };
            let fields = Fields {
                topic: &w.topic,
                value: w.value.as_deref(),
                key: w.key.as_deref(),
                partition: w.partition,
                timestamp_ms: w.timestamp_ms,
            };
            // A record in the line counts as pending already.
            match try_send(&producer, &fields, w.headers.take(), w.completion, true) {
                Ok(()) => {}
                Err((err, headers, completion)) if is_queue_full(&err) && !w.deadline.passed() => {
                    producer.context().record_queued();
                    w.headers = headers;
                    w.completion = completion;
                    line.push_front(w);
                    // Deliveries free room; look again shortly (or when woken).
                    line = self
                        .changed
                        .wait_timeout(line, Duration::from_millis(1))
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                // Still full after max_block_ms (QueueFullError), or refused outright.
                Err((err, _, completion)) => {
                    let size = w.value.as_ref().map_or(0, Vec::len);
                    let error = producer.context().observer().refused(&err, &w.topic, size);
                    fail(&producer, completion, error, &w.topic, w.partition);
                }
            }
        }
    }

    /// Stop the overflow thread (it exits at its next look at the line).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        let _guard = self.lock();
        self.changed.notify_all();
    }

    /// Fail every record still waiting (close() ran out of time): each caller hears.
    pub fn fail_all(&self, producer: &RdProducer) {
        let waiting: Vec<Waiting> = self.lock().drain(..).collect();
        for w in waiting {
            producer.context().record_not_queued();
            let error = errors::from_rdkafka(
                &RdError::MessageProduction(Code::PurgeQueue),
                &format!(
                    "record to topic {:?} purged: the producer closed before there was room for it",
                    w.topic
                ),
            );
            fail(producer, w.completion, error, &w.topic, w.partition);
        }
    }
}

fn fail(
    producer: &RdProducer,
    completion: Completion,
    error: Error,
    topic: &str,
    partition: Option<i32>,
) {
    producer.context().complete(
        completion,
        Err((error, Delivered::failed(topic, partition))),
    );
}
