//! asyncio glue: handing delivery outcomes to event loops without a Rust thread
//! ever taking the GIL ([`LoopWaker`]), settling futures ([`settle`]), the
//! `send_async` timeout ([`expire_fn`]), and lifecycle calls run on a thread
//! ([`run_in_thread`]).
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
//! records/s.

use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::delivery::batch::{BatchLoop, Finished};
use crate::delivery::outcome::Outcome;
use crate::errors::{Error, PyErrOrError};
use crate::exit_gate;
use crate::metadata;
use crate::observe::log;
use crate::rd::EventFd;

/// Something ready to be resolved on the loop thread.
pub enum Ready {
    /// One `send_async` record.
    Record(Py<PyAny>, Outcome),
    /// A `send_batch_async` call whose last record has reported.
    Batch(Arc<dyn Finished>),
    /// A lifecycle call's future and its result ([`run_in_thread`]).
    Job(Py<PyAny>, JobResult),
}

/// What a lifecycle job returns: its future's result, or the exception to set.
pub type JobResult = std::result::Result<Py<PyAny>, PyErrOrError>;

pub struct LoopWaker {
    ready: Mutex<Vec<Ready>>,
    eventfd: EventFd,
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
            self.eventfd.notify();
        }
    }

    /// Take everything queued, clearing the eventfd first so that a push racing
    /// with us either lands in this batch or wakes the loop again.
    fn take(&self) -> Vec<Ready> {
        self.eventfd.clear();
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
                log(py, 40, "could not resolve a send_async future", Some(err));
            }
        }
    }
}

fn resolve(py: Python<'_>, what: Ready) -> PyResult<()> {
    match what {
        Ready::Record(future, outcome) => {
            let (ok, value) = metadata::outcome_value(py, outcome);
            settle(future.bind(py), ok, value.bind(py))
        }
        Ready::Batch(batch) => settle_finished(py, &*batch),
        Ready::Job(future, result) => {
            let (ok, value) = match result {
                Ok(value) => (true, value),
                Err(PyErrOrError::Py(e)) => (false, e.into_value(py).into_any()),
                Err(PyErrOrError::Kafka(e)) => (false, e.to_py(py).into_value(py).into_any()),
            };
            settle(future.bind(py), ok, value.bind(py))
        }
    }
}

impl BatchLoop for LoopWaker {
    fn batch_done(&self, batch: Arc<dyn Finished>) {
        self.push(Ready::Batch(batch));
    }
}

/// `send_batch_async`: resolve the batch's future with its result, once complete
/// (and only once; a batch without a future has nothing to do).
pub fn settle_finished(py: Python<'_>, batch: &dyn Finished) -> PyResult<()> {
    match batch.future_result(py) {
        Some((future, ok, value)) => settle(future.bind(py), ok, value.bind(py)),
        None => Ok(()),
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
    let eventfd = EventFd::new()?;
    let fd = eventfd.as_raw_fd();
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

/// The running event loop (`asyncio.get_running_loop()`).
pub fn running_loop(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    GET_RUNNING_LOOP
        .import(py, "asyncio", "get_running_loop")?
        .call0()
}

/// `loop.call_later` target: fail the future with a timeout unless already done.
#[pyfunction]
fn expire_future(future: &Bound<'_, PyAny>, error: &Bound<'_, PyAny>) -> PyResult<()> {
    settle(future, false, error)
}

pub fn expire_fn(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static EXPIRE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    EXPIRE
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(
                pyo3::wrap_pyfunction!(expire_future, py)?
                    .into_any()
                    .unbind(),
            )
        })
        .map(|f| f.bind(py))
}

/// Run a blocking job on a short-lived thread and return an asyncio future for its
/// result, so lifecycle calls (start, stop, async exit) never block the loop. The
/// result goes to the loop through its waker, as delivery outcomes do: the thread
/// never takes the GIL for it, so it is not left asking for the GIL while the
/// program, its future resolved, moves on to exit (see `exit_gate`). A job that
/// needs Python goes through [`run_attached_in_thread`]. The loop also settles this
/// future after those of records whose reports came in before the job ended.
pub fn run_in_thread<'py, F>(py: Python<'py>, job: F) -> PyResult<Bound<'py, PyAny>>
where
    F: FnOnce() -> JobResult + Send + 'static,
{
    let event_loop = running_loop(py)?;
    let waker = for_loop(&event_loop)?;
    let future = event_loop.call_method0("create_future")?;
    let settled_later = future.clone().unbind();
    std::thread::Builder::new()
        .name("kafkify-lifecycle".into())
        .spawn(move || waker.push(Ready::Job(settled_later, job())))
        .map_err(|e| {
            pyo3::exceptions::PyRuntimeError::new_err(format!("could not start a thread: {e}"))
        })?;
    Ok(future)
}

/// [`run_in_thread`] for a job that runs attached to Python: it holds an exit pass
/// (taken here, under the GIL), so interpreter exit waits for it (`exit_gate`).
pub fn run_attached_in_thread<'py, F>(py: Python<'py>, job: F) -> PyResult<Bound<'py, PyAny>>
where
    F: FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send + 'static,
{
    let pass = exit_gate::Pass::take();
    run_in_thread(py, move || match exit_gate::attach(pass, job) {
        Some(result) => result.map_err(PyErrOrError::Py),
        // The interpreter is gone, so is whoever would read this.
        None => Err(Error::Closed.into()),
    })
}
