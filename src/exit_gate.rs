//! Threads of ours that attach to Python on their own, and interpreter exit.
//!
//! Once the interpreter is finalizing, CPython ends a thread that asks for the GIL
//! with `pthread_exit` (3.10–3.13, `PyThread_exit_thread`). Its forced unwind cannot
//! get past the entry frame of a thread Rust started, so glibc aborts the process:
//! SIGABRT and "Fatal Python error: Aborted" after the program has finished (seen in
//! `tests/test_fastapi.py`). Worse, a thread still flushing when the process ends
//! just vanishes, with its records.
//!
//! So such a thread attaches through a [`Pass`], taken under the GIL before the
//! thread starts, and `_shutdown_all` (run by `atexit`, before finalization) calls
//! [`close`]: it refuses new passes and waits, with the GIL released, until every
//! pass taken has been given back. Each holder's work is bounded: a close by its
//! timeout, and by `exit_timeout_ms` once exit has begun ([`exit_outlasted`]), as
//! the exit's own closes are. Threads that never attach need no pass; the
//! dispatcher, which does, is joined by `close()`, which `_shutdown_all` runs for
//! every client still open.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use pyo3::prelude::*;

// Atomics rather than a mutex: the child of a `fork()` resets them from its
// at-fork handler (`lib.rs`), where taking a lock is not allowed; the passes it
// inherits belong to threads that do not exist there.
static CLOSED: AtomicBool = AtomicBool::new(false);
static PASSES: AtomicUsize = AtomicUsize::new(0);
/// When interpreter exit began (`close`).
static BEGAN: OnceLock<Instant> = OnceLock::new();

/// Leave to attach to Python later, from another thread. Interpreter exit waits
/// for it to be used or dropped.
pub struct Pass(());

impl Pass {
    /// A pass, or None once interpreter exit has begun (`close`).
    pub fn take() -> Option<Pass> {
        // Counted before the check, so `close` (which sets, then counts) sees it.
        PASSES.fetch_add(1, SeqCst);
        if CLOSED.load(SeqCst) {
            PASSES.fetch_sub(1, SeqCst);
            return None;
        }
        Some(Pass(()))
    }
}

/// Run `f` attached to Python, then give `pass` back. Without a pass (exit had
/// begun when it was asked for: nothing waits any more), as any thread would.
/// None if the interpreter is not running, which a pass rules out.
pub fn attach<R>(pass: Option<Pass>, f: impl FnOnce(Python<'_>) -> R) -> Option<R> {
    let _given_back_after = pass;
    Python::try_attach(f)
}

impl Drop for Pass {
    fn drop(&mut self) {
        PASSES.fetch_sub(1, SeqCst);
    }
}

/// Interpreter exit: no pass from now on; wait, with the GIL released, for every
/// pass taken to be given back. (Polled: this runs once, at exit.)
pub fn close(py: Python<'_>) {
    BEGAN.get_or_init(Instant::now);
    CLOSED.store(true, SeqCst);
    py.detach(|| {
        while PASSES.load(SeqCst) > 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    });
}

/// Whether a close that began at `began` has flushed for `bound` since interpreter
/// exit began (or since it began, if later). Such a close then stops flushing, as
/// the exit's own closes do after `exit_timeout_ms`: a `stop()` nobody awaits holds a
/// pass, and must not hold the exit for a dead broker's delivery timeout.
pub fn exit_outlasted(began: Instant, bound: Duration) -> bool {
    BEGAN
        .get()
        .is_some_and(|exit| (*exit).max(began).elapsed() >= bound)
}

/// In the child of a `fork()`: no thread of ours holds a pass there. Async-signal-safe.
pub fn after_fork_in_child() {
    PASSES.store(0, SeqCst);
}
