//! How much native stack the current thread has left, for the JSON walker
//! (`json/walk.rs`), which recurses once per nesting level and may be re-entered from
//! a `default=` callback: it stops with an error before the stack runs out.
//!
//! The interpreter's own counter (`Py_EnterRecursiveCall`, which the walker also
//! uses) counts levels, not bytes: before Python 3.14 it knows nothing of the
//! stack, so a thread made with `threading.stack_size(64 * 1024)` overflows long
//! before the recursion limit. So we ask the OS where this thread's stack ends
//! (`pthread_getattr_np`, once per thread) and compare the stack pointer with it.

use std::cell::Cell;

/// Left free below the deepest container the walker enters: what its own frames
/// down to the next check, a leaf's formatting and the error path need (a few
/// KiB at most; all of them C or Rust, none recursing; the Python exception is
/// made at the top, after the walk unwound). A level of nested lists costs 190 to
/// 210 bytes (it varies with the release build's inlining), so a thread made with
/// `threading.stack_size(64 * 1024)` still walks 254 levels, as `json.dumps` does
/// (tests/test_json_depth.py): with 8 KiB here it fell a few levels short.
pub const RESERVE: usize = 4 * 1024;

/// Left free, in addition, before the walker calls user code (`default=`, a
/// property, `isoformat()`, pydantic): Python frames and whatever C they call,
/// including a nested `kafkify.dumps` up to its own first check.
/// (CPython 3.14 keeps 16-32 KiB for its own checks.)
pub const CALL_RESERVE: usize = 16 * 1024;

/// This thread's stack: its lowest usable address and its size in bytes.
#[derive(Clone, Copy)]
pub struct Bounds {
    pub low: usize,
    pub size: usize,
}

thread_local! {
    /// `None`: not asked yet; `Some(None)`: the OS did not say.
    static BOUNDS: Cell<Option<Option<Bounds>>> = const { Cell::new(None) };
}

/// The current thread's stack, if the OS tells (cached per thread: the main
/// thread's answer costs a read of /proc/self/maps in glibc).
pub fn bounds() -> Option<Bounds> {
    BOUNDS.with(|cell| match cell.get() {
        Some(known) => known,
        None => {
            let known = query();
            cell.set(Some(known));
            known
        }
    })
}

/// The lowest stack address the walker may reach on this thread: past it, stop.
/// 0 (never stop) when the bounds are unknown, or when the stack pointer is not
/// inside them (code running on a stack of its own, e.g. a coroutine library's):
/// then only the walker's depth limit and the interpreter's counter apply.
pub fn limit() -> usize {
    let Some(b) = bounds() else { return 0 };
    let sp = here();
    if sp < b.low || sp - b.low > b.size {
        return 0;
    }
    b.low + RESERVE
}

/// An address in the current frame: the stack pointer, near enough.
#[inline(always)]
pub fn here() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn query() -> Option<Bounds> {
    // SAFETY: `attr` is initialised by pthread_getattr_np before it is read and
    // destroyed once; the out-pointers are valid locals.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return None;
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let ok = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0;
        libc::pthread_attr_destroy(&mut attr);
        (ok && !addr.is_null() && size > RESERVE).then_some(Bounds {
            low: addr as usize,
            size,
        })
    }
}

/// Elsewhere (the wheels are Linux-only): no native check.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn query() -> Option<Bounds> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stack_pointer_is_inside_the_reported_stack() {
        let check = || {
            let b = bounds().expect("pthread_getattr_np answers on Linux");
            let sp = here();
            assert!(sp > b.low && sp - b.low < b.size);
            assert_eq!(limit(), b.low + RESERVE);
            b.size
        };
        check();
        let size = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(check)
            .unwrap()
            .join()
            .unwrap();
        assert!((256 * 1024..=320 * 1024).contains(&size), "{size}");
    }
}
