//! Python value → compact UTF-8 JSON bytes, walking the objects directly (no
//! intermediate `serde_json::Value`, no Python `json` module).
//!
//! Insertion order of dicts is kept, ints of any size are written exactly, NaN and
//! infinities are refused (JSON has neither), and every error names the path of the
//! offending part: `value['items'][3]: Object of type set is not JSON serializable`.

use std::fmt::Write as _;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

/// Deeper nesting than this is refused rather than risking the stack.
pub const MAX_DEPTH: usize = 512;

/// One step of the path to the part of a value that failed.
enum Step {
    Key(String),
    Index(usize),
}

/// A serialization failure: the reason, and the path collected while unwinding.
pub struct JsonError {
    reason: String,
    path: Vec<Step>,
}

impl JsonError {
    fn new(reason: impl Into<String>) -> Self {
        JsonError {
            reason: reason.into(),
            path: Vec::new(),
        }
    }

    fn at(mut self, step: Step) -> Self {
        self.path.push(step);
        self
    }

    /// `root['a'][0]: reason`, with `root` naming the argument (`value`, `key`, ...).
    pub fn describe(&self, root: &str) -> String {
        let mut out = String::from(root);
        for step in self.path.iter().rev() {
            match step {
                Step::Key(k) => {
                    let _ = write!(out, "[{k:?}]");
                }
                Step::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
            }
        }
        let _ = write!(out, ": {}", self.reason);
        // Python users read repr()-style paths: value['a'], not value["a"].
        out.replace("[\"", "['").replace("\"]", "']")
    }
}

type JResult = Result<(), JsonError>;

/// Serialize `obj` as compact JSON into `out`.
pub fn write_value(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>) -> Result<(), JsonError> {
    let mut walker = Walker {
        out,
        stack: Vec::new(),
    };
    walker.value(obj)
}

struct Walker<'o> {
    out: &'o mut Vec<u8>,
    /// Containers being written, to detect cycles (and bound the depth).
    stack: Vec<*mut pyo3::ffi::PyObject>,
}

impl Walker<'_> {
    fn value(&mut self, obj: &Bound<'_, PyAny>) -> JResult {
        // Exact-type checks first: the common case, and cheaper than isinstance.
        if let Ok(s) = obj.cast_exact::<PyString>() {
            return self.string(s);
        }
        if obj.is_none() {
            self.out.extend_from_slice(b"null");
            return Ok(());
        }
        if let Ok(b) = obj.cast_exact::<PyBool>() {
            let text: &[u8] = if b.is_true() { b"true" } else { b"false" };
            self.out.extend_from_slice(text);
            return Ok(());
        }
        if let Ok(i) = obj.cast::<PyInt>() {
            return self.int(i);
        }
        if let Ok(f) = obj.cast::<PyFloat>() {
            return self.float(f.value());
        }
        if let Ok(d) = obj.cast::<PyDict>() {
            return self.nested(obj, |w| w.dict(d));
        }
        if let Ok(l) = obj.cast::<PyList>() {
            return self.nested(obj, |w| w.sequence(l.iter()));
        }
        if let Ok(t) = obj.cast::<PyTuple>() {
            return self.nested(obj, |w| w.sequence(t.iter()));
        }
        if let Ok(s) = obj.cast::<PyString>() {
            return self.string(s);
        }
        Err(JsonError::new(format!(
            "Object of type {} is not JSON serializable",
            type_name(obj)
        )))
    }

    fn nested(
        &mut self,
        obj: &Bound<'_, PyAny>,
        body: impl FnOnce(&mut Self) -> JResult,
    ) -> JResult {
        let ptr = obj.as_ptr();
        if self.stack.contains(&ptr) {
            return Err(JsonError::new("circular reference detected"));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(JsonError::new(format!(
                "nesting deeper than {MAX_DEPTH} levels"
            )));
        }
        self.stack.push(ptr);
        let result = body(self);
        self.stack.pop();
        result
    }

    fn string(&mut self, s: &Bound<'_, PyString>) -> JResult {
        let text = s
            .to_str()
            .map_err(|_| JsonError::new("str is not valid UTF-8 (it contains a lone surrogate)"))?;
        write_escaped(self.out, text);
        Ok(())
    }

    fn int(&mut self, i: &Bound<'_, PyInt>) -> JResult {
        match i.extract::<i64>() {
            Ok(v) => {
                let _ = std::io::Write::write_fmt(self.out, format_args!("{v}"));
            }
            // Larger than 64 bits: Python's own decimal text is exact.
            Err(_) => {
                let text = i
                    .str()
                    .map_err(|e| JsonError::new(format!("int could not be formatted: {e}")))?;
                self.out
                    .extend_from_slice(text.to_string_lossy().as_bytes());
            }
        }
        Ok(())
    }

    fn float(&mut self, v: f64) -> JResult {
        if !v.is_finite() {
            return Err(JsonError::new(format!(
                "Out of range float values are not JSON compliant: {}",
                python_float_name(v)
            )));
        }
        // serde_json writes the shortest text that reads back to the same f64.
        serde_json::to_writer(&mut *self.out, &v)
            .map_err(|e| JsonError::new(format!("float could not be written: {e}")))
    }

    fn dict(&mut self, d: &Bound<'_, PyDict>) -> JResult {
        self.out.push(b'{');
        for (n, (k, v)) in d.iter().enumerate() {
            if n > 0 {
                self.out.push(b',');
            }
            let key = dict_key(&k)?;
            write_escaped(self.out, &key);
            self.out.push(b':');
            self.value(&v).map_err(|e| e.at(Step::Key(key)))?;
        }
        self.out.push(b'}');
        Ok(())
    }

    fn sequence<'py>(&mut self, items: impl Iterator<Item = Bound<'py, PyAny>>) -> JResult {
        self.out.push(b'[');
        for (n, item) in items.enumerate() {
            if n > 0 {
                self.out.push(b',');
            }
            self.value(&item).map_err(|e| e.at(Step::Index(n)))?;
        }
        self.out.push(b']');
        Ok(())
    }
}

/// Dict keys as `json.dumps` writes them: str as-is; int, float, bool and None as text.
fn dict_key(k: &Bound<'_, PyAny>) -> Result<String, JsonError> {
    if let Ok(s) = k.cast::<PyString>() {
        return s
            .to_str()
            .map(str::to_owned)
            .map_err(|_| JsonError::new("dict key is not valid UTF-8 (lone surrogate)"));
    }
    if k.is_none() {
        return Ok("null".into());
    }
    if let Ok(b) = k.cast_exact::<PyBool>() {
        return Ok(if b.is_true() { "true" } else { "false" }.into());
    }
    if let Ok(i) = k.cast::<PyInt>() {
        return i
            .str()
            .map(|s| s.to_string_lossy().into_owned())
            .map_err(|e| JsonError::new(e.to_string()));
    }
    if let Ok(f) = k.cast::<PyFloat>() {
        let v = f.value();
        if !v.is_finite() {
            return Err(JsonError::new(format!(
                "Out of range float values are not JSON compliant: {}",
                python_float_name(v)
            )));
        }
        return k
            .repr()
            .map(|s| s.to_string_lossy().into_owned())
            .map_err(|e| JsonError::new(e.to_string()));
    }
    Err(JsonError::new(format!(
        "keys must be str, int, float, bool or None, not {}",
        type_name(k)
    )))
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

/// Write `s` as a JSON string literal (UTF-8 kept, only what JSON requires escaped).
fn write_escaped(out: &mut Vec<u8>, s: &str) {
    // serde_json's escaper is the well-tested one; writing into a Vec cannot fail.
    let _ = serde_json::to_writer(out, s);
}
