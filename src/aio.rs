//! Handing delivery outcomes to asyncio without a Rust thread ever taking the GIL.
//!
//! Each event loop that awaits kafkify futures gets one [`LoopWaker`]: a queue of
//! ready outcomes plus an eventfd the loop watches (`loop.add_reader`). The poll
//! thread pushes an outcome and writes the eventfd only when the queue was empty,
//! so a burst of deliveries costs one wakeup; the loop thread then resolves the
//! whole queue in one tight loop ([`Drain::__call__`]).
//!
//! Why not `call_soon_threadsafe` from a Rust thread: that thread must take the
//! GIL, and while the loop thread is busy running tasks it waits up to the switch
//! interval (5 ms) for it; measured, that capped 100 awaiting tasks at ~20k
//! records/s (see ../shared/notes/toolchain.md §5 for the per-record version).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::delivery::{self, Batch, Outcome};

/// Something ready to be resolved on the loop thread.
pub enum Ready {
    /// One `send_async` record.
    Record(Py<PyAny>, Outcome),
    /// A `send_batch_async` call whose last record has reported.
    Batch(Arc<Batch>),
}

pub struct LoopWaker {
    ready: Mutex<Vec<Ready>>,
    eventfd: OwnedFd,
}

impl LoopWaker {
    /// Queue `what`; wakes the loop if it is not already due to drain.
    /// Called without the GIL (the poll thread, the overflow thread).
    pub fn push(&self, what: Ready) {
        let mut ready = self.ready.lock().unwrap_or_else(|p| p.into_inner());
        let was_empty = ready.is_empty();
        ready.push(what);
        drop(ready);
        if was_empty {
            let one: u64 = 1;
            // SAFETY: writing 8 bytes to our own eventfd. A full counter (EAGAIN)
            // still leaves it readable, which is all we need.
            unsafe {
                libc::write(
                    self.eventfd.as_raw_fd(),
                    (&one as *const u64).cast(),
                    std::mem::size_of::<u64>(),
                );
            }
        }
    }

    /// Take everything queued, clearing the eventfd first so that a push racing
    /// with us either lands in this batch or wakes the loop again.
    fn take(&self) -> Vec<Ready> {
        let mut counter: u64 = 0;
        // SAFETY: reading 8 bytes from our own non-blocking eventfd.
        unsafe {
            libc::read(
                self.eventfd.as_raw_fd(),
                (&mut counter as *mut u64).cast(),
                std::mem::size_of::<u64>(),
            );
        }
        std::mem::take(&mut *self.ready.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// The loop's reader callback: resolves every queued future on the loop thread.
#[pyclass(module = "kafkify._kafkify", frozen)]
pub struct Drain {
    waker: Arc<LoopWaker>,
}

#[pymethods]
impl Drain {
    fn __call__(&self, py: Python<'_>) {
        for what in self.waker.take() {
            if let Err(err) = resolve(py, what) {
                delivery::log(py, 40, "could not resolve a send_async future", Some(err));
            }
        }
    }
}

fn resolve(py: Python<'_>, what: Ready) -> PyResult<()> {
    match what {
        Ready::Record(future, outcome) => {
            let (ok, value) = delivery::outcome_value(py, outcome);
            delivery::settle(future.bind(py), ok, value.bind(py))
        }
        Ready::Batch(batch) => batch.settle_future(py),
    }
}

/// The waker of `event_loop`, created and registered with it on first use.
pub fn for_loop(event_loop: &Bound<'_, PyAny>) -> PyResult<Arc<LoopWaker>> {
    let py = event_loop.py();
    static WAKERS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    // Keyed weakly by the loop: a loop that is gone takes its waker along.
    let wakers = WAKERS
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(
                py.import("weakref")?
                    .getattr("WeakKeyDictionary")?
                    .call0()?
                    .unbind(),
            )
        })?
        .bind(py);
    if let Ok(drain) = wakers
        .call_method1(pyo3::intern!(py, "get"), (event_loop,))?
        .cast::<Drain>()
    {
        return Ok(drain.get().waker.clone());
    }
    // SAFETY: plain eventfd creation; the result is checked before use.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    let eventfd = unsafe { OwnedFd::from_raw_fd(fd) };
    let waker = Arc::new(LoopWaker {
        ready: Mutex::new(Vec::new()),
        eventfd,
    });
    let drain = Bound::new(
        py,
        Drain {
            waker: waker.clone(),
        },
    )?;
    event_loop.call_method1("add_reader", (fd, &drain))?;
    wakers.set_item(event_loop, drain)?;
    Ok(waker)
}
