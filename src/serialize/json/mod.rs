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
//!
//! The files: this one holds the errors and their paths, the options and the
//! entry point; `walk.rs` the walker (exact built-in types, containers, cycles and
//! depth); `types.rs` the extra types (datetime, UUID, Decimal, Enum, dataclasses,
//! pydantic, subclasses, `default=`, dict keys); `escape.rs` string escaping.

use std::fmt::Write as _;

use pyo3::exceptions::PyRecursionError;
use pyo3::prelude::*;
use pyo3::{ffi, intern};

use super::stack;

mod escape;
mod types;
mod walk;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_like_python() {
        let e = JsonError::new("boom")
            .at(Step::Key("price".into()))
            .at(Step::Index(3))
            .at(Step::Key("it's".into()));
        assert_eq!(e.describe("value"), "value['it\\'s'][3]['price']: boom");
    }
}
