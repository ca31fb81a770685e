//! Delivery reports: from librdkafka's poll thread to whoever waits for them.
//!
//! Three threads are involved and only one of them ever touches Python:
//! - librdkafka's broker threads send and receive;
//! - our **poll thread** serves librdkafka's event queue and calls
//!   [`Context::delivery`]. It never takes the GIL: a blocking `send` is woken
//!   through a condvar, and everything that needs Python becomes a [`Job`];
//! - our **dispatcher thread** takes the GIL once per batch of jobs, runs delivery
//!   callbacks, and resolves asyncio futures with one `call_soon_threadsafe` per
//!   event loop per batch (not one per record).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

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
use crate::observe::{self, Event, Observer};
use crate::wakeup::{LoopWaker, Ready};

/// Where a record landed (or was headed, for a failure).
#[derive(Debug, Clone)]
pub struct Delivered {
    pub topic: String,
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
            topic: topic.to_owned(),
            partition: partition.unwrap_or(-1),
            offset: -1,
            timestamp: -1,
            key_size: -1,
            value_size: -1,
            header_size: -1,
        }
    }
}

pub type Outcome = Result<Delivered, (Error, Delivered)>;

/// Something a blocking call waits on: one record's outcome, or a whole batch's.
pub trait Wait: Sync {
    type Output: Send;
    /// The result, if it is ready (taken: a second call returns None).
    fn take(&self) -> Option<Self::Output>;
    /// Wait up to `timeout` for the result.
    fn wait(&self, timeout: Duration) -> Option<Self::Output>;
}

/// A blocking `send` waits on one of these.
#[derive(Default)]
pub struct Waiter {
    slot: Mutex<Option<Outcome>>,
    ready: Condvar,
}

impl Waiter {
    fn set(&self, outcome: Outcome) {
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
        self.ready.notify_all();
    }
}

impl Wait for Waiter {
    type Output = Outcome;

    fn take(&self) -> Option<Outcome> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn wait(&self, timeout: Duration) -> Option<Outcome> {
        let guard = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        let (mut guard, _) = self
            .ready
            .wait_timeout_while(guard, timeout, |slot| slot.is_none())
            .unwrap_or_else(|p| p.into_inner());
        guard.take()
    }
}

/// The records of one `send_batch` / `send_batch_async` call: their outcomes in
/// input order, complete once the last one has reported.
pub struct Batch {
    state: Mutex<BatchState>,
    ready: Condvar,
    /// For `send_batch_async`: the future to resolve at the end, and its loop's waker.
    pub future: Option<(Arc<LoopWaker>, Py<PyAny>)>,
    /// Resolve with the first failure instead of a list with errors in place.
    pub raise_on_error: bool,
}

struct BatchState {
    outcomes: Vec<Option<Outcome>>,
    remaining: usize,
    taken: bool,
}

impl Batch {
    pub fn new(
        len: usize,
        future: Option<(Arc<LoopWaker>, Py<PyAny>)>,
        raise_on_error: bool,
    ) -> Arc<Self> {
        Arc::new(Batch {
            state: Mutex::new(BatchState {
                outcomes: (0..len).map(|_| None).collect(),
                remaining: len,
                taken: false,
            }),
            ready: Condvar::new(),
            future,
            raise_on_error,
        })
    }

    /// A batch of no records (complete from the start).
    pub fn is_empty(&self) -> bool {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .outcomes
            .is_empty()
    }

    /// Record one outcome; true when it was the last one missing.
    pub fn set(&self, index: usize, outcome: Outcome) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.outcomes[index].replace(outcome).is_none() {
            state.remaining -= 1;
        }
        let complete = state.remaining == 0;
        if complete {
            self.ready.notify_all();
        }
        complete
    }

    fn take_complete(state: &mut BatchState) -> Option<Vec<Outcome>> {
        if state.remaining != 0 || state.taken {
            return None;
        }
        state.taken = true;
        Some(state.outcomes.iter_mut().filter_map(Option::take).collect())
    }
}

impl Wait for Batch {
    type Output = Vec<Outcome>;

    fn take(&self) -> Option<Vec<Outcome>> {
        Batch::take_complete(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn wait(&self, timeout: Duration) -> Option<Vec<Outcome>> {
        let guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (mut guard, _) = self
            .ready
            .wait_timeout_while(guard, timeout, |state| state.remaining != 0)
            .unwrap_or_else(|p| p.into_inner());
        Batch::take_complete(&mut guard)
    }
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
    /// Record `index` of a batch.
    InBatch {
        batch: Arc<Batch>,
        index: usize,
    },
}

/// A record's [`Completion`] as librdkafka carries it (the message's opaque
/// pointer). Fire-and-forget records without a callback, the bulk of a pipeline,
/// travel as a null pointer: no allocation on the sending thread to be freed on
/// the poll thread (glibc makes such cross-thread frees contend for the arena).
pub struct Opaque(Option<Box<Completion>>);

impl From<Completion> for Opaque {
    fn from(completion: Completion) -> Self {
        match completion {
            Completion::Logged => Opaque(None),
            other => Opaque(Some(Box::new(other))),
        }
    }
}

impl From<Opaque> for Completion {
    fn from(opaque: Opaque) -> Self {
        opaque.0.map_or(Completion::Logged, |b| *b)
    }
}

impl IntoOpaque for Opaque {
    fn into_ptr(self) -> *mut std::ffi::c_void {
        self.0
            .map_or(std::ptr::null_mut(), |b| Box::into_raw(b).cast())
    }

    unsafe fn from_ptr(ptr: *mut std::ffi::c_void) -> Self {
        if ptr.is_null() {
            Opaque(None)
        } else {
            // SAFETY: a non-null opaque was made by `into_ptr` from a Box<Completion>
            // (the caller guarantees it is converted back once).
            Opaque(Some(unsafe { Box::from_raw(ptr.cast()) }))
        }
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
    /// Records queued and not yet reported back. librdkafka's `outq_len` also
    /// counts queued events (errors, logs), so it cannot say "records left".
    pending: AtomicUsize,
    /// Logger, on_error/on_stats hooks and counters (see `observe`).
    observer: Arc<Observer>,
}

impl Context {
    pub fn new(jobs: Sender<Job>, observer: Arc<Observer>) -> Self {
        Context {
            jobs: Mutex::new(jobs),
            pending: AtomicUsize::new(0),
            observer,
        }
    }

    /// Call before handing a record to librdkafka ...
    pub fn record_queued(&self) {
        self.pending.fetch_add(1, Ordering::AcqRel);
        self.observer.record_sent();
    }

    /// ... and this if librdkafka refused it.
    pub fn record_not_queued(&self) {
        self.pending.fetch_sub(1, Ordering::AcqRel);
        self.observer.record_unsent();
    }

    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
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
        self.pending.fetch_sub(1, Ordering::AcqRel);
        if let Some(event) = self.observer.delivery(result) {
            self.submit(Job::Observe(event));
        }
        if result.is_ok() && matches!(completion, Completion::Logged) {
            return; // fire-and-forget without a callback: nobody to tell
        }
        let outcome = match result {
            Ok(msg) => Ok(delivered(msg)),
            Err((err, msg)) => Err((
                errors::from_rdkafka(err, &format!("delivery to topic {:?} failed", msg.topic())),
                delivered(msg),
            )),
        };
        self.complete(completion, outcome);
    }
}

impl Context {
    /// Tell a record's caller its outcome: a delivery report, or a failure found
    /// before the record reached librdkafka (see `queue::Overflow`).
    pub fn complete(&self, completion: Completion, outcome: Outcome) {
        match completion {
            Completion::Blocking(waiter) => waiter.set(outcome),
            Completion::Future { waker, future } => waker.push(Ready::Record(future, outcome)),
            Completion::InBatch { batch, index } => {
                if batch.set(index, outcome) {
                    if let Some((waker, _)) = &batch.future {
                        waker.push(Ready::Batch(batch.clone()));
                    }
                }
            }
            Completion::Logged => {
                if let Err((err, _)) = &outcome {
                    self.submit(Job::Observe(self.observer.unclaimed_failure(err)));
                }
            }
            Completion::Callback(callback) => self.submit(Job::Callback(callback, outcome)),
        }
    }
}

fn delivered<M: Message>(msg: &M) -> Delivered {
    let size = |len: Option<usize>| len.map_or(-1, |n| n as i32);
    Delivered {
        topic: msg.topic().to_owned(),
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

/// A batch's result as Python sees it: a list of RecordMetadata (or the exception
/// for that record), or with `raise_on_error` the first failure in input order.
pub fn batch_result(
    py: Python<'_>,
    outcomes: Vec<Outcome>,
    raise_on_error: bool,
) -> (bool, Py<PyAny>) {
    let _paused = (outcomes.len() >= GC_PAUSE_AT).then(|| GcPause::new(py));
    let mut values = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        match outcome {
            Ok(d) => values.push(metadata_object(py, d)),
            Err((err, _)) => {
                let exc = err.to_py(py).into_value(py).into_any();
                if raise_on_error {
                    return (false, exc);
                }
                values.push(exc);
            }
        }
    }
    match PyList::new(py, values) {
        Ok(list) => (true, list.into_any().unbind()),
        Err(e) => (false, e.into_value(py).into_any()),
    }
}

fn metadata_object(py: Python<'_>, d: Delivered) -> Py<PyAny> {
    match Py::new(py, RecordMetadata::from(d)) {
        Ok(m) => m.into_any(),
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
