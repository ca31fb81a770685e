//! Delivery reports: from librdkafka's report queue to whoever waits for them.
//!
//! Only one of the threads involved ever touches Python:
//! - librdkafka's broker threads send and receive;
//! - whoever serves the report queue (our poll thread, or a blocking caller while
//!   it waits: see `serve`) calls [`Context::delivery`], without the GIL: a
//!   blocking call's [`Waiter`] or [`Batch`] is filled in, an awaited record's
//!   future is queued for its loop (`wakeup`), and everything else that needs
//!   Python becomes a [`Job`];
//! - our **dispatcher thread** takes the GIL once per batch of jobs: delivery
//!   callbacks and log lines.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PyModule, PyTuple};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError as RdError;
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{DeliveryResult, ProducerContext};
use rdkafka::util::IntoOpaque;

use crate::errors::{self, Error};
use crate::metadata::RecordMetadata;
use crate::observe::{self, Event, Observer, OwnLine};
use crate::wakeup::{LoopWaker, Ready};

/// Where a record landed (or was headed, for a failure).
#[derive(Debug, Clone)]
pub struct Delivered {
    /// Shared: a batch's reports all name the same topic (see [`topic_name`]).
    pub topic: Arc<str>,
    pub at: Landed,
}

/// Where a record landed, without its topic: what a batch keeps per record (it
/// stores its topic once). -1 where unknown.
#[derive(Debug, Clone, Copy)]
pub struct Landed {
    pub partition: i32,
    pub offset: i64,
    pub timestamp: i64,
    pub key_size: i32,
    pub value_size: i32,
    pub header_size: i32,
}

impl Delivered {
    /// Where a record that never reached the broker was headed.
    pub fn failed(topic: &str, partition: Option<i32>) -> Self {
        Delivered {
            topic: Arc::from(topic),
            at: Landed {
                partition: partition.unwrap_or(-1),
                offset: -1,
                timestamp: -1,
                key_size: -1,
                value_size: -1,
                header_size: -1,
            },
        }
    }
}

pub type Outcome = Result<Delivered, (Error, Delivered)>;

/// Something a blocking call waits on: one record's outcome, or a whole batch's.
/// The waiting thread serves the report queue meanwhile (see `serve`), so it
/// only needs to look: whoever serves a report wakes the waiters.
pub trait Wait: Sync {
    type Output: Send;
    /// The result, if it is ready (taken: a second call returns None).
    fn take(&self) -> Option<Self::Output>;
}

/// A blocking `send` waits on one of these.
#[derive(Default)]
pub struct Waiter {
    slot: Mutex<Option<Outcome>>,
}

impl Waiter {
    fn set(&self, outcome: Outcome) {
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
    }
}

impl Wait for Waiter {
    type Output = Outcome;

    fn take(&self) -> Option<Outcome> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// The records of one `send_batch` / `send_batch_async` call: their outcomes in
/// input order, complete once the last one has reported.
///
/// Built for 100k+ records, where anything shared between the sending thread and
/// the poll thread per record shows up (a counter both write bounces its cache
/// line between the cores for every record):
/// - one slot per record (48 bytes, in one allocation) takes a success report
///   without a lock; failures (rare) go to a list; the topic is stored once;
/// - a record's opaque pointer is its slot's address ([`BatchSlot`]), so librdkafka
///   carries no allocation of ours, and the records in flight share one reference
///   to the batch (taken by [`Batch::new`], handed back by the last report) rather
///   than one reference count update per record.
pub struct Batch {
    topic: Arc<str>,
    slots: Box<[Slot]>,
    /// Records not yet reported; the one that brings it to 0 completes the batch.
    /// Written by the poll thread for every record: on its own cache line.
    remaining: OwnLine<AtomicUsize>,
    /// Failed records: (index, error).
    failures: Mutex<Vec<(usize, Error)>>,
    /// Whether the result was taken (built once).
    taken: Mutex<bool>,
    /// For `send_batch_async`: the future to resolve at the end, and its loop's waker.
    pub future: Option<(Arc<LoopWaker>, Py<PyAny>)>,
    /// Resolve with the first failure instead of a list with errors in place.
    pub raise_on_error: bool,
}

/// One record of a [`Batch`]: where it landed, once reported. Written once by
/// whichever thread reports the record, read after `remaining` reached 0 (the
/// AcqRel count orders them), so relaxed atomics are enough.
struct Slot {
    /// The batch's own address (the same in every slot): a [`BatchSlot`] yields
    /// both the batch and the record's index.
    batch: *const Batch,
    reported: AtomicBool,
    partition: AtomicI32,
    key_size: AtomicI32,
    value_size: AtomicI32,
    header_size: AtomicI32,
    offset: AtomicI64,
    timestamp: AtomicI64,
}

const _: () = assert!(std::mem::size_of::<Slot>() == 48, "the size the docs give");

// SAFETY: `batch` is only an address, dereferenced by `BatchSlot::get` while the
// batch's in-flight reference is held; the rest are atomics.
unsafe impl Send for Slot {}
unsafe impl Sync for Slot {}

/// A batch whose result may now be built (see [`Batch::result`]); once per batch.
pub struct Complete;

impl Batch {
    pub fn new(
        topic: &str,
        len: usize,
        future: Option<(Arc<LoopWaker>, Py<PyAny>)>,
        raise_on_error: bool,
    ) -> Arc<Self> {
        let batch = Arc::new_cyclic(|this| Batch {
            topic: Arc::from(topic),
            slots: (0..len)
                .map(|_| Slot {
                    batch: this.as_ptr(),
                    reported: AtomicBool::new(false),
                    partition: AtomicI32::new(-1),
                    key_size: AtomicI32::new(-1),
                    value_size: AtomicI32::new(-1),
                    header_size: AtomicI32::new(-1),
                    offset: AtomicI64::new(-1),
                    timestamp: AtomicI64::new(-1),
                })
                .collect(),
            remaining: OwnLine(AtomicUsize::new(len)),
            failures: Mutex::new(Vec::new()),
            taken: Mutex::new(false),
            future,
            raise_on_error,
        });
        if len > 0 {
            // The in-flight records' reference, handed back by `report` for the last one.
            std::mem::forget(batch.clone());
        }
        batch
    }

    /// Where record `index`'s report goes: its slot (see [`BatchSlot`]).
    pub fn slot(&self, index: usize) -> BatchSlot {
        BatchSlot(&self.slots[index] as *const Slot as usize | SLOT_TAG)
    }

    /// Record one outcome. The last one missing completes the batch and gets the
    /// in-flight records' reference to it (to wake an async caller, or drop).
    pub fn report(&self, index: usize, outcome: Result<Landed, Error>) -> Option<Arc<Batch>> {
        // SAFETY: `set` says true once per batch, and only for a batch that had
        // records, whose in-flight reference `new` made and nobody else takes.
        self.set(index, outcome)
            .then(|| unsafe { Arc::from_raw(self as *const Batch) })
    }

    /// A batch of no records (complete from the start).
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Record one outcome; true when it was the last one missing.
    fn set(&self, index: usize, outcome: Result<Landed, Error>) -> bool {
        let slot = &self.slots[index];
        if slot.reported.swap(true, Ordering::Relaxed) {
            return false; // reported already (a report and a refusal cannot both come)
        }
        match outcome {
            Ok(d) => {
                slot.partition.store(d.partition, Ordering::Relaxed);
                slot.key_size.store(d.key_size, Ordering::Relaxed);
                slot.value_size.store(d.value_size, Ordering::Relaxed);
                slot.header_size.store(d.header_size, Ordering::Relaxed);
                slot.offset.store(d.offset, Ordering::Relaxed);
                slot.timestamp.store(d.timestamp, Ordering::Relaxed);
            }
            Err(err) => lock(&self.failures).push((index, err)),
        }
        self.remaining.fetch_sub(1, Ordering::AcqRel) == 1
    }

    /// The batch's result as Python sees it: a list of RecordMetadata (or the
    /// exception for that record), or with `raise_on_error` the first failure in
    /// input order. Call once, with the [`Complete`] that `take` gave.
    pub fn result(&self, py: Python<'_>, _complete: Complete) -> (bool, Py<PyAny>) {
        let mut failures = std::mem::take(&mut *lock(&self.failures));
        failures.sort_unstable_by_key(|(index, _)| *index);
        let mut failures = failures.into_iter().peekable();
        if self.raise_on_error {
            if let Some((_, err)) = failures.next() {
                return (false, err.to_py(py).into_value(py).into_any());
            }
        }
        let _paused = (self.slots.len() >= GC_PAUSE_AT).then(|| GcPause::new(py));
        let mut values = Vec::with_capacity(self.slots.len());
        for (index, slot) in self.slots.iter().enumerate() {
            if failures.peek().is_some_and(|(i, _)| *i == index) {
                if let Some((_, err)) = failures.next() {
                    values.push(err.to_py(py).into_value(py).into_any());
                    continue;
                }
            }
            let at = Landed {
                partition: slot.partition.load(Ordering::Relaxed),
                offset: slot.offset.load(Ordering::Relaxed),
                timestamp: slot.timestamp.load(Ordering::Relaxed),
                key_size: slot.key_size.load(Ordering::Relaxed),
                value_size: slot.value_size.load(Ordering::Relaxed),
                header_size: slot.header_size.load(Ordering::Relaxed),
            };
            let topic = self.topic.clone();
            values.push(metadata_object(py, Delivered { topic, at }));
        }
        match PyList::new(py, values) {
            Ok(list) => (true, list.into_any().unbind()),
            Err(e) => (false, e.into_value(py).into_any()),
        }
    }
}

impl Batch {
    /// `send_batch_async`: resolve the future with the result, once complete
    /// (and only once; a batch without a future has nothing to do).
    pub fn settle_future(&self, py: Python<'_>) -> PyResult<()> {
        // The future first: a blocking batch's result is its caller's to take.
        let Some((_, future)) = &self.future else {
            return Ok(());
        };
        let Some(complete) = self.take() else {
            return Ok(());
        };
        let (ok, value) = self.result(py, complete);
        settle(future.bind(py), ok, value.bind(py))
    }
}

impl Wait for Batch {
    type Output = Complete;

    fn take(&self) -> Option<Complete> {
        let mut taken = lock(&self.taken);
        if self.remaining.load(Ordering::Acquire) != 0 || *taken {
            return None;
        }
        *taken = true;
        Some(Complete)
    }
}

/// A mutex's guard, also after a panic elsewhere (the data stays consistent: every
/// critical section here is a single push, take or flag).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

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
}

/// Record `i` of a [`Batch`], as it travels: the tagged address of the batch's
/// slot `i`. It owns nothing: the batch's in-flight reference keeps the batch
/// alive until its last record has reported, so handing one over touches no
/// shared counter.
#[derive(Clone, Copy)]
pub struct BatchSlot(usize);

impl BatchSlot {
    /// The batch and the record's index.
    ///
    /// # Safety
    /// The record has not reported yet (so the in-flight reference is held).
    unsafe fn get<'a>(self) -> (&'a Batch, usize) {
        let slot = (self.0 & !SLOT_TAG) as *const Slot;
        // SAFETY: the caller guarantees the batch (and its slots) are alive.
        let batch = unsafe { &*(*slot).batch };
        let offset = slot as usize - batch.slots.as_ptr() as usize;
        (batch, offset / std::mem::size_of::<Slot>())
    }
}

/// Set in an opaque pointer that points at a batch slot (slots and boxes are
/// 8-byte aligned, so the bit is free).
const SLOT_TAG: usize = 1;

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
pub struct Opaque(*mut std::ffi::c_void);

// SAFETY: an Opaque owns a Completion (or is a batch record's slot address), and
// Completion is Send + Sync.
unsafe impl Send for Opaque {}
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
        }
    }

    /// A batch record's outcome into its slot; the last one wakes an async caller.
    fn report_in_batch(&self, slot: BatchSlot, outcome: Result<Landed, Error>) {
        // SAFETY: this is the record's one report.
        let (batch, index) = unsafe { slot.get() };
        if let Some(batch) = batch.report(index, outcome) {
            if let Some((waker, _)) = &batch.future {
                waker.push(Ready::Batch(batch.clone()));
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
pub fn run_dispatcher(jobs: Receiver<Job>) {
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
        let _ = Python::try_attach(|py| dispatch(py, batch));
    }
}

fn dispatch(py: Python<'_>, batch: Vec<Job>) {
    for job in batch {
        match job {
            Job::Observe(event) => event.run(py),
            Job::Barrier(reached) => {
                let _ = reached.send(());
            }
            Job::Callback(callback, outcome) => run_callback(py, &callback, outcome),
        }
    }
}

/// A record's outcome as Python sees it: (true, RecordMetadata) or (false, exception).
pub fn outcome_value(py: Python<'_>, outcome: Outcome) -> (bool, Py<PyAny>) {
    match outcome {
        Ok(d) => (true, metadata_object(py, d)),
        Err((err, _)) => (false, err.to_py(py).into_value(py).into_any()),
    }
}

/// Batches at least this large build their results with the cyclic GC paused.
const GC_PAUSE_AT: usize = 10_000;

/// Pauses Python's cyclic garbage collector while a batch's RecordMetadata objects
/// are made: every 700 new objects trigger a collection, and the survivors pile
/// into full collections of the whole heap (measured: ~15 % of a 200k-record
/// `send_batch`). The objects hold no references, so they cannot form cycles.
struct GcPause<'py> {
    gc: Option<Bound<'py, PyModule>>,
}

impl<'py> GcPause<'py> {
    fn new(py: Python<'py>) -> Self {
        let gc = py.import("gc").ok().filter(|gc| {
            gc.call_method0("isenabled")
                .and_then(|on| on.is_truthy())
                .unwrap_or(false)
                && gc.call_method0("disable").is_ok()
        });
        GcPause { gc }
    }
}

impl Drop for GcPause<'_> {
    fn drop(&mut self) {
        if let Some(gc) = &self.gc {
            let _ = gc.call_method0("enable");
        }
    }
}

/// A `RecordMetadata`, not tracked by the cyclic garbage collector.
///
/// pyo3 makes every class a GC type, so 200k results of a batch would sit in the
/// collector's youngest generation and be traversed by the next collections (a
/// few % of a `send_batch`). A RecordMetadata holds no Python references, so it
/// can never be part of a cycle: CPython itself untracks tuples and dicts that
/// hold only atomic values, the same way.
fn metadata_object(py: Python<'_>, d: Delivered) -> Py<PyAny> {
    match Py::new(py, RecordMetadata::from(d)) {
        Ok(m) => {
            // SAFETY: a live object of a GC type; untracking twice (pyo3's dealloc
            // does it again) is allowed.
            unsafe { pyo3::ffi::PyObject_GC_UnTrack(m.as_ptr().cast()) };
            m.into_any()
        }
        Err(e) => e.into_value(py).into_any(),
    }
}

/// Hand a batch of resolutions to the loop that owns the futures, in one wakeup.
pub fn schedule_resolution(
    py: Python<'_>,
    event_loop: &Bound<'_, PyAny>,
    items: Vec<Bound<'_, PyTuple>>,
) {
    let result = (|| -> PyResult<()> {
        let resolver = resolver(py)?;
        let list = PyList::new(py, items)?;
        event_loop.call_method1(pyo3::intern!(py, "call_soon_threadsafe"), (resolver, list))?;
        Ok(())
    })();
    // A closed loop (the program moved on without awaiting) is not an error: the
    // records were delivered, there is just nobody left to tell.
    if let Err(err) = result {
        if !event_loop
            .call_method0(pyo3::intern!(py, "is_closed"))
            .and_then(|c| c.is_truthy())
            .unwrap_or(true)
        {
            log(py, 40, "could not resolve send_async futures", Some(err));
        }
    }
}

fn resolver(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static RESOLVER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    RESOLVER
        .get_or_try_init(py, || {
            Ok(pyo3::wrap_pyfunction!(resolve_futures, py)?
                .into_any()
                .unbind())
        })
        .map(|f| f.bind(py))
}

/// Runs on the event loop's thread: set each future's result or exception, skipping
/// futures already done (their awaiting task was cancelled).
#[pyfunction]
fn resolve_futures(items: &Bound<'_, PyList>) -> PyResult<()> {
    for item in items.iter() {
        let (future, ok, value): (Bound<'_, PyAny>, bool, Bound<'_, PyAny>) = item.extract()?;
        settle(&future, ok, &value)?;
    }
    Ok(())
}

/// Set an asyncio future's result (`ok`) or exception, unless it is done already
/// (its awaiting task was cancelled, or a `send_async` timeout fired first).
pub fn settle(future: &Bound<'_, PyAny>, ok: bool, value: &Bound<'_, PyAny>) -> PyResult<()> {
    let py = future.py();
    if future
        .call_method0(pyo3::intern!(py, "done"))?
        .is_truthy()?
    {
        return Ok(());
    }
    let method = if ok {
        pyo3::intern!(py, "set_result")
    } else {
        pyo3::intern!(py, "set_exception")
    };
    future.call_method1(method, (value,))?;
    Ok(())
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
        log(
            py,
            40,
            "on_delivery callback raised an exception",
            Some(raised),
        );
    }
}

/// Log on the `kafkify` logger (with the exception's traceback when given).
pub fn log(py: Python<'_>, level: i32, message: &str, exc: Option<PyErr>) {
    observe::log_to(py, "kafkify", level, message, exc);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn landed(partition: i32, offset: i64) -> Result<Landed, Error> {
        Ok(Landed {
            partition,
            offset,
            ..Delivered::failed("orders", None).at
        })
    }

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

    /// An empty batch is complete from the start and holds no in-flight reference.
    #[test]
    fn an_empty_batch_is_complete_at_once() {
        let batch = Batch::new("orders", 0, None, false);
        assert_eq!(Arc::strong_count(&batch), 1);
        assert!(batch.take().is_some());
    }

    /// Outcomes land in their slots; the batch completes on the last one, once,
    /// and a second report for the same record changes nothing.
    #[test]
    fn a_batch_completes_once_with_every_outcome_in_place() {
        let batch = Batch::new("orders", 3, None, false);
        assert!(batch.report(2, landed(1, 7)).is_none());
        assert!(batch.take().is_none(), "not complete yet");
        let failure = Error::Timeout("gone".into());
        assert!(batch.report(0, Err(failure)).is_none());
        assert!(batch.report(2, landed(9, 9)).is_none(), "reported already");
        let in_flight = batch.report(1, landed(0, 3)).expect("the last report");
        assert!(Arc::ptr_eq(&in_flight, &batch));
        drop(in_flight);
        assert_eq!(
            Arc::strong_count(&batch),
            1,
            "the in-flight reference came back"
        );
        assert!(batch.take().is_some());
        assert!(batch.take().is_none(), "the result is taken once");
        let slot = &batch.slots[2];
        assert_eq!(slot.partition.load(Ordering::Relaxed), 1);
        assert_eq!(slot.offset.load(Ordering::Relaxed), 7);
        assert_eq!(lock(&batch.failures).len(), 1);
        assert_eq!(lock(&batch.failures)[0].0, 0);
    }
}
