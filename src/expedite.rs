//! Awaited records go out when the event loop goes idle, not after `linger.ms`.
//!
//! `linger.ms` lets records share batches: librdkafka holds a batch open until it
//! is full or the linger runs out. That is right while a program keeps producing,
//! and pure delay once every task is awaiting its own delivery: nothing else is
//! coming, yet each `await send_async(...)` would cost linger + a round trip
//! (5 ms + ~0.5 ms with the default linger, 100 awaiting tasks capped at
//! 100 records per linger).
//!
//! So the first `send_async` / `send_batch_async` of an event-loop iteration
//! schedules a [`Kick`] with `loop.call_soon`. It runs after every callback that
//! was ready in that iteration, i.e. once the tasks that just sent have yielded,
//! so the records of one wave of tasks still share batches. The kick wakes the
//! `kafkify-expedite` thread, which holds librdkafka in flush mode (linger treated
//! as 0, the same mode a blocking `send` waits in) until the queue drains, or until
//! `linger.ms` has passed since the last kick (by then the linger would have sent
//! those records anyway). A producer with `linger.ms=0` starts no such thread.
//! `produce()` (fire-and-forget) never kicks: its records keep lingering.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use crate::delivery::RdProducer;
use crate::rd;

pub struct Expediter {
    /// When a kick was last scheduled on some loop and has not run yet (µs since
    /// `since_epoch`'s epoch, 0: none), so a busy loop gets one kick per iteration.
    scheduled: AtomicU64,
    state: Mutex<State>,
    kicked: Condvar,
    linger: Duration,
}

#[derive(Default)]
struct State {
    /// When the latest kick ran, until the thread picks it up.
    kick: Option<Instant>,
    stop: bool,
}

impl Expediter {
    /// None when `linger` is zero: records go out at once anyway.
    pub fn new(linger: Duration) -> Option<Arc<Self>> {
        (!linger.is_zero()).then(|| {
            Arc::new(Expediter {
                scheduled: AtomicU64::new(0),
                state: Mutex::new(State::default()),
                kicked: Condvar::new(),
                linger,
            })
        })
    }

    /// Called by an awaitable send on its loop's thread: make sure a kick runs
    /// once the loop has run what is ready now.
    pub fn schedule(self: &Arc<Self>, event_loop: &Bound<'_, PyAny>) -> PyResult<()> {
        let now = since_epoch();
        let pending = self.scheduled.load(Ordering::Acquire);
        // A kick that has not run for this long sits on a loop that was stopped
        // or closed (it will never run), or one too busy to matter: schedule anew.
        if pending != 0 && now.saturating_sub(pending) < STALE_KICK_US {
            return Ok(());
        }
        self.scheduled.store(now.max(1), Ordering::Release);
        let kick = Kick(self.clone());
        let py = event_loop.py();
        if let Err(err) = event_loop.call_method1(pyo3::intern!(py, "call_soon"), (kick,)) {
            self.scheduled.store(0, Ordering::Release);
            return Err(err);
        }
        Ok(())
    }

    /// Hold librdkafka in flush mode from now (until the queue drains, or for
    /// `linger.ms`): records queued so far go out at once. Awaitable sends get
    /// here through a scheduled [`Kick`]; a blocking call, directly.
    pub fn kick(&self) {
        self.scheduled.store(0, Ordering::Release);
        let mut state = self.lock();
        state.kick = Some(Instant::now());
        self.kicked.notify_one();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The `kafkify-expedite` thread's body, until [`Expediter::stop`].
    pub fn run(&self, producer: Arc<RdProducer>) {
        loop {
            let mut last_kick = {
                let mut state = self.lock();
                loop {
                    if state.stop {
                        return;
                    }
                    if let Some(kick) = state.kick.take() {
                        break kick;
                    }
                    state = self.kicked.wait(state).unwrap_or_else(|p| p.into_inner());
                }
            };
            // Flush mode, in 1 ms slices (a flush call only counts while it lasts).
            while !rd::flush_slice(&producer, Duration::from_millis(1)) {
                let mut state = self.lock();
                if state.stop {
                    return;
                }
                if let Some(kick) = state.kick.take() {
                    last_kick = kick;
                }
                if last_kick.elapsed() >= self.linger {
                    break;
                }
            }
        }
    }

    pub fn stop(&self) {
        let mut state = self.lock();
        state.stop = true;
        self.kicked.notify_all();
    }
}

/// See `Expediter::schedule`.
const STALE_KICK_US: u64 = 50_000;

/// Microseconds since the first call (a monotonic clock that fits an atomic).
fn since_epoch() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// The callable scheduled with `loop.call_soon` (see the module docs).
#[pyclass(module = "kafkify._kafkify", frozen)]
pub struct Kick(Arc<Expediter>);

#[pymethods]
impl Kick {
    fn __call__(&self) {
        self.0.kick();
    }
}
