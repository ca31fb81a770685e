//! Delivery reports served by the caller's own `poll()`: confluent-kafka's model,
//! for `kafkify.compat.confluent_kafka` (python/kafkify/compat/confluent_kafka/).
//!
//! confluent-kafka runs a record's delivery callback from a later `poll()` or
//! `flush()`, on the thread that calls it; programs rely on that (no locking in
//! callbacks, counting reports per `poll`). Here the core's poll thread files each
//! report into the producer's [`PollQueue`] without the GIL, and the caller's
//! `poll` ([`face::PolledProducer`]) runs the callbacks. Both ends are native: a
//! shim written in Python cost ~5 µs per record (a report object, a queue, a
//! `Message` built in Python, three Python frames), twice what confluent-kafka's C
//! loop costs (benches/confluent_shim_loop.py).

pub mod face;
pub mod message;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use pyo3::prelude::*;

use crate::delivery::outcome::Outcome;

/// One record's report, as its `poll` needs it: the callback, and the key and
/// value objects its `Message` hands back (confluent-kafka's report carries them).
pub struct Entry {
    queue: Arc<PollQueue>,
    callback: Option<Py<PyAny>>,
    key: Option<Py<PyAny>>,
    value: Option<Py<PyAny>>,
    started: Instant,
}

impl Entry {
    /// File the record's outcome for the next `poll` (called without the GIL:
    /// the Python objects are only moved, never touched).
    pub fn report(self, outcome: Outcome) {
        let Entry {
            queue,
            callback,
            key,
            value,
            started,
        } = self;
        let latency = started.elapsed().as_secs_f64();
        queue.push(Report::Record(Served {
            callback,
            key,
            value,
            outcome,
            latency,
        }));
    }
}

/// A record's report waiting for `poll`.
pub struct Served {
    callback: Option<Py<PyAny>>,
    key: Option<Py<PyAny>>,
    value: Option<Py<PyAny>>,
    outcome: Outcome,
    /// Seconds from `produce` to the report (`Message.latency()`).
    latency: f64,
}

/// What `poll` serves, in the order it arrived.
pub enum Report {
    Record(Served),
    /// A client-level callback with its argument bound (`error_cb`, `stats_cb`),
    /// queued by the shim so that it too runs from `poll`.
    Call(Py<PyAny>),
}

/// The reports of one producer, waiting for `poll`.
#[derive(Default)]
pub struct PollQueue {
    state: Mutex<State>,
    ready: Condvar,
    /// Records produced whose report `poll` has not served yet (`len()`).
    pending: AtomicUsize,
}

#[derive(Default)]
struct State {
    reports: VecDeque<Report>,
    /// Threads waiting in `poll`: a report wakes them only if there are any (a
    /// futex wake per record, with nobody waiting, cost more than the push).
    waiters: usize,
}

impl PollQueue {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Poisoned only if a push or take panicked: the queue itself is consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn entry(
        self: &Arc<Self>,
        callback: Option<Py<PyAny>>,
        key: Option<Py<PyAny>>,
        value: Option<Py<PyAny>>,
    ) -> Box<Entry> {
        Box::new(Entry {
            queue: self.clone(),
            callback,
            key,
            value,
            started: Instant::now(),
        })
    }

    pub fn push(&self, report: Report) {
        let mut state = self.lock();
        state.reports.push_back(report);
        if state.waiters > 0 {
            self.ready.notify_all();
        }
    }

    /// Every report filed so far (empty if none).
    fn take_all(&self) -> VecDeque<Report> {
        std::mem::take(&mut self.lock().reports)
    }

    /// Put back, ahead of newer reports, what a `poll` could not serve (a callback raised).
    fn put_back(&self, mut rest: VecDeque<Report>) {
        let mut state = self.lock();
        rest.append(&mut state.reports);
        state.reports = rest;
    }

    /// Wait until a report is filed or `until` passes (call without the GIL).
    fn wait(&self, until: Instant) {
        let mut state = self.lock();
        state.waiters += 1;
        while state.reports.is_empty() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = match self.ready.wait_timeout(state, left) {
                Ok((s, _)) => s,
                Err(p) => p.into_inner().0,
            };
        }
        state.waiters -= 1;
    }

    fn is_empty(&self) -> bool {
        self.lock().reports.is_empty()
    }

    /// Reports filed and not yet taken (for tests).
    #[cfg(test)]
    pub fn reports(&self) -> usize {
        self.lock().reports.len()
    }

    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    fn add_pending(&self) {
        self.pending.fetch_add(1, Ordering::AcqRel);
    }

    fn sub_pending(&self) {
        self.pending.fetch_sub(1, Ordering::AcqRel);
    }
}
