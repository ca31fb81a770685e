//! Python value → compact UTF-8 JSON bytes, walking the objects directly (no
//! intermediate `serde_json::Value`, no Python `json` module).
//!
//! What it writes: dict (insertion order, or sorted with `sort_keys`), list, tuple,
//! str, int (any size, exact), float (shortest text that reads back equal; NaN and
//! infinities are refused, JSON has neither), bool, None; `datetime`/`date`/`time`
//! as `isoformat()`; `UUID` as its canonical string; `Decimal` as its exact number
//! text; `Enum` as its value; dataclass instances as their fields; pydantic v2
//! models as their JSON-mode dump; subclasses of str/int/float/dict/list/tuple.
//! Anything else goes to `default(obj)` when given (like `json.dumps(default=...)`).
//!
//! Every error names the path to the offending part, e.g.
//! `value['items'][3]['price']: Object of type set is not JSON serializable`, and
//! cycles, over-deep nesting, lone surrogates and dicts changed mid-walk are errors,
//! never a crash.
//!
//! Depth, the walker's only recursion, is bounded three ways, checked on entering
//! each container (and before each call into user code): at most [`MAX_DEPTH`]
//! levels per walk; the interpreter's recursion counter (`Py_EnterRecursiveCall`,
//! as `json.dumps` uses), which also counts Python frames and so re-entrant calls
//! from `default=` callbacks; and the thread's remaining native stack
//! (`stack.rs`), which the counter ignores before Python 3.14. Each raises
//! `SerializationRecursionError`, both a `SerializationError` and the
//! `RecursionError` that `json.dumps` raises.

use std::borrow::Cow;
use std::fmt::Write as _;

use pyo3::exceptions::PyRecursionError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    IntoPyDict as _, PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType,
};
use pyo3::{ffi, intern};

use super::stack;

/// Deeper nesting than this is refused rather than risking the stack (orjson's limit
/// is 254; `json.dumps` fails near 1000 with RecursionError).
pub const MAX_DEPTH: usize = 255;

/// One step of the path to the part of a value that failed.
enum Step {
    Key(String),
    Index(usize),
}

/// A serialization failure: the reason, and the path collected while unwinding.
///
/// Boxed so that `Result<(), JsonError>` is one word: the walk returns it once per
/// value, and a 48-byte error inline would cost a memory round trip each time.
pub struct JsonError(Box<ErrorDetail>);

struct ErrorDetail {
    reason: String,
    path: Vec<Step>,
    kind: ErrorKind,
}

/// What a failure is, which decides the Python exception (`serialize/mod.rs`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ErrorKind {
    /// The value cannot be written (SerializationError).
    Invalid,
    /// Nested too deep for the depth limit, the recursion limit or the stack
    /// (SerializationRecursionError, a RecursionError too).
    TooDeep,
    /// A SerializationRecursionError raised inside a callback (a `default=` that
    /// calls `kafkify.dumps` again): passed on with its message as it is, which
    /// names the path where the limit was hit, rather than wrapped once per
    /// re-entry (as `json.dumps` passes a callback's exception on).
    Relayed,
}

impl JsonError {
    #[cold]
    fn new(reason: impl Into<String>) -> Self {
        Self::of(ErrorKind::Invalid, reason.into())
    }

    #[cold]
    fn too_deep(reason: impl Into<String>) -> Self {
        Self::of(ErrorKind::TooDeep, reason.into())
    }

    fn of(kind: ErrorKind, reason: String) -> Self {
        JsonError(Box::new(ErrorDetail {
            reason,
            path: Vec::new(),
            kind,
        }))
    }

    /// A Python exception raised by user code the walk called (`context` says
    /// which, e.g. `default() raised`). A RecursionError stays one.
    #[cold]
    fn raised(py: Python<'_>, context: &str, e: PyErr) -> Self {
        if !e.is_instance_of::<PyRecursionError>(py) {
            return Self::new(match context {
                "" => e.to_string(),
                _ => format!("{context} {e}"),
            });
        }
        // Near the recursion limit str(e) fails too: read the message itself.
        let message = e
            .value(py)
            .getattr(intern!(py, "args"))
            .and_then(|args| args.get_item(0))
            .and_then(|m| m.extract::<String>())
            .unwrap_or_else(|_| "maximum recursion depth exceeded".to_owned());
        let ours = crate::errors::error_class(py, "SerializationRecursionError")
            .is_ok_and(|class| e.get_type(py).is(&class));
        if ours {
            return Self::of(ErrorKind::Relayed, message);
        }
        Self::too_deep(match context {
            "" => format!("RecursionError: {message}"),
            _ => format!("{context} RecursionError: {message}"),
        })
    }

    #[cold]
    fn at(mut self, step: Step) -> Self {
        if self.0.kind != ErrorKind::Relayed {
            self.0.path.push(step);
        }
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// `root['a'][0]: reason`, with `root` naming the argument (`value`, `key`, ...).
    pub fn describe(&self, root: &str) -> String {
        if self.0.kind == ErrorKind::Relayed {
            return self.0.reason.clone();
        }
        let mut out = String::from(root);
        for step in self.0.path.iter().rev() {
            match step {
                Step::Key(k) => {
                    let _ = write!(out, "[{}]", python_str_repr(k));
                }
                Step::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
            }
        }
        let _ = write!(out, ": {}", self.0.reason);
        out
    }
}

/// `'text'`, as Python's repr() writes a simple string.
fn python_str_repr(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

type JResult = Result<(), JsonError>;

/// How to serialize: the `default=` fallback and key order.
#[derive(Clone, Copy, Default)]
pub struct Options<'a, 'py> {
    pub default: Option<&'a Bound<'py, PyAny>>,
    pub sort_keys: bool,
}

/// Serialize `obj` as compact JSON, appending to `out`.
pub fn write_value(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>, options: Options<'_, '_>) -> JResult {
    let mut walker = Walker {
        py: obj.py(),
        out,
        stack: Vec::new(),
        stack_limit: stack::limit(),
        options,
    };
    walker.value(obj)
}

/// Standard-library types recognised by identity, imported once per process.
struct KnownTypes {
    date: Py<PyType>,
    time: Py<PyType>,
    uuid: Py<PyType>,
    decimal: Py<PyType>,
    enumeration: Py<PyType>,
}

fn known_types(py: Python<'_>) -> Result<&KnownTypes, JsonError> {
    static TYPES: PyOnceLock<KnownTypes> = PyOnceLock::new();
    TYPES
        .get_or_try_init(py, || -> PyResult<KnownTypes> {
            let ty = |module: &str, name: &str| -> PyResult<Py<PyType>> {
                Ok(py
                    .import(module)?
                    .getattr(name)?
                    .cast_into::<PyType>()?
                    .unbind())
            };
            Ok(KnownTypes {
                date: ty("datetime", "date")?,
                time: ty("datetime", "time")?,
                uuid: ty("uuid", "UUID")?,
                decimal: ty("decimal", "Decimal")?,
                enumeration: ty("enum", "Enum")?,
            })
        })
        .map_err(|e| JsonError::new(format!("could not import the standard types: {e}")))
}

struct Walker<'o, 'a, 'py> {
    py: Python<'py>,
    out: &'o mut Vec<u8>,
    /// Containers being written, each holding a strong reference while it is on
    /// the stack: detects cycles, bounds the depth, and keeps a container alive
    /// even if a `default()` callback drops it elsewhere.
    stack: Vec<*mut ffi::PyObject>,
    /// The lowest native stack address the walk may reach (`stack::limit`).
    stack_limit: usize,
    options: Options<'a, 'py>,
}

/// Appended to "maximum recursion depth exceeded" (json.dumps says the same).
const RECURSING: &std::ffi::CStr = c" while encoding a JSON object";

// The hot path works on raw pointers to skip pyo3's per-item reference counting.
// The rule that keeps it sound: leaves (str, int, float, bool, None) are read
// through borrowed references and never run user code; containers are held by a
// strong reference while walked (`nested`); anything that may run user code
// (`other`) first takes its own strong reference.
impl Walker<'_, '_, '_> {
    fn value(&mut self, obj: &Bound<'_, PyAny>) -> JResult {
        // SAFETY: `obj` is a live, owned reference for the duration of the call.
        unsafe { self.value_ptr(obj.as_ptr()) }
    }

    /// SAFETY: `obj` must be alive for the duration of the call (see the rule above).
    /// Leaves are handled inline (the hot path); the rest out of line.
    #[inline(always)]
    unsafe fn value_ptr(&mut self, obj: *mut ffi::PyObject) -> JResult {
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

    /// Everything but the exact built-in JSON types.
    fn other(&mut self, obj: &Bound<'_, PyAny>) -> JResult {
        let py = obj.py();
        let ptr = obj.as_ptr();
        // What follows may run user code, which needs stack of its own.
        if self.stack_limit != 0 && stack::here() < self.stack_limit + stack::CALL_RESERVE {
            return Err(self.out_of_stack());
        }
        let known = known_types(py)?;
        // Enum before the int/str subclasses: IntEnum and StrEnum are both.
        if obj.is_instance(known.enumeration.bind(py)).unwrap_or(false) {
            let value = obj
                .getattr(intern!(py, "value"))
                .map_err(|e| JsonError::raised(py, "Enum value could not be read:", e))?;
            return self.nested(ptr, |w| w.value(&value));
        }
        // SAFETY (all the *_ptr calls below): `obj` is owned by the caller.
        if obj.cast::<PyString>().is_ok() {
            return unsafe { self.str_ptr(ptr) };
        }
        if obj.cast::<PyInt>().is_ok() {
            return unsafe { self.int_ptr(ptr) };
        }
        if let Ok(f) = obj.cast::<PyFloat>() {
            return self.float(f.value());
        }
        if obj.cast::<PyDict>().is_ok() {
            return self.nested(ptr, |w| unsafe { w.dict_ptr(ptr) });
        }
        if obj.cast::<PyList>().is_ok() {
            return self.nested(ptr, |w| unsafe { w.list_ptr(ptr) });
        }
        if obj.cast::<PyTuple>().is_ok() {
            return self.nested(ptr, |w| unsafe { w.tuple_ptr(ptr) });
        }
        // datetime is a date subclass: one check covers both.
        if obj.is_instance(known.date.bind(py)).unwrap_or(false)
            || obj.is_instance(known.time.bind(py)).unwrap_or(false)
        {
            let text = call_str(obj, "isoformat")?;
            write_escaped(self.out, text.as_bytes());
            return Ok(());
        }
        if obj.is_instance(known.uuid.bind(py)).unwrap_or(false) {
            let text = obj
                .str()
                .map_err(|e| JsonError::new(format!("UUID could not be formatted: {e}")))?;
            write_escaped(self.out, text.to_string_lossy().as_bytes());
            return Ok(());
        }
        if obj.is_instance(known.decimal.bind(py)).unwrap_or(false) {
            return self.decimal(obj);
        }
        let ty = obj.get_type();
        if ty
            .hasattr(intern!(py, "__dataclass_fields__"))
            .unwrap_or(false)
            && obj.cast::<PyType>().is_err()
        {
            return self.nested(ptr, |w| w.dataclass(obj));
        }
        if ty
            .hasattr(intern!(py, "__pydantic_serializer__"))
            .unwrap_or(false)
            && obj.cast::<PyType>().is_err()
        {
            let dumped = obj
                .call_method(
                    intern!(py, "model_dump"),
                    (),
                    Some(&[("mode", "json")].into_py_dict(py).map_err(py_err)?),
                )
                .map_err(|e| JsonError::raised(py, "model_dump(mode='json') raised", e))?;
            return self.nested(ptr, |w| w.value(&dumped));
        }
        if let Some(default) = self.options.default {
            let replacement = default
                .call1((obj,))
                .map_err(|e| JsonError::raised(py, "default() raised", e))?;
            // As nesting: a default() that keeps returning its argument is a cycle.
            return self.nested(ptr, |w| w.value(&replacement));
        }
        Err(JsonError::new(format!(
            "Object of type {} is not JSON serializable",
            type_name(obj)
        )))
    }

    /// Run `body` with `obj` on the container stack (see `enter`).
    fn nested(
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
    fn out_of_stack(&self) -> JsonError {
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
    unsafe fn str_ptr(&mut self, obj: *mut ffi::PyObject) -> JResult {
        let text = utf8_of(obj).ok_or_else(|| {
            JsonError::new("str is not valid UTF-8 (it contains a lone surrogate)")
        })?;
        write_escaped(self.out, text);
        Ok(())
    }

    /// SAFETY: `obj` is a live int (or subclass).
    unsafe fn int_ptr(&mut self, obj: *mut ffi::PyObject) -> JResult {
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

    fn float(&mut self, v: f64) -> JResult {
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

    fn decimal(&mut self, obj: &Bound<'_, PyAny>) -> JResult {
        let finite = obj
            .call_method0(intern!(obj.py(), "is_finite"))
            .and_then(|f| f.is_truthy())
            .unwrap_or(false);
        if !finite {
            return Err(JsonError::new(format!(
                "Decimal {} is not JSON compliant",
                obj.str().map(|s| s.to_string()).unwrap_or_default()
            )));
        }
        // str(Decimal) is valid JSON number text ("1.50", "-0", "1E+3").
        let text = obj
            .str()
            .map_err(|e| JsonError::new(format!("Decimal could not be formatted: {e}")))?;
        self.out
            .extend_from_slice(text.to_string_lossy().as_bytes());
        Ok(())
    }

    /// SAFETY: `d` is a dict (or subclass) on the container stack.
    unsafe fn dict_ptr(&mut self, d: *mut ffi::PyObject) -> JResult {
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

    fn entry(&mut self, key: &str, v: &Bound<'_, PyAny>) -> JResult {
        write_escaped(self.out, key.as_bytes());
        self.out.push(b':');
        // The key is copied only if there is an error to report.
        self.value(v).map_err(|e| e.at(Step::Key(key.to_owned())))
    }

    /// SAFETY: `l` is a list (or subclass) on the container stack.
    unsafe fn list_ptr(&mut self, l: *mut ffi::PyObject) -> JResult {
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
    unsafe fn tuple_ptr(&mut self, t: *mut ffi::PyObject) -> JResult {
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

    fn dataclass(&mut self, obj: &Bound<'_, PyAny>) -> JResult {
        let py = obj.py();
        static FIELDS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let fields = FIELDS
            .import(py, "dataclasses", "fields")
            .map_err(py_err)?
            .call1((obj,))
            .map_err(|e| JsonError::raised(py, "dataclasses.fields() raised", e))?;
        self.out.push(b'{');
        for (n, field) in fields.try_iter().map_err(py_err)?.enumerate() {
            let name: String = field
                .map_err(py_err)?
                .getattr(intern!(py, "name"))
                .and_then(|n| n.extract())
                .map_err(py_err)?;
            let value = obj.getattr(name.as_str()).map_err(py_err)?;
            if n > 0 {
                self.out.push(b',');
            }
            self.entry(&name, &value)?;
        }
        self.out.push(b'}');
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

/// Dict keys as `json.dumps` writes them: str as-is; int, float, bool and None as
/// text; Enum members by their value and UUIDs by their string (which `json.dumps`
/// refuses; they are common keys in the seeds' payloads).
fn dict_key<'a>(k: &'a Bound<'_, PyAny>) -> Result<Cow<'a, str>, JsonError> {
    let py = k.py();
    if let Ok(s) = k.cast_exact::<PyString>() {
        return key_text(s);
    }
    if k.is_none() {
        return Ok(Cow::Borrowed("null"));
    }
    if let Ok(b) = k.cast_exact::<PyBool>() {
        return Ok(Cow::Borrowed(if b.is_true() { "true" } else { "false" }));
    }
    let known = known_types(py)?;
    if k.is_instance(known.enumeration.bind(py)).unwrap_or(false) {
        let value = k.getattr(intern!(py, "value")).map_err(py_err)?;
        return dict_key(&value).map(|c| Cow::Owned(c.into_owned()));
    }
    if let Ok(s) = k.cast::<PyString>() {
        return key_text(s);
    }
    if let Ok(i) = k.cast::<PyInt>() {
        // int(): an int subclass's own __str__ must not leak into the key.
        let i = py.get_type::<PyInt>().call1((i,)).map_err(py_err)?;
        return i
            .str()
            .map(|s| Cow::Owned(s.to_string_lossy().into_owned()))
            .map_err(py_err);
    }
    if let Ok(f) = k.cast::<PyFloat>() {
        let v = f.value();
        if !v.is_finite() {
            return Err(JsonError::new(format!(
                "Out of range float values are not JSON compliant: {}",
                python_float_name(v)
            )));
        }
        // float.__repr__, as json.dumps uses for keys.
        let f = py.get_type::<PyFloat>().call1((v,)).map_err(py_err)?;
        return f
            .repr()
            .map(|s| Cow::Owned(s.to_string_lossy().into_owned()))
            .map_err(py_err);
    }
    if k.is_instance(known.uuid.bind(py)).unwrap_or(false) {
        return k
            .str()
            .map(|s| Cow::Owned(s.to_string_lossy().into_owned()))
            .map_err(py_err);
    }
    Err(JsonError::new(format!(
        "keys must be str, int, float, bool, None, Enum or UUID, not {}",
        type_name(k)
    )))
}

fn key_text<'a>(s: &'a Bound<'_, PyString>) -> Result<Cow<'a, str>, JsonError> {
    s.to_str()
        .map(Cow::Borrowed)
        .map_err(|_| JsonError::new("dict key is not valid UTF-8 (it contains a lone surrogate)"))
}

fn call_str(obj: &Bound<'_, PyAny>, method: &str) -> Result<String, JsonError> {
    obj.call_method0(method)
        .and_then(|r| r.extract::<String>())
        .map_err(|e| JsonError::new(format!("{}.{method}() failed: {e}", type_name(obj))))
}

fn py_err(e: PyErr) -> JsonError {
    // Called with the GIL held (attaching again is only a check).
    Python::attach(|py| JsonError::raised(py, "", e))
}

fn python_float_name(v: f64) -> &'static str {
    if v.is_nan() {
        "nan"
    } else if v > 0.0 {
        "inf"
    } else {
        "-inf"
    }
}

pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// True if any byte of `chunk` is a control character, `"` or `\` (exact:
/// the classic "has a byte less than n" / "has a zero byte" bit tricks).
#[inline]
fn chunk_needs_escape(chunk: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let control = chunk.wrapping_sub(ONES * 0x20) & !chunk;
    let quote = chunk ^ (ONES * b'"' as u64);
    let backslash = chunk ^ (ONES * b'\\' as u64);
    let quote = quote.wrapping_sub(ONES) & !quote;
    let backslash = backslash.wrapping_sub(ONES) & !backslash;
    (control | quote | backslash) & HIGH != 0
}

/// Bytes JSON requires escaping: control characters, `"` and `\`.
static NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

#[inline]
fn byte_needs_escape(b: u8) -> bool {
    NEEDS_ESCAPE[b as usize]
}

/// Copy `bytes` to `dst` while checking that none needs escaping; false (with
/// `dst` partly written) as soon as one does.
///
/// SAFETY: `dst` must be valid for `bytes.len()` writes.
#[inline]
unsafe fn copy_if_clean(bytes: &[u8], dst: *mut u8) -> bool {
    let len = bytes.len();
    let src = bytes.as_ptr();
    if len < 8 {
        let mut dirty = false;
        for i in 0..len {
            let b = *src.add(i);
            dirty |= byte_needs_escape(b);
            *dst.add(i) = b;
        }
        return !dirty;
    }
    // 8 bytes at a time; the last word overlaps the one before it.
    let mut i = 0;
    while i + 8 <= len {
        let word = src.add(i).cast::<u64>().read_unaligned();
        if chunk_needs_escape(word) {
            return false;
        }
        dst.add(i).cast::<u64>().write_unaligned(word);
        i += 8;
    }
    if i < len {
        let word = src.add(len - 8).cast::<u64>().read_unaligned();
        if chunk_needs_escape(word) {
            return false;
        }
        dst.add(len - 8).cast::<u64>().write_unaligned(word);
    }
    true
}

/// True if no byte of `bytes` needs escaping.
#[cfg(test)]
fn is_clean(bytes: &[u8]) -> bool {
    let mut scratch = vec![0u8; bytes.len()];
    // SAFETY: scratch holds bytes.len() bytes.
    unsafe { copy_if_clean(bytes, scratch.as_mut_ptr()) }
}

/// Write UTF-8 `bytes` as a JSON string literal: UTF-8 kept, only `"`, `\` and
/// control characters escaped (what JSON requires; the rest stays readable).
#[inline]
fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = bytes.len();
    out.reserve(len + 2);
    let at = out.len();
    // SAFETY: `reserve` made room for len + 2 bytes after `at`; the length is
    // only extended once all of them are written.
    unsafe {
        let dst = out.as_mut_ptr().add(at);
        *dst = b'"';
        if copy_if_clean(bytes, dst.add(1)) {
            *dst.add(len + 1) = b'"';
            out.set_len(at + len + 2);
            return;
        }
    }
    out.push(b'"');
    write_escaped_slow(out, bytes);
    out.push(b'"');
}

#[cold]
fn write_escaped_slow(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if short.is_empty() {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(b >> 4) as usize],
                HEX[(b & 0xf) as usize],
            ]);
        } else {
            out.extend_from_slice(short);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = Vec::new();
        write_escaped(&mut out, s.as_bytes());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_only_what_json_requires() {
        assert_eq!(escaped("plain é ✓"), "\"plain é ✓\"");
        assert_eq!(escaped("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(escaped("\n\r\t\u{8}\u{c}"), "\"\\n\\r\\t\\b\\f\"");
        assert_eq!(escaped("\u{0}\u{1f}"), "\"\\u0000\\u001f\"");
        // Every escape serde_json's reader accepts back to the same text.
        for s in ["", "x", "\u{7f}", "tab\there", "\u{1}\u{2}"] {
            let back: String = serde_json::from_str(&escaped(s)).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn clean_check_agrees_with_a_byte_loop() {
        let needs = |b: &u8| *b < 0x20 || *b == b'"' || *b == b'\\';
        for len in 0..40 {
            for pos in 0..len {
                for bad in [b'"', b'\\', b'\n', 0x00, 0x1f] {
                    let mut v = vec![b'a'; len];
                    v[pos] = bad;
                    assert!(!is_clean(&v), "len {len} pos {pos} byte {bad}");
                }
                let mut v = vec![b'a'; len];
                v[pos] = 0x7f; // DEL and non-ASCII need no escaping
                assert!(is_clean(&v));
                assert_eq!(is_clean(&v), !v.iter().any(needs));
            }
        }
        assert!(is_clean("ünïcödé ✓ 日本語".as_bytes()));
    }

    #[test]
    fn paths_read_like_python() {
        let e = JsonError::new("boom")
            .at(Step::Key("price".into()))
            .at(Step::Index(3))
            .at(Step::Key("it's".into()));
        assert_eq!(e.describe("value"), "value['it\\'s'][3]['price']: boom");
    }
}
