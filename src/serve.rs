//! Serving librdkafka's report queue: by the poll thread, or, while a blocking
//! call (`send`, `send_batch`) waits, by that caller itself.
//!
//! Why the caller: a report served by the poll thread reaches a waiting caller
//! only after a second wakeup (broker thread → poll thread → caller), where
//! confluent-kafka's `flush` serves the queue on the calling thread (one wakeup).
//! On loopback that second hop is ~40–50 µs of a ~150–400 µs blocking send.
//!
//! How: nobody blocks inside librdkafka's queue poll. librdkafka calls
//! [`on_queue_event`] when its queue goes from empty to non-empty (from the
//! thread that enqueued); that wakes the servers through our own condvar, and a
//! server drains the queue with non-blocking polls ([`drain`]). While a caller
//! waits, the poll thread stands by, so the caller gets its report itself; every
//! drain wakes the other waiters, whose reports it may have served.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::delivery::RdProducer;
use crate::rd::{self, QueueEvents, QueueWatch};

pub struct Server {
    state: Mutex<State>,
    /// Wakes blocking callers: an event, or another server's drain.
    for_callers: Condvar,
    /// Wakes the poll thread: an event while no caller serves, or `stop`.
    for_poll_thread: Condvar,
    /// librdkafka's callback into [`QueueEvents::queue_event`], until `detach`.
    watch: Mutex<Option<QueueWatch>>,
}

#[derive(Default)]
struct State {
    /// Bumped when the queue gets something to serve.
    events: u64,
    /// An event came since a server last started draining.
    pending: bool,
    /// Bumped after each drain that served something (a waiter's report may be in it).
    served: u64,
    /// Blocking callers serving the queue now; the poll thread stands by meanwhile.
    callers: usize,
    stop: bool,
}

/// How long the poll thread sleeps without a queue event before draining anyway
/// (a safety net: every event wakes it at once).
const POLL_THREAD_NAP: Duration = Duration::from_millis(50);

impl Server {
    /// A server for `producer`'s queue: from now on librdkafka tells it about new
    /// reports. [`Server::detach`] before the producer is destroyed.
    pub fn attach(producer: &RdProducer) -> Arc<Self> {
        let server = Arc::new(Server {
            state: Mutex::new(State::default()),
            for_callers: Condvar::new(),
            for_poll_thread: Condvar::new(),
            watch: Mutex::new(None),
        });
        let watch = rd::watch_queue(producer, server.clone());
        *server.watch.lock().unwrap_or_else(|p| p.into_inner()) = Some(watch);
        server
    }

    /// Stop librdkafka's callbacks (once, before the producer goes).
    pub fn detach(self: &Arc<Self>, producer: &RdProducer) {
        let watch = self.watch.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(watch) = watch {
            rd::unwatch_queue::<_, Server>(producer, watch);
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The poll thread's body, until [`Server::stop`].
    pub fn run_poll_thread(&self, producer: &RdProducer) {
        loop {
            {
                let mut state = self.lock();
                if state.stop {
                    return;
                }
                state.pending = false;
            }
            self.drain(producer);
            let mut state = self.lock();
            let nap_end = Instant::now() + POLL_THREAD_NAP;
            // Sleep until an event comes that no blocking caller is there to serve.
            while !state.stop && (!state.pending || state.callers > 0) {
                let now = Instant::now();
                if now >= nap_end {
                    break;
                }
                state = self
                    .for_poll_thread
                    .wait_timeout(state, nap_end - now)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        }
    }

    pub fn stop(&self) {
        self.lock().stop = true;
        self.for_poll_thread.notify_all();
    }

    /// Wake whoever serves now: the blocking callers, else the poll thread.
    fn wake_servers(&self, state: &State) {
        if state.callers > 0 {
            self.for_callers.notify_all();
        } else {
            self.for_poll_thread.notify_one();
        }
    }

    /// Serve the queue on this thread until `done` says so or `until` passes
    /// (None). `keep_sending` runs at every wakeup (the caller keeps librdkafka
    /// sending at once, see `Expediter::kick`).
    pub fn serve_until<T>(
        &self,
        producer: &RdProducer,
        until: Instant,
        mut done: impl FnMut() -> Option<T>,
        keep_sending: impl Fn(),
    ) -> Option<T> {
        let _caller = Caller::enter(self);
        loop {
            if let Some(outcome) = done() {
                return Some(outcome);
            }
            let seen = {
                let mut state = self.lock();
                state.pending = false;
                (state.events, state.served)
            };
            self.drain(producer);
            if let Some(outcome) = done() {
                return Some(outcome);
            }
            keep_sending();
            let mut state = self.lock();
            while (state.events, state.served) == seen {
                let now = Instant::now();
                if now >= until {
                    return done();
                }
                state = self
                    .for_callers
                    .wait_timeout(state, until - now)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        }
    }

    /// Serve every event in the queue (delivery reports run `Context::delivery`
    /// on this thread), then wake the other waiters if any was served.
    fn drain(&self, producer: &RdProducer) {
        // Serves one event at a time, without blocking.
        let served = rd::while_queued(producer, || producer.poll(Duration::ZERO));
        if served {
            let mut state = self.lock();
            state.served += 1;
            if state.callers > 0 {
                self.for_callers.notify_all();
            }
        }
    }
}

/// A blocking caller, counted while it serves (the poll thread stands by).
struct Caller<'a>(&'a Server);

impl<'a> Caller<'a> {
    fn enter(server: &'a Server) -> Self {
        server.lock().callers += 1;
        Caller(server)
    }
}

impl Drop for Caller<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.callers -= 1;
        if state.callers == 0 && state.pending {
            // The poll thread takes over (events may have come since the last drain).
            self.0.for_poll_thread.notify_one();
        }
    }
}

/// Called by librdkafka, from the thread that enqueued, under the queue's lock,
/// when the report queue goes from empty to non-empty: only wake the servers.
impl QueueEvents for Server {
    fn queue_event(&self) {
        let mut state = self.lock();
        state.events += 1;
        state.pending = true;
        self.wake_servers(&state);
    }
}
