//! The producer's engine, without Python objects: the librdkafka client, its poll
//! and dispatcher threads, and a lifecycle that never loses queued records.
//!
//! Shutdown rules (the README's design notes, "No asyncio bridge crate", tell the
//! crashes at interpreter exit behind them):
//! - `close` flushes first; what is still queued when its time runs out is purged
//!   so each record's caller hears about it, and the count is reported.
//! - threads are joined with the GIL released, and nothing touches Python once the
//!   interpreter is finalizing (`_shutdown_all` runs from `atexit`, before that,
//!   and first waits for our threads that attach on their own: `exit_gate`).
//! - after `fork()` the child never touches the parent's threads or librdkafka
//!   handle: they do not exist there.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{Producer as _, PurgeConfig};

use crate::config::{self, Properties};
use crate::delivery::{self, Context, RdProducer};
use crate::errors::{self, Error, Result};
use crate::exit_gate;
use crate::expedite::Expediter;
use crate::observe::{self, Hooks, Observer};
use crate::queue::Overflow;
use crate::rd;
use crate::serve::Server;
use crate::timeout::Deadline;
use crate::warmup;

/// Bumped in the child after every `fork()` (see `lib.rs`).
pub static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);

/// Every live client, so `atexit` can flush and close the ones users forgot.
static LIVE: Mutex<Vec<Weak<Client>>> = Mutex::new(Vec::new());

/// How often blocking waits come up for air to run Python signal handlers (Ctrl+C).
pub const SIGNAL_CHECK_INTERVAL: Duration = Duration::from_millis(100);

pub struct Client {
    /// `None` once closed. Senders hold the read lock only while enqueuing.
    producer: RwLock<Option<Arc<RdProducer>>>,
    /// Serves librdkafka's report queue (with the poll thread, or a blocking caller).
    pub server: Arc<Server>,
    poller: Mutex<Option<JoinHandle<()>>>,
    dispatcher: Mutex<Option<JoinHandle<()>>>,
    /// Records from event-loop callers waiting for room in librdkafka's queue.
    pub overflow: Arc<Overflow>,
    overflow_thread: Mutex<Option<JoinHandle<()>>>,
    /// Sends awaited records once their loop goes idle (None with linger.ms=0).
    pub expediter: Option<Arc<Expediter>>,
    expedite_thread: Mutex<Option<JoinHandle<()>>>,
    /// Asks for the idempotent producer's id early (`warmup`); joined by `close()`.
    warmup_thread: Mutex<Option<JoinHandle<()>>>,
    pub properties: Properties,
    pub delivery_timeout: Duration,
    /// How long a close nobody asked for (GC, interpreter exit) waits (`exit_timeout_ms`).
    pub exit_timeout: Duration,
    /// Logger, hooks and counters; outlives `close()` so `metrics()` still answers.
    pub observer: Arc<Observer>,
    fork_generation: u64,
    pid: u32,
}

impl Client {
    /// `max_block`: how long a record may wait for room in a full queue (None: no
    /// limit); `exit_timeout`: how long an unattended close waits (see `close_unattended`).
    pub fn new(
        properties: Properties,
        hooks: Hooks,
        max_block: Option<Duration>,
        exit_timeout: Duration,
    ) -> Result<Arc<Client>> {
        let observer = Arc::new(Observer::new(&properties, hooks)?);
        observer.start_telemetry(&properties)?;
        let mut cfg = ClientConfig::new();
        for (k, v) in &properties.0 {
            cfg.set(k, v);
        }
        cfg.set_log_level(observer.log_level());
        let (jobs_tx, jobs_rx) = mpsc::channel();
        let producer: RdProducer = cfg
            .create_with_context(Context::new(jobs_tx, observer.clone()))
            .map_err(|e| config_error(&e))?;
        observer.attach(&producer);
        let producer = Arc::new(producer);
        let dispatcher = std::thread::Builder::new()
            .name("kafkify-dispatch".into())
            .spawn({
                let observer = observer.clone();
                move || delivery::run_dispatcher(jobs_rx, &observer)
            })
            .map_err(|e| Error::Config(format!("could not start a thread: {e}")))?;
        let server = Server::attach(&producer);
        let poller = {
            let (producer, server) = (producer.clone(), server.clone());
            std::thread::Builder::new()
                .name("kafkify-poll".into())
                .spawn(move || server.run_poll_thread(&producer))
                .map_err(|e| Error::Config(format!("could not start a thread: {e}")))?
        };
        let overflow = Overflow::new(max_block);
        let overflow_thread = {
            let (producer, overflow) = (producer.clone(), overflow.clone());
            std::thread::Builder::new()
                .name("kafkify-overflow".into())
                .spawn(move || overflow.run(producer))
                .map_err(|e| Error::Config(format!("could not start a thread: {e}")))?
        };
        // librdkafka's default linger.ms is 5 ms.
        let linger = config::librdkafka::millis(&properties, "linger.ms", "queue.buffering.max.ms");
        let expediter = Expediter::new(linger.unwrap_or(Duration::from_millis(5)));
        let expedite_thread = match &expediter {
            Some(expediter) => {
                let (producer, expediter) = (producer.clone(), expediter.clone());
                Some(
                    std::thread::Builder::new()
                        .name("kafkify-expedite".into())
                        .spawn(move || expediter.run(producer))
                        .map_err(|e| Error::Config(format!("could not start a thread: {e}")))?,
                )
            }
            None => None,
        };
        let delivery_timeout =
            config::librdkafka::millis(&properties, "delivery.timeout.ms", "message.timeout.ms")
                .unwrap_or(Duration::from_secs(300));
        let client = Arc::new(Client {
            producer: RwLock::new(Some(producer)),
            server,
            poller: Mutex::new(Some(poller)),
            dispatcher: Mutex::new(Some(dispatcher)),
            overflow,
            overflow_thread: Mutex::new(Some(overflow_thread)),
            expediter,
            expedite_thread: Mutex::new(expedite_thread),
            warmup_thread: Mutex::new(None),
            properties,
            delivery_timeout,
            exit_timeout,
            observer,
            fork_generation: FORK_GENERATION.load(Ordering::Acquire),
            pid: std::process::id(),
        });
        let weak = Arc::downgrade(&client);
        let producer = move || weak.upgrade().and_then(|c| c.producer().ok());
        *client
            .warmup_thread
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = warmup::spawn(&client.properties, producer);
        let mut live = LIVE.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&client));
        Ok(client)
    }

    pub fn forked(&self) -> bool {
        FORK_GENERATION.load(Ordering::Acquire) != self.fork_generation
    }

    fn check_fork(&self) -> Result<()> {
        if self.forked() {
            Err(Error::Forked {
                parent_pid: self.pid,
            })
        } else {
            Ok(())
        }
    }

    /// Run `f` with the librdkafka producer, unless closed (or forked).
    pub fn with_producer<T>(&self, f: impl FnOnce(&Arc<RdProducer>) -> Result<T>) -> Result<T> {
        self.check_fork()?;
        let guard = self.producer.read().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(p) => f(p),
            None => Err(Error::Closed),
        }
    }

    /// The librdkafka producer, for a wait that must not hold the client's lock
    /// (`close()` takes it; a metadata wait can last seconds). Drop it without
    /// the GIL: the last reference frees librdkafka, which joins its threads.
    pub fn producer(&self) -> Result<Arc<RdProducer>> {
        self.with_producer(|p| Ok(p.clone()))
    }

    pub fn is_closed(&self) -> bool {
        self.producer
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_none()
    }

    /// Undo `Context::record_queued` for a record that was not queued after all.
    /// Once closed only the counters `metrics()` reports are left to correct.
    pub fn record_not_queued(&self) {
        let uncounted = self.with_producer(|p| {
            p.context().record_not_queued();
            Ok(())
        });
        if uncounted.is_err() {
            self.observer.records_unsent(1);
        }
    }

    /// Records handed to librdkafka and not yet reported back.
    pub fn pending(&self) -> usize {
        self.with_producer(|p| Ok(p.context().pending()))
            .unwrap_or(0)
    }

    /// Wait until every queued record is delivered or failed, or `timeout` passes.
    /// Ctrl+C ends the wait (the records stay queued). Returns how many are left.
    pub fn flush(&self, py: Python<'_>, timeout: Option<Duration>) -> PyResult<usize> {
        let producer = self.with_producer(|p| Ok(p.clone()))?;
        let deadline = Deadline::after(timeout);
        let left = flush_interruptibly(py, &producer, &self.overflow, deadline, None)?;
        if left == 0 {
            self.wait_for_callbacks(py, &producer, deadline)?;
        }
        Ok(left)
    }

    /// Wait (GIL released) until the dispatcher has run the delivery callbacks of
    /// everything delivered so far, so that after `flush()` every `on_delivery` has
    /// been called. Not from the dispatcher itself (a callback calling flush()).
    fn wait_for_callbacks(
        &self,
        py: Python<'_>,
        producer: &RdProducer,
        deadline: Deadline,
    ) -> PyResult<()> {
        let on_dispatcher = self
            .dispatcher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_none_or(|h| h.thread().id() == std::thread::current().id());
        if on_dispatcher {
            return Ok(());
        }
        let mut reached = producer.context().barrier();
        loop {
            let waited;
            (reached, waited) = py.detach(move || {
                let waited = reached.recv_timeout(SIGNAL_CHECK_INTERVAL);
                (reached, waited)
            });
            if !matches!(waited, Err(mpsc::RecvTimeoutError::Timeout)) {
                return Ok(());
            }
            py.check_signals()?;
            if deadline.passed() {
                return Ok(()); // delivered; some callbacks are still running
            }
        }
    }
    /// Flush, then stop everything. Idempotent. Returns how many records were
    /// still undelivered when `timeout` ran out (they are purged and each one's
    /// caller gets an error). A KeyboardInterrupt during the flush is re-raised
    /// after the purge and shutdown.
    pub fn close(&self, py: Python<'_>, timeout: Option<Duration>) -> PyResult<usize> {
        let (result, left) = self.close_quietly(py, timeout);
        if left > 0 {
            observe::log(
                py,
                40,
                &format!("producer closed with {left} record(s) undelivered; each was reported to its caller as failed"),
                None,
            );
        }
        result
    }

    /// `close` without its log line: also returns how many records were left.
    fn close_quietly(&self, py: Python<'_>, timeout: Option<Duration>) -> (PyResult<usize>, usize) {
        if self.forked() {
            // The threads and the librdkafka handle belong to the parent process.
            self.abandon();
            return (Ok(0), 0);
        }
        // Without the GIL: a sender holds the read lock for a moment, with it.
        let taken = py.detach(|| {
            self.producer
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .take()
        });
        let Some(producer) = taken else {
            return (Ok(0), 0);
        };
        let handle = Arc::downgrade(&producer);
        // Nothing below may fail or panic: the producer is marked closed already,
        // and only the rest of this function stops its threads (issue 10, defect 3).
        let deadline = Deadline::after(timeout);
        let at_exit = Some((Instant::now(), self.exit_timeout.min(self.delivery_timeout)));
        let flushed = flush_interruptibly(py, &producer, &self.overflow, deadline, at_exit);
        let left = producer.context().pending();
        py.detach(|| {
            self.overflow.stop();
            if let Some(expediter) = &self.expediter {
                expediter.stop();
            }
            // The warmup thread sees the producer closed at its next request (its
            // current wait ends within warmup::MOST_WAIT, 800 ms).
            for thread in [
                &self.overflow_thread,
                &self.expedite_thread,
                &self.warmup_thread,
            ] {
                if let Some(handle) = thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
                    let _ = handle.join();
                }
            }
            if left > 0 {
                self.overflow.fail_all(&producer);
                producer.purge(PurgeConfig::default().queue().inflight());
            }
            if let Some(handle) = self.poller.lock().unwrap_or_else(|p| p.into_inner()).take() {
                self.server.stop();
                let _ = handle.join();
            }
            self.server.detach(&producer);
            // Serves the purged records' reports, then frees librdkafka.
            drop(producer);
        });
        self.join_dispatcher(py, &handle);
        (flushed.map(|_| left), left)
    }

    /// Wait until the delivery callbacks of the records reported so far have run.
    /// `handle`: the librdkafka handle, freed by now unless a frame still holds it.
    fn join_dispatcher(&self, py: Python<'_>, handle: &Weak<RdProducer>) {
        let dispatcher = self
            .dispatcher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some(dispatcher) = dispatcher else { return };
        if dispatcher.thread().id() == std::thread::current().id() {
            return; // close() called from a delivery callback: it exits by itself.
        }
        if let Some(held) = handle.upgrade() {
            // Held by a frame this close() interrupted (a signal handler's close()
            // during send, flush or send_batch): the dispatcher ends only once that
            // frame lets go, after this call returns. Wait for the callbacks already
            // queued instead, and leave the thread to end by itself.
            let reached = held.context().barrier();
            drop(held);
            py.detach(move || {
                let _ = reached.recv_timeout(Duration::from_secs(5));
            });
            return;
        }
        let handle = dispatcher;
        // The dispatcher ends once the librdkafka handle (owner of its channel) is
        // freed; a blocking send still finishing may hold it a moment longer.
        py.detach(|| {
            let deadline = Instant::now() + Duration::from_secs(5);
            while !handle.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            if handle.is_finished() {
                let _ = handle.join();
            }
        });
    }

    /// In a forked child: forget the parent's handle and threads without touching them.
    fn abandon(&self) {
        if let Some(p) = self
            .producer
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            std::mem::forget(p);
        }
        std::mem::forget(self.poller.lock().unwrap_or_else(|p| p.into_inner()).take());
        for thread in [&self.overflow_thread, &self.expedite_thread] {
            std::mem::forget(thread.lock().unwrap_or_else(|p| p.into_inner()).take());
        }
        std::mem::forget(
            self.dispatcher
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        );
    }
}

/// Flush in short slices with the GIL released, running signal handlers between.
fn flush_interruptibly(
    py: Python<'_>,
    producer: &Arc<RdProducer>,
    overflow: &Overflow,
    deadline: Deadline,
    at_exit: Option<(Instant, Duration)>,
) -> PyResult<usize> {
    loop {
        let slice = deadline.window(SIGNAL_CHECK_INTERVAL);
        let done = py.detach(|| {
            if overflow.is_empty() {
                return rd::flush_slice(producer, slice) && overflow.is_empty();
            }
            // Records still wait for room: librdkafka's queue drains meanwhile.
            rd::flush_slice(producer, slice.min(Duration::from_millis(1)));
            std::thread::sleep(Duration::from_micros(200));
            false
        });
        if done {
            return Ok(0);
        }
        py.check_signals()?;
        // A close (begun at .0) still flushing .1 after interpreter exit began (a
        // `stop()` nobody awaits; see `exit_gate`) ends like the exit's own closes.
        let outlasted =
            at_exit.is_some_and(|(began, bound)| exit_gate::exit_outlasted(began, bound));
        if deadline.passed() || outlasted {
            return Ok(producer.context().pending());
        }
    }
}

fn config_error(err: &rdkafka::error::KafkaError) -> Error {
    use rdkafka::error::KafkaError as E;
    match err {
        E::ClientConfig(_, description, key, value) => {
            let shown = config::redacted(key, value);
            if description.contains("No such configuration property") {
                config::unknown_name(key, config::librdkafka::rdkafka_properties())
            } else {
                Error::Config(format!(
                    "invalid value for '{key}': {shown:?}: {description}"
                ))
            }
        }
        E::ClientCreation(msg) => {
            Error::Config(format!("librdkafka rejected the configuration: {msg}"))
        }
        other => errors::from_rdkafka(other, "creating the producer"),
    }
}

/// Close a garbage-collected producer's client on a thread of its own, so that
/// dropping the last reference never blocks: it may happen on an event loop's
/// thread (the loop would stall for the whole flush) or in any frame the cyclic
/// collector interrupts. `_shutdown_all` waits for these closes (their pass, see
/// `exit_gate`) before the interpreter finalizes; once it has begun, the close
/// happens here, as before.
pub fn close_in_background(client: Arc<Client>, why: &'static str) {
    let spawned = exit_gate::Pass::take().and_then(|pass| {
        let client = client.clone();
        std::thread::Builder::new()
            .name("kafkify-close".into())
            .spawn(move || {
                let _ = exit_gate::attach(Some(pass), |py| close_unattended(py, &client, why));
            })
            .ok()
    });
    if spawned.is_none() {
        let _ = Python::try_attach(|py| close_unattended(py, &client, why));
    }
}

/// Flush and close every client still open: called from `atexit`, before the
/// interpreter starts finalizing, each bounded by its `exit_timeout_ms`. Closes
/// already running on threads of ours (garbage-collected producers, `stop()`,
/// `async with`) are waited for first: they are bounded too, and a thread that
/// needs the GIL once the interpreter finalizes aborts the process (`exit_gate`).
#[pyfunction]
pub fn _shutdown_all(py: Python<'_>) -> PyResult<()> {
    exit_gate::close(py);
    let clients: Vec<Arc<Client>> = LIVE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .drain(..)
        .filter_map(|w| w.upgrade())
        .collect();
    for client in clients {
        if client.is_closed() || client.forked() {
            continue;
        }
        close_unattended(py, &client, "interpreter exit");
    }
    Ok(())
}

/// Close a client nobody closed (garbage collection, interpreter exit), saying so:
/// its records get `exit_timeout_ms` to be delivered; the rest are purged, each
/// reported failed to its caller, and one line says how many were abandoned.
pub fn close_unattended(py: Python<'_>, client: &Client, why: &str) {
    let pending = client.pending();
    let bound = client.exit_timeout.min(client.delivery_timeout);
    if pending > 0 {
        observe::log(
            py,
            30,
            &format!(
                "{why}: flushing {pending} undelivered record(s) (up to {:.1} s, exit_timeout_ms; Ctrl+C aborts)",
                bound.as_secs_f64()
            ),
            None,
        );
    }
    match client.close_quietly(py, Some(bound)) {
        (Ok(0), _) => {}
        (Ok(left), _) => observe::log(
            py,
            40,
            &format!(
                "{why}: {left} record(s) abandoned, not delivered within {:.1} s (exit_timeout_ms); each was reported to its caller as failed",
                bound.as_secs_f64()
            ),
            None,
        ),
        (Err(err), left) => {
            // Ctrl+C: the records left were purged and reported in close().
            observe::log(
                py,
                40,
                &format!("{why}: flush interrupted; {left} record(s) abandoned, each reported to its caller as failed"),
                Some(err),
            );
        }
    }
}
