//! The walker: exact built-in JSON types on the hot path (raw pointers), the
//! containers, and the container stack that catches cycles and bounds the depth
//! (see `mod.rs`). Everything else goes to `types.rs` (`Walker::other`).

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt};

use super::escape::write_escaped;
use super::types::dict_key;
use super::{python_float_name, stack, JResult, JsonError, Step, Walker, MAX_DEPTH};

/// Appended to "maximum recursion depth exceeded" (json.dumps says the same).
const RECURSING: &std::ffi::CStr = c" while encoding a JSON object";

// The hot path works on raw pointers to skip pyo3's per-item reference counting.
// The rule that keeps it sound: leaves (str, int, float, bool, None) are read
// through borrowed references and never run user code; containers are held by a
// strong reference while walked (`nested`); anything that may run user code
// (`other`) first takes its own strong reference.
impl Walker<'_, '_, '_> {
    pub(super) fn value(&mut self, obj: &Bound<'_, PyAny>) -> JResult {
        // SAFETY: `obj` is a live, owned reference for the duration of the call.
        unsafe { self.value_ptr(obj.as_ptr()) }
    }

    /// SAFETY: `obj` must be alive for the duration of the call (see the rule above).
    /// Leaves are handled inline (the hot path); the rest out of line.
    #[inline(always)]
    pub(super) unsafe fn value_ptr(&mut self, obj: *mut ffi::PyObject) -> JResult {
        let ty = ffi::Py_TYPE(obj);
        if ty == &raw mut ffi::PyUnicode_Type {
            return self.str_ptr(obj);
        }
        if ty == &raw mut ffi::PyLong_Type {
            return self.int_ptr(obj);
        }
        if obj == ffi::Py_None() {
            self.out.extend_from_slice(b"null");
            return Ok(());
        }
        if ty == &raw mut ffi::PyFloat_Type {
            return self.float(ffi::PyFloat_AsDouble(obj));
        }
        if ty == &raw mut ffi::PyBool_Type {
            let text: &[u8] = if obj == ffi::Py_True() {
                b"true"
            } else {
                b"false"
            };
            self.out.extend_from_slice(text);
            return Ok(());
        }
        self.compound_ptr(obj, ty)
    }

    /// SAFETY: as `value_ptr`; `ty` is `obj`'s type.
    ///
    /// This frame and the container's own (`list_ptr`, ...) are the stack one
    /// nesting level costs, so everything else stays out of line (`other_ptr`).
    #[inline(never)]
    unsafe fn compound_ptr(
        &mut self,
        obj: *mut ffi::PyObject,
        ty: *mut ffi::PyTypeObject,
    ) -> JResult {
        let walk: unsafe fn(&mut Self, *mut ffi::PyObject) -> JResult =
            if ty == &raw mut ffi::PyDict_Type {
                Self::dict_ptr
            } else if ty == &raw mut ffi::PyList_Type {
                Self::list_ptr
            } else if ty == &raw mut ffi::PyTuple_Type {
                Self::tuple_ptr
            } else {
                return self.other_ptr(obj);
            };
        self.enter(obj)?;
        let result = walk(self, obj);
        self.leave(obj);
        result
    }

    /// SAFETY: as `value_ptr`.
    #[inline(never)]
    unsafe fn other_ptr(&mut self, obj: *mut ffi::PyObject) -> JResult {
        let owned = Bound::from_borrowed_ptr(self.py, obj);
        self.other(&owned)
    }

    /// Run `body` with `obj` on the container stack (see `enter`).
    pub(super) fn nested(
        &mut self,
        obj: *mut ffi::PyObject,
        body: impl FnOnce(&mut Self) -> JResult,
    ) -> JResult {
        self.enter(obj)?;
        let result = body(self);
        self.leave(obj);
        result
    }

    /// Put `obj` on the container stack, holding a strong reference, unless that
    /// would make a cycle or go too deep (see the module's comment); every `Ok`
    /// is paired with one `leave(obj)`.
    #[inline(always)]
    fn enter(&mut self, obj: *mut ffi::PyObject) -> JResult {
        if self.stack.len() >= MAX_DEPTH
            || stack::here() < self.stack_limit
            || self.stack.contains(&obj)
        {
            return Err(self.refuse(obj));
        }
        // SAFETY: plain C calls with the GIL held; `obj` is alive (caller's
        // contract), and the reference taken here is released by `leave`,
        // whatever user code did meanwhile.
        unsafe {
            if ffi::Py_EnterRecursiveCall(RECURSING.as_ptr()) != 0 {
                return Err(self.recursion_limit());
            }
            ffi::Py_IncRef(obj);
        }
        self.stack.push(obj);
        Ok(())
    }

    #[inline(always)]
    fn leave(&mut self, obj: *mut ffi::PyObject) {
        self.stack.pop();
        // SAFETY: undoes `enter`'s two calls.
        unsafe {
            ffi::Py_LeaveRecursiveCall();
            ffi::Py_DecRef(obj);
        }
    }

    /// Why `enter` refused `obj` (a cycle is named first: it is the actual bug).
    #[cold]
    #[inline(never)]
    fn refuse(&self, obj: *mut ffi::PyObject) -> JsonError {
        if self.stack.contains(&obj) {
            JsonError::new("circular reference detected")
        } else if self.stack.len() >= MAX_DEPTH {
            JsonError::too_deep(format!("nesting deeper than {MAX_DEPTH} levels"))
        } else {
            self.out_of_stack()
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn out_of_stack(&self) -> JsonError {
        let size = stack::bounds().map_or(0, |b| b.size);
        JsonError::too_deep(format!(
            "nesting too deep for this thread's native stack ({} KiB)",
            size / 1024
        ))
    }

    /// The interpreter's recursion limit was hit: its RecursionError (pending)
    /// says what json.dumps says; the error built here adds the path.
    #[cold]
    #[inline(never)]
    fn recursion_limit(&self) -> JsonError {
        drop(PyErr::take(self.py));
        JsonError::too_deep("maximum recursion depth exceeded while encoding a JSON object")
    }

    /// SAFETY: `obj` is a live str (or subclass).
    pub(super) unsafe fn str_ptr(&mut self, obj: *mut ffi::PyObject) -> JResult {
        let text = utf8_of(obj).ok_or_else(|| {
            JsonError::new("str is not valid UTF-8 (it contains a lone surrogate)")
        })?;
        write_escaped(self.out, text);
        Ok(())
    }

    /// SAFETY: `obj` is a live int (or subclass).
    pub(super) unsafe fn int_ptr(&mut self, obj: *mut ffi::PyObject) -> JResult {
        let mut overflow = 0;
        let v = ffi::PyLong_AsLongLongAndOverflow(obj, &mut overflow);
        if overflow == 0 && (v != -1 || ffi::PyErr_Occurred().is_null()) {
            push_short(self.out, itoa::Buffer::new().format(v).as_bytes());
            return Ok(());
        }
        ffi::PyErr_Clear();
        // Beyond 64 bits: Python's own decimal text is exact (int(), so a
        // subclass's __str__ cannot change it).
        let int = Bound::from_borrowed_ptr(self.py, obj);
        let text = self
            .py
            .get_type::<PyInt>()
            .call1((int,))
            .and_then(|i| i.str())
            .map_err(|e| JsonError::new(format!("int could not be formatted: {e}")))?;
        self.out
            .extend_from_slice(text.to_string_lossy().as_bytes());
        Ok(())
    }

    pub(super) fn float(&mut self, v: f64) -> JResult {
        if !v.is_finite() {
            return Err(JsonError::new(format!(
                "Out of range float values are not JSON compliant: {}",
                python_float_name(v)
            )));
        }
        // Shortest text that reads back to the same f64 (zmij, the successor of ryu that serde_json uses).
        push_short(self.out, zmij::Buffer::new().format_finite(v).as_bytes());
        Ok(())
    }

    /// SAFETY: `d` is a dict (or subclass) on the container stack.
    pub(super) unsafe fn dict_ptr(&mut self, d: *mut ffi::PyObject) -> JResult {
        if self.options.sort_keys {
            let dict = Bound::from_borrowed_ptr(self.py, d).cast_into_unchecked::<PyDict>();
            return self.sorted_dict(&dict);
        }
        let size = ffi::PyDict_Size(d);
        let mut pos: ffi::Py_ssize_t = 0;
        let mut key: *mut ffi::PyObject = std::ptr::null_mut();
        let mut value: *mut ffi::PyObject = std::ptr::null_mut();
        self.out.push(b'{');
        let mut first = true;
        while ffi::PyDict_Next(d, &mut pos, &mut key, &mut value) != 0 {
            if !first {
                self.out.push(b',');
            }
            first = false;
            if ffi::Py_TYPE(key) == &raw mut ffi::PyUnicode_Type {
                let text = utf8_of(key).ok_or_else(|| {
                    JsonError::new("dict key is not valid UTF-8 (it contains a lone surrogate)")
                })?;
                write_escaped(self.out, text);
                self.out.push(b':');
                let leaf = is_exact_leaf(value);
                // A non-leaf value may run user code (default(), properties) that
                // could drop the key from the dict: hold it for the error path.
                let _key_alive = (!leaf).then(|| Bound::from_borrowed_ptr(self.py, key));
                if let Err(e) = self.value_ptr(value) {
                    return Err(at_key(e, text));
                }
                if leaf {
                    continue; // no user code ran: the dict cannot have changed
                }
            } else {
                self.other_key_entry(key, value)?;
            }
            if ffi::PyDict_Size(d) != size {
                return Err(JsonError::new("dict changed size during serialization"));
            }
        }
        self.out.push(b'}');
        Ok(())
    }

    /// An entry whose key is not an exact str (out of line: `dict_ptr`'s frame
    /// is paid once per nesting level).
    ///
    /// SAFETY: `key` and `value` are borrowed from a dict on the container stack.
    #[inline(never)]
    unsafe fn other_key_entry(
        &mut self,
        key: *mut ffi::PyObject,
        value: *mut ffi::PyObject,
    ) -> JResult {
        let (k, v) = (
            Bound::from_borrowed_ptr(self.py, key),
            Bound::from_borrowed_ptr(self.py, value),
        );
        self.entry(&dict_key(&k)?, &v)
    }

    #[inline(never)]
    fn sorted_dict(&mut self, d: &Bound<'_, PyDict>) -> JResult {
        let mut items = Vec::with_capacity(d.len());
        for_each_item(d, |k, v| {
            items.push((dict_key(&k)?.into_owned(), v));
            Ok(())
        })?;
        items.sort_by(|a, b| a.0.cmp(&b.0));
        self.out.push(b'{');
        for (n, (key, v)) in items.iter().enumerate() {
            if n > 0 {
                self.out.push(b',');
            }
            self.entry(key, v)?;
        }
        self.out.push(b'}');
        Ok(())
    }

    pub(super) fn entry(&mut self, key: &str, v: &Bound<'_, PyAny>) -> JResult {
        write_escaped(self.out, key.as_bytes());
        self.out.push(b':');
        // The key is copied only if there is an error to report.
        self.value(v).map_err(|e| e.at(Step::Key(key.to_owned())))
    }

    /// SAFETY: `l` is a list (or subclass) on the container stack.
    pub(super) unsafe fn list_ptr(&mut self, l: *mut ffi::PyObject) -> JResult {
        self.out.push(b'[');
        // Length re-read after any non-leaf item: user code may shrink the list.
        let mut len = ffi::PyList_Size(l);
        let mut n: ffi::Py_ssize_t = 0;
        while n < len {
            if n > 0 {
                self.out.push(b',');
            }
            let item = ffi::PyList_GetItem(l, n);
            let leaf = is_exact_leaf(item);
            self.value_ptr(item)
                .map_err(|e| e.at(Step::Index(n as usize)))?;
            if !leaf {
                len = ffi::PyList_Size(l);
            }
            n += 1;
        }
        self.out.push(b']');
        Ok(())
    }

    /// SAFETY: `t` is a tuple (or subclass) on the container stack.
    pub(super) unsafe fn tuple_ptr(&mut self, t: *mut ffi::PyObject) -> JResult {
        self.out.push(b'[');
        let len = ffi::PyTuple_Size(t);
        for n in 0..len {
            if n > 0 {
                self.out.push(b',');
            }
            self.value_ptr(ffi::PyTuple_GetItem(t, n))
                .map_err(|e| e.at(Step::Index(n as usize)))?;
        }
        self.out.push(b']');
        Ok(())
    }
}

/// `e`, under the dict key `text` (a str's UTF-8).
#[cold]
#[inline(never)]
fn at_key(e: JsonError, text: &[u8]) -> JsonError {
    e.at(Step::Key(String::from_utf8_lossy(text).into_owned()))
}

/// Append a few bytes (a number's text) without a `memcpy` call, which costs
/// more than the copy for a handful of bytes.
#[inline(always)]
fn push_short(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = bytes.len();
    out.reserve(len);
    let at = out.len();
    // SAFETY: `reserve` made room for `len` bytes after `at`.
    unsafe {
        let dst = out.as_mut_ptr().add(at);
        for (i, &b) in bytes.iter().enumerate() {
            *dst.add(i) = b;
        }
        out.set_len(at + len);
    }
}

/// str, int, float, bool or None, exactly: writing one runs no user code.
///
/// SAFETY: `obj` is a live object.
#[inline]
unsafe fn is_exact_leaf(obj: *mut ffi::PyObject) -> bool {
    let ty = ffi::Py_TYPE(obj);
    ty == &raw mut ffi::PyUnicode_Type
        || ty == &raw mut ffi::PyLong_Type
        || ty == &raw mut ffi::PyFloat_Type
        || ty == &raw mut ffi::PyBool_Type
        || obj == ffi::Py_None()
}

/// The UTF-8 text of a str, cached inside the object (so it lives as long as it);
/// None for a str with a lone surrogate.
///
/// SAFETY: `s` is a live str (or subclass).
unsafe fn utf8_of<'a>(s: *mut ffi::PyObject) -> Option<&'a [u8]> {
    let mut size: ffi::Py_ssize_t = 0;
    let data = ffi::PyUnicode_AsUTF8AndSize(s, &mut size);
    if data.is_null() {
        ffi::PyErr_Clear();
        return None;
    }
    Some(std::slice::from_raw_parts(data.cast::<u8>(), size as usize))
}

/// Visit a dict's items with `PyDict_Next`, failing cleanly (not panicking, as
/// pyo3's iterator does) if the dict changes size while we walk it.
fn for_each_item<'py>(
    d: &Bound<'py, PyDict>,
    mut f: impl FnMut(Bound<'py, PyAny>, Bound<'py, PyAny>) -> JResult,
) -> JResult {
    let py = d.py();
    let size = d.len();
    let mut pos: ffi::Py_ssize_t = 0;
    loop {
        let mut key: *mut ffi::PyObject = std::ptr::null_mut();
        let mut value: *mut ffi::PyObject = std::ptr::null_mut();
        // SAFETY: `d` is a live dict and we hold the GIL; PyDict_Next hands back
        // borrowed references, which we turn into owned ones at once so that a
        // callback mutating the dict cannot free them under us.
        let more = unsafe { ffi::PyDict_Next(d.as_ptr(), &mut pos, &mut key, &mut value) };
        if more == 0 {
            return Ok(());
        }
        let (k, v) = unsafe {
            (
                Bound::from_borrowed_ptr(py, key),
                Bound::from_borrowed_ptr(py, value),
            )
        };
        f(k, v)?;
        if d.len() != size {
            return Err(JsonError::new("dict changed size during serialization"));
        }
    }
}
