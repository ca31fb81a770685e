//! Delivery reports: from librdkafka's report queue to whoever waits for them.
//!
//! Only one of the threads involved ever touches Python:
//! - librdkafka's broker threads send and receive;
//! - whoever serves the report queue (our poll thread, or a blocking caller while
//!   it waits: see `serve`) calls [`Context::delivery`], without the GIL: a
//!   blocking call's [`Waiter`] or [`Batch`] is filled in, an awaited record's
//!   future is queued for its loop (`aio`), and everything else that needs
//!   Python becomes a [`Job`];
//! - our **dispatcher thread** takes the GIL once per batch of jobs: delivery
//!   callbacks and log lines.
//!
//! The files: this one holds what travels with a record ([`Completion`], as the
//! opaque pointer [`Opaque`]), the router ([`Context`]) and the dispatcher thread;
//! `outcome.rs` what a report says; `batch.rs` the batch protocol. asyncio's side
//! is `aio.rs`; Python objects for outcomes are made in `metadata.rs`.

use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError as RdError;
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseProducer, DeliveryResult, ProducerContext};
use rdkafka::util::IntoOpaque;

pub mod batch;
pub mod outcome;

pub use batch::{Batch, BatchSlot};
pub use outcome::{Delivered, Landed, Outcome, Wait, Waiter};

use crate::aio::{LoopWaker, Ready};
use crate::errors::{self, Error};
use crate::metadata::metadata_object;
use crate::observe::{self, Event, Observer};
use crate::telemetry::{Finished, Started};
use batch::SLOT_TAG;

/// Our producer: rdkafka's, with [`Context`] routing its reports. Here, next to
/// the context, so that `rd.rs` (which `observe` uses) stays a leaf.
pub type RdProducer = BaseProducer<Context>;

/// What to do with a record's delivery report; travels through librdkafka as the
/// message's opaque pointer.
pub enum Completion {
    Blocking(Arc<Waiter>),
    /// `send_async`: resolved on its loop's thread, through the loop's waker.
    Future {
        waker: Arc<LoopWaker>,
        future: Py<PyAny>,
    },
    Callback(Py<PyAny>),
    /// Fire-and-forget without a callback: failures are logged.
    Logged,
    /// A record of a batch.
    InBatch(BatchSlot),
    /// Reported through the producer's `poll()` (the confluent shim, see `polled`).
    Polled(Box<crate::polled::Entry>),
    /// A record with a span or timed for metrics (see `telemetry`): its report
    /// is noted for the hook, then goes to the completion inside.
    Observed(Box<(Completion, Started)>),
}

/// Set in an opaque pointer that is a `Box<polled::Entry>`: the entry travels as
/// it is, not inside a `Box<Completion>` (one allocation per record, and the
/// Completion enum stays the size of its small variants).
const ENTRY_TAG: usize = 2;

/// A record's [`Completion`] as librdkafka carries it (the message's opaque
/// pointer), without an allocation in the common cases: glibc makes a block
/// allocated on the sending thread and freed on the poll thread contend for its
/// arena, and a 200k-record batch would make 200k of them.
/// - null: fire-and-forget without a callback, the bulk of a pipeline;
/// - tagged ([`SLOT_TAG`]): a batch record's [`BatchSlot`];
/// - tagged ([`ENTRY_TAG`]): a polled record's `Box<polled::Entry>`;
/// - otherwise a `Box<Completion>`.
///
/// Its `unsafe` (and the batch slots' in `batch.rs`) stays here rather than in
/// `rd.rs`: it is the encoding of our own types into one pointer, which only
/// these two files may see inside; `lib.rs` allows it item by item.
pub struct Opaque(*mut std::ffi::c_void);

// SAFETY: an Opaque owns a Completion (or is a batch record's slot address), and
// Completion is Send + Sync.
#[allow(unsafe_code)]
unsafe impl Send for Opaque {}
#[allow(unsafe_code)]
unsafe impl Sync for Opaque {}

impl Drop for Opaque {
    fn drop(&mut self) {
        if !self.0.is_null() {
            drop(Completion::from(Opaque(std::mem::replace(
                &mut self.0,
                std::ptr::null_mut(),
            ))));
        }
    }
}

impl From<Completion> for Opaque {
    fn from(completion: Completion) -> Self {
        Opaque(match completion {
            Completion::Logged => std::ptr::null_mut(),
            Completion::InBatch(slot) => slot.0 as *mut std::ffi::c_void,
            Completion::Polled(entry) => {
                (Box::into_raw(entry) as usize | ENTRY_TAG) as *mut std::ffi::c_void
            }
            other => Box::into_raw(Box::new(other)).cast(),
        })
    }
}

#[allow(unsafe_code)]
impl From<Opaque> for Completion {
    fn from(mut opaque: Opaque) -> Self {
        let ptr = std::mem::replace(&mut opaque.0, std::ptr::null_mut());
        if ptr.is_null() {
            Completion::Logged
        } else if ptr as usize & SLOT_TAG != 0 {
            Completion::InBatch(BatchSlot(ptr as usize))
        } else if ptr as usize & ENTRY_TAG != 0 {
            let entry = (ptr as usize & !ENTRY_TAG) as *mut crate::polled::Entry;
            // SAFETY: made from a Box<Entry> by `From<Completion>`, and taken once.
            Completion::Polled(unsafe { Box::from_raw(entry) })
        } else {
            // SAFETY: any other non-null opaque was made from a Box<Completion>.
            *unsafe { Box::from_raw(ptr.cast::<Completion>()) }
        }
    }
}

#[allow(unsafe_code)]
impl IntoOpaque for Opaque {
    fn into_ptr(mut self) -> *mut std::ffi::c_void {
        std::mem::replace(&mut self.0, std::ptr::null_mut())
    }

    unsafe fn from_ptr(ptr: *mut std::ffi::c_void) -> Self {
        Opaque(ptr)
    }
}

/// Work for the dispatcher thread.
pub enum Job {
    /// Run an `on_delivery` callback (everything else is resolved without Python,
    /// see `Context::complete`).
    Callback(Py<PyAny>, Outcome),
    /// Logging, global errors, statistics (see `observe`).
    Observe(Event),
    /// Reached once every earlier job ran: `flush()` returns only after the
    /// callbacks of the records it waited for have run.
    Barrier(std::sync::mpsc::Sender<()>),
    /// A traced or timed record's report, for the OpenTelemetry hook: the
    /// dispatcher hands all of a batch's to it in one call.
    Finished(Finished),
}

/// The rdkafka client context: routes delivery reports and log lines.
pub struct Context {
    jobs: Mutex<Sender<Job>>,
    /// Logger, on_error/on_stats hooks and counters (see `observe`). Its counters
    /// also say how many records are pending: sent, minus delivered and failed.
    observer: Arc<Observer>,
}

impl Context {
    pub fn new(jobs: Sender<Job>, observer: Arc<Observer>) -> Self {
        Context {
            jobs: Mutex::new(jobs),
            observer,
        }
    }

    pub fn observer(&self) -> &Observer {
        &self.observer
    }

    /// Call before handing a record to librdkafka ...
    pub fn record_queued(&self) {
        self.observer.record_sent();
    }

    /// ... or this, once for a batch's `n` records (see `queue::try_send`) ...
    pub fn records_queued(&self, n: usize) {
        self.observer.records_sent(n);
    }

    /// ... and this if librdkafka refused it.
    pub fn record_not_queued(&self) {
        self.records_not_queued(1);
    }

    pub fn records_not_queued(&self, n: usize) {
        self.observer.records_unsent(n);
    }

    /// Records queued and not yet reported back (librdkafka's `outq_len` also
    /// counts queued events: errors, logs). Not one counter that senders add to
    /// and the poll thread subtracts from: that bounced its cache line between
    /// the cores for every record.
    pub fn pending(&self) -> usize {
        self.observer.in_flight()
    }

    /// A receiver that gets a message (or hangs up, if the dispatcher is gone)
    /// once the dispatcher has run every job submitted before this call.
    pub fn barrier(&self) -> Receiver<()> {
        let (reached, wait) = std::sync::mpsc::channel();
        self.submit(Job::Barrier(reached));
        wait
    }

    fn submit(&self, job: Job) {
        // A send error means the dispatcher is gone (interpreter exit): nothing to tell.
        let _ = self
            .jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job);
    }
}

impl ClientContext for Context {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        self.submit(Job::Observe(self.observer.log_line(
            level,
            fac,
            log_message,
        )));
    }

    fn error(&self, error: RdError, reason: &str) {
        self.submit(Job::Observe(self.observer.global_error(&error, reason)));
    }

    fn stats_raw(&self, statistics: &[u8]) {
        if let Some(event) = self.observer.statistics(statistics) {
            self.submit(Job::Observe(event));
        }
    }
}

impl ProducerContext for Context {
    type DeliveryOpaque = Opaque;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: Opaque) {
        let completion = Completion::from(opaque);
        if let Some(event) = self.observer.delivery(result) {
            self.submit(Job::Observe(event));
        }
        match (completion, result) {
            (Completion::Logged, Ok(_)) => {} // fire-and-forget without a callback: nobody to tell
            // A batch stores its topic once: no per-record topic lookup on this thread.
            (Completion::InBatch(slot), Ok(msg)) => self.report_in_batch(slot, Ok(landed(msg))),
            (completion, Ok(msg)) => self.complete(completion, Ok(delivered(msg))),
            (completion, Err((err, msg))) => {
                let what = format!("delivery to topic {:?} failed", msg.topic());
                let code = err.rdkafka_error_code();
                let error = self
                    .observer
                    .fatal_cause(code, &what)
                    .or_else(|| self.observer.refusal_cause(code, &what))
                    .unwrap_or_else(|| errors::from_rdkafka(err, &what));
                let failure = (error, delivered(msg));
                self.complete(completion, Err(failure));
            }
        }
    }
}

impl Context {
    /// Tell a record's caller its outcome: a delivery report, or a failure found
    /// before the record reached librdkafka (see `queue::Overflow`).
    pub fn complete(&self, completion: Completion, outcome: Outcome) {
        match completion {
            Completion::Blocking(waiter) => waiter.set(outcome),
            Completion::Future { waker, future } => waker.push(Ready::Record(future, outcome)),
            Completion::InBatch(slot) => {
                self.report_in_batch(slot, outcome.map(|d| d.at).map_err(|(e, _)| e));
            }
            Completion::Logged => {
                if let Err((err, _)) = &outcome {
                    self.submit(Job::Observe(self.observer.unclaimed_failure(err)));
                }
            }
            Completion::Callback(callback) => self.submit(Job::Callback(callback, outcome)),
            Completion::Polled(entry) => (*entry).report(outcome),
            Completion::Observed(observed) => {
                let (inner, started) = *observed;
                let finished = match &outcome {
                    Ok(d) => started.finished(d.topic.clone(), d.at.partition, d.at.offset, None),
                    Err((e, d)) => started.finished(
                        d.topic.clone(),
                        d.at.partition,
                        d.at.offset,
                        Some(e.clone()),
                    ),
                };
                self.submit(Job::Finished(finished));
                self.complete(inner, outcome);
            }
        }
    }

    /// A batch record's outcome into its slot; the last one wakes an async caller.
    #[allow(unsafe_code)]
    fn report_in_batch(&self, slot: BatchSlot, outcome: Result<Landed, Error>) {
        // SAFETY: this is the record's one report.
        let (batch, index) = unsafe { slot.get() };
        if let Some(batch) = batch.report(index, outcome) {
            if let Some((waker, _)) = &batch.future {
                waker.batch_done(batch.clone());
            }
        }
    }
}

fn delivered<M: Message>(msg: &M) -> Delivered {
    Delivered {
        topic: topic_name(msg.topic()),
        at: landed(msg),
    }
}

fn landed<M: Message>(msg: &M) -> Landed {
    let size = |len: Option<usize>| len.map_or(-1, |n| n as i32);
    Landed {
        partition: msg.partition(),
        offset: msg.offset(),
        timestamp: msg.timestamp().to_millis().unwrap_or(-1),
        key_size: size(msg.key().map(<[u8]>::len)),
        value_size: size(msg.payload().map(<[u8]>::len)),
        header_size: size(msg.headers().map(|h| {
            h.iter()
                .map(|hdr| hdr.key.len() + hdr.value.map_or(0, <[u8]>::len))
                .sum()
        })),
    }
}

/// `topic` as a shared string, reusing the previous report's when it is the same
/// topic (one allocation per topic change rather than per record, on the poll thread).
fn topic_name(topic: &str) -> Arc<str> {
    thread_local! {
        static LAST: std::cell::RefCell<Arc<str>> = std::cell::RefCell::new(Arc::from(""));
    }
    LAST.with(|cell| {
        let mut last = cell.borrow_mut();
        if &**last != topic {
            *last = Arc::from(topic);
        }
        last.clone()
    })
}

/// The dispatcher thread's body: runs until every sender is dropped.
pub fn run_dispatcher(jobs: Receiver<Job>, observer: &Observer) {
    const MAX_BATCH: usize = 4096;
    while let Ok(first) = jobs.recv() {
        let mut batch = Vec::with_capacity(64);
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // None: the interpreter is shutting down; the records were still delivered.
        let _ = Python::try_attach(|py| dispatch(py, batch, observer));
    }
}

fn dispatch(py: Python<'_>, batch: Vec<Job>, observer: &Observer) {
    // Finished records wait here until a job that must come after them (a
    // barrier, a callback), then go to the hook together.
    let mut finished = Vec::new();
    let end_spans = |finished: &mut Vec<Finished>| {
        if let (Some(telemetry), false) = (observer.telemetry(), finished.is_empty()) {
            if let Err(raised) = telemetry.finish(py, std::mem::take(finished)) {
                observe::log(py, 40, "OpenTelemetry: ending spans failed", Some(raised));
            }
        }
    };
    for job in batch {
        match job {
            Job::Finished(f) => {
                finished.push(f);
                continue;
            }
            _ => end_spans(&mut finished),
        }
        match job {
            Job::Observe(event) => event.run(py),
            Job::Barrier(reached) => {
                let _ = reached.send(());
            }
            Job::Callback(callback, outcome) => run_callback(py, &callback, outcome),
            Job::Finished(_) => {}
        }
    }
    end_spans(&mut finished);
}

fn run_callback(py: Python<'_>, callback: &Py<PyAny>, outcome: Outcome) {
    let (err, meta) = match outcome {
        Ok(d) => (py.None(), metadata_object(py, d)),
        Err((e, d)) => (
            e.to_py(py).into_value(py).into_any(),
            metadata_object(py, d),
        ),
    };
    if let Err(raised) = callback.bind(py).call1((err, meta)) {
        observe::log(
            py,
            40,
            "on_delivery callback raised an exception",
            Some(raised),
        );
    }
}

#[cfg(test)]
#[allow(unsafe_code)]
mod tests {
    use super::*;

    /// A batch record's opaque pointer leads back to the same batch and index,
    /// without touching the batch's reference count.
    #[test]
    fn batch_opaque_round_trips_to_its_slot() {
        let batch = Batch::new("orders", 3, None, false);
        assert_eq!(
            Arc::strong_count(&batch),
            2,
            "ours, and the in-flight records'"
        );
        for index in [0, 2, 1] {
            let ptr = Opaque::from(Completion::InBatch(batch.slot(index))).into_ptr();
            assert_eq!(ptr as usize & SLOT_TAG, SLOT_TAG);
            // SAFETY: made by into_ptr just above, turned back once.
            match Completion::from(unsafe { Opaque::from_ptr(ptr) }) {
                Completion::InBatch(slot) => {
                    // SAFETY: no record of this batch has reported.
                    let (back, i) = unsafe { slot.get() };
                    assert!(std::ptr::eq(back, &*batch));
                    assert_eq!(i, index);
                }
                _ => panic!("not a batch completion"),
            }
            assert_eq!(Arc::strong_count(&batch), 2);
        }
        assert!(Opaque::from(Completion::Logged).into_ptr().is_null());
    }

    #[test]
    fn polled_opaque_round_trips_to_its_entry_and_queue() {
        let queue = Arc::new(crate::polled::PollQueue::default());
        let ptr = Opaque::from(Completion::Polled(queue.entry(None, None, None))).into_ptr();
        assert_eq!(ptr as usize & (SLOT_TAG | ENTRY_TAG), ENTRY_TAG);
        assert_eq!(Arc::strong_count(&queue), 2, "ours, and the entry's");
        // SAFETY: made by into_ptr just above, turned back once.
        match Completion::from(unsafe { Opaque::from_ptr(ptr) }) {
            Completion::Polled(entry) => {
                (*entry).report(Err((Error::Closed, Delivered::failed("orders", None))))
            }
            _ => panic!("not a polled completion"),
        }
        assert_eq!(
            Arc::strong_count(&queue),
            1,
            "the report keeps no queue reference"
        );
        assert_eq!(queue.reports(), 1);
    }
}
