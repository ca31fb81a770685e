//! The extra types the walker writes beyond JSON's own: `Enum` (its value),
//! subclasses of str/int/float/dict/list/tuple, `datetime`/`date`/`time`
//! (isoformat), `UUID`, `Decimal`, dataclass instances, pydantic v2 models, then
//! `default=`; and dict keys (`dict_key`).

use std::borrow::Cow;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    IntoPyDict as _, PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType,
};

use super::escape::write_escaped;
use super::{py_err, python_float_name, stack, type_name, JResult, JsonError, Walker};

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

impl Walker<'_, '_, '_> {
    /// Everything but the exact built-in JSON types.
    pub(super) fn other(&mut self, obj: &Bound<'_, PyAny>) -> JResult {
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

/// Dict keys as `json.dumps` writes them: str as-is; int, float, bool and None as
/// text; Enum members by their value and UUIDs by their string (which `json.dumps`
/// refuses; they are common keys in the seeds' payloads).
pub(super) fn dict_key<'a>(k: &'a Bound<'_, PyAny>) -> Result<Cow<'a, str>, JsonError> {
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
