//! Borrowing the bytes of any C-contiguous buffer (memoryview, numpy array, mmap,
//! ...) for as long as librdkafka needs to copy them: one copy per record.
//!
//! `PyObject_GetBuffer` is in the stable ABI only from Python 3.11 and our wheel
//! targets abi3-py310, so pyo3 does not expose it. The function and `Py_buffer`'s
//! layout are the same in every CPython 3.x (3.11 froze exactly this layout into
//! the stable ABI), so we declare them ourselves.

use std::ffi::{c_char, c_int, c_void};

use pyo3::ffi::{PyObject, Py_ssize_t};
use pyo3::prelude::*;

#[repr(C)]
struct PyBufferView {
    buf: *mut c_void,
    obj: *mut PyObject,
    len: Py_ssize_t,
    itemsize: Py_ssize_t,
    readonly: c_int,
    ndim: c_int,
    format: *mut c_char,
    shape: *mut Py_ssize_t,
    strides: *mut Py_ssize_t,
    suboffsets: *mut Py_ssize_t,
    internal: *mut c_void,
}

/// `PyBUF_SIMPLE`: a plain, C-contiguous run of bytes (or the call fails).
const PYBUF_SIMPLE: c_int = 0;

extern "C" {
    fn PyObject_GetBuffer(obj: *mut PyObject, view: *mut PyBufferView, flags: c_int) -> c_int;
    fn PyBuffer_Release(view: *mut PyBufferView);
}

/// An exported buffer, released on drop. Tied to `'py`: it is created and dropped
/// with the GIL held, and cannot cross a `detach` (it is not `Send`).
pub struct Borrowed<'py> {
    view: Box<PyBufferView>,
    _py: Python<'py>,
}

impl<'py> Borrowed<'py> {
    /// The object's bytes, if it exports a contiguous buffer; `None` otherwise
    /// (the Python error is cleared: the caller falls back to copying).
    pub fn new(obj: &Bound<'py, PyAny>) -> Option<Self> {
        let mut view = Box::new(PyBufferView {
            buf: std::ptr::null_mut(),
            obj: std::ptr::null_mut(),
            len: 0,
            itemsize: 0,
            readonly: 0,
            ndim: 0,
            format: std::ptr::null_mut(),
            shape: std::ptr::null_mut(),
            strides: std::ptr::null_mut(),
            suboffsets: std::ptr::null_mut(),
            internal: std::ptr::null_mut(),
        });
        // SAFETY: the GIL is held (we have `obj`), and `view` is a valid Py_buffer.
        let status = unsafe { PyObject_GetBuffer(obj.as_ptr(), &mut *view, PYBUF_SIMPLE) };
        if status != 0 {
            drop(PyErr::take(obj.py()));
            return None;
        }
        Some(Borrowed {
            view,
            _py: obj.py(),
        })
    }

    pub fn as_slice(&self) -> &[u8] {
        if self.view.len == 0 || self.view.buf.is_null() {
            return &[];
        }
        // SAFETY: the exporter keeps `buf[..len]` alive and unmoved until the buffer
        // is released (in Drop); we hold the GIL, so no Python code can resize it.
        unsafe { std::slice::from_raw_parts(self.view.buf.cast::<u8>(), self.view.len as usize) }
    }
}

impl Drop for Borrowed<'_> {
    fn drop(&mut self) {
        // SAFETY: the buffer was exported by PyObject_GetBuffer and the GIL is held
        // (the `'py` token lives as long as we do).
        unsafe { PyBuffer_Release(&mut *self.view) }
    }
}
