//! Turning the Python arguments of a send (value, key, headers) into bytes.
//!
//! Values, keys and header values share the same encoders; each mode is chosen
//! once, at producer construction ([`Encoder::from_py`]).

pub mod buffer;
pub mod json;
mod stack;

use pyo3::prelude::*;
use pyo3::types::{
    PyByteArray, PyBytes, PyDict, PyIterator, PyList, PyMemoryView, PyString, PyTuple,
};
use rdkafka::message::{Header, OwnedHeaders};

use crate::errors::{Error, Result};

/// How a value (or key) becomes bytes.
pub enum Encoder {
    /// JSON, written in Rust (values' default), with an optional `default=` fallback.
    Json { default: Option<Py<PyAny>> },
    /// bytes-like as they are; `str` as UTF-8; anything else is an error.
    /// (keys' default: the Kafka convention for keys).
    Raw,
    /// bytes-like only.
    Bytes,
    /// `str` only, as UTF-8.
    Str,
    /// A Python callable returning bytes (kafka-python's `value_serializer=`).
    Callable(Py<PyAny>),
}

impl Encoder {
    /// Parse the `value_serializer=` / `key_serializer=` argument.
    pub fn from_py(option: &str, arg: Option<&Bound<'_, PyAny>>, default: Encoder) -> Result<Self> {
        let Some(arg) = arg.filter(|a| !a.is_none()) else {
            return Ok(default);
        };
        if let Ok(name) = arg.cast::<PyString>() {
            return match name.to_str().unwrap_or("") {
                "json" => Ok(Encoder::Json { default: None }),
                "bytes" => Ok(Encoder::Bytes),
                "str" => Ok(Encoder::Str),
                other => Err(Error::Config(format!(
                    "invalid value for '{option}': {other:?} (expected \"json\", \"bytes\", \"str\" or a callable)"
                ))),
            };
        }
        if arg.is_callable() {
            return Ok(Encoder::Callable(arg.clone().unbind()));
        }
        Err(Error::Config(format!(
            "invalid value for '{option}': {} (expected \"json\", \"bytes\", \"str\" or a callable)",
            json::type_name(arg)
        )))
    }

    /// Whether encoding only borrows the object's own bytes (bytes-like, str),
    /// running no Python code: cheap enough to do twice, and the GIL stays held.
    pub fn borrows(&self) -> bool {
        matches!(self, Encoder::Raw | Encoder::Bytes | Encoder::Str)
    }

    /// Encode `obj`; `what` names it in errors (`value`, `key`, `headers['x']`).
    pub fn encode<'py>(&self, obj: &Bound<'py, PyAny>, what: &str) -> Result<Payload<'py>> {
        match self {
            Encoder::Json { default } => {
                let options = json::Options {
                    default: default.as_ref().map(|d| d.bind(obj.py())),
                    sort_keys: false,
                };
                Ok(Payload::Owned(to_json(obj, what, options)?))
            }
            Encoder::Raw => bytes_like(obj)
                .or_else(|| utf8(obj))
                .ok_or_else(|| wrong_type(obj, what, "str or bytes (or set a key_serializer)")),
            Encoder::Bytes => bytes_like(obj)
                .ok_or_else(|| wrong_type(obj, what, "bytes, bytearray or memoryview")),
            Encoder::Str => utf8(obj).ok_or_else(|| wrong_type(obj, what, "str")),
            Encoder::Callable(f) => {
                let out = f.bind(obj.py()).call1((obj,)).map_err(|e| {
                    Error::Serialization(format!("{what}: the serializer raised {e}"))
                })?;
                if out.is_none() {
                    return Ok(Payload::Null);
                }
                bytes_like(&out).ok_or_else(|| {
                    Error::Serialization(format!(
                        "{what}: the serializer returned {}, expected bytes",
                        json::type_name(&out)
                    ))
                })
            }
        }
    }
}

/// JSON bytes for `obj`; `what` names it in errors. `kafkify.dumps` and the
/// producer's default serializer are both this function.
pub fn to_json(
    obj: &Bound<'_, PyAny>,
    what: &str,
    options: json::Options<'_, '_>,
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(128);
    json::write_value(obj, &mut out, options).map_err(|e| json_error(&e, what, obj))?;
    Ok(out)
}

fn json_error(e: &json::JsonError, what: &str, obj: &Bound<'_, PyAny>) -> Error {
    match e.kind() {
        json::ErrorKind::Invalid => Error::Serialization(json_hint(e.describe(what), obj)),
        json::ErrorKind::TooDeep | json::ErrorKind::Relayed => {
            Error::SerializationRecursion(e.describe(what))
        }
    }
}

/// Serialize `obj` into a per-thread scratch buffer and hand the bytes to `f`,
/// sparing an allocation per call (the bytes are copied out anyway: into a Python
/// `bytes`, or by librdkafka). A nested call (a `default=` callback that itself
/// serializes) gets a fresh buffer.
pub fn with_json<R>(
    obj: &Bound<'_, PyAny>,
    what: &str,
    options: json::Options<'_, '_>,
    f: impl FnOnce(&[u8]) -> R,
) -> Result<R> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    const KEEP_AT_MOST: usize = 1 << 20;
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            let result = json::write_value(obj, &mut buf, options)
                .map_err(|e| json_error(&e, what, obj))
                .map(|()| f(&buf));
            if buf.capacity() > KEEP_AT_MOST {
                *buf = Vec::new(); // don't keep a huge document's buffer forever
            }
            result
        }
        Err(_) => to_json(obj, what, options).map(|out| f(&out)),
    })
}

impl Encoder {
    /// Give the JSON encoder a `default=` fallback (no effect on other encoders).
    pub fn with_json_default(self, default: Option<Py<PyAny>>) -> Self {
        match self {
            Encoder::Json { .. } => Encoder::Json { default },
            other => other,
        }
    }
}

/// Encoded bytes, borrowed from the Python object where possible so that the one
/// copy is librdkafka's own (it copies every payload it accepts).
pub enum Payload<'py> {
    Null,
    /// A `bytes` object: immutable, so safe to read with the GIL released too.
    Borrowed(Bound<'py, PyBytes>),
    /// A bytearray's or memoryview's exported buffer: its contents may change
    /// once the GIL is released, see [`Payload::snapshot`].
    Buffer(buffer::Borrowed<'py>),
    /// A `str`'s UTF-8 (CPython caches it in the object; strings are immutable).
    Text(Bound<'py, PyString>),
    /// JSON written into the thread's scratch buffer (see [`with_json`]).
    Scratch(&'py [u8]),
    Owned(Vec<u8>),
}

impl Payload<'_> {
    pub fn as_slice(&self) -> Option<&[u8]> {
        match self {
            Payload::Null => None,
            Payload::Borrowed(b) => Some(b.as_bytes()),
            Payload::Buffer(b) => Some(b.as_slice()),
            Payload::Text(t) => t.to_str().ok().map(str::as_bytes),
            Payload::Scratch(s) => Some(s),
            Payload::Owned(v) => Some(v),
        }
    }

    /// Copy a mutable buffer's bytes before the GIL is released (a caller waiting
    /// for queue room), so another thread changing it cannot tear the record.
    pub fn snapshot(&mut self) {
        if let Payload::Buffer(b) = self {
            *self = Payload::Owned(b.as_slice().to_vec());
        }
    }

    /// Encoded size in bytes (0 for a null payload).
    pub fn size(&self) -> usize {
        self.as_slice().map_or(0, <[u8]>::len)
    }
}

fn bytes_like<'py>(obj: &Bound<'py, PyAny>) -> Option<Payload<'py>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Some(Payload::Borrowed(b.clone()));
    }
    let bytearray = obj.cast::<PyByteArray>().is_ok();
    if !bytearray && obj.cast::<PyMemoryView>().is_err() {
        return None;
    }
    if let Some(view) = buffer::Borrowed::new(obj) {
        return Some(Payload::Buffer(view));
    }
    // A non-contiguous memoryview: bytes() gathers it (one copy more).
    let copied = obj.py().get_type::<PyBytes>().call1((obj,)).ok()?;
    Some(Payload::Borrowed(copied.cast_into::<PyBytes>().ok()?))
}

fn utf8<'py>(obj: &Bound<'py, PyAny>) -> Option<Payload<'py>> {
    let s = obj.cast::<PyString>().ok()?;
    s.to_str().ok()?; // not valid UTF-8 (a lone surrogate): the caller reports it
    Some(Payload::Text(s.clone()))
}

fn wrong_type(obj: &Bound<'_, PyAny>, what: &str, expected: &str) -> Error {
    let detail = match obj.cast::<PyString>() {
        Ok(s) if s.to_str().is_err() => "str with a lone surrogate (not valid UTF-8)".to_string(),
        _ => json::type_name(obj),
    };
    Error::Serialization(format!("{what}: expected {expected}, got {detail}"))
}

/// Point users at `value_serializer="bytes"` when they hand raw bytes to the JSON encoder.
fn json_hint(message: String, obj: &Bound<'_, PyAny>) -> String {
    if bytes_like(obj).is_some() {
        format!(
            "{message} (to send raw bytes, create the producer with value_serializer=\"bytes\")"
        )
    } else {
        message
    }
}

/// Headers: a dict, or a list/tuple of `(str, bytes | str | None)` pairs (repeats allowed).
pub fn encode_headers(obj: &Bound<'_, PyAny>) -> Result<Option<OwnedHeaders>> {
    if obj.is_none() {
        return Ok(None);
    }
    let pairs: Vec<(Bound<'_, PyAny>, Bound<'_, PyAny>)> = if let Ok(d) = obj.cast::<PyDict>() {
        d.iter().collect()
    } else if obj.cast::<PyList>().is_ok() || obj.cast::<PyTuple>().is_ok() {
        let mut pairs = Vec::new();
        for (i, item) in obj
            .try_iter()
            .map_err(|e| header_error(e.to_string()))?
            .enumerate()
        {
            let item = item.map_err(|e| header_error(e.to_string()))?;
            let pair: (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract().map_err(|_| {
                header_error(format!(
                    "headers[{i}]: expected a (str, bytes) pair, got {}",
                    json::type_name(&item)
                ))
            })?;
            pairs.push(pair);
        }
        pairs
    } else {
        return Err(header_error(format!(
            "headers: expected a dict or a list of (str, bytes) pairs, got {}",
            json::type_name(obj)
        )));
    };
    let mut headers = OwnedHeaders::new_with_capacity(pairs.len());
    for (k, v) in &pairs {
        let key = k
            .cast::<PyString>()
            .ok()
            .and_then(|s| s.to_str().ok())
            .ok_or_else(|| {
                header_error(format!(
                    "headers: header names must be str, got {}",
                    json::type_name(k)
                ))
            })?;
        let what = format!("headers[{key:?}]");
        let value = if v.is_none() {
            Payload::Null
        } else {
            Encoder::Raw.encode(v, &what)?
        };
        headers = headers.insert(Header {
            key,
            value: value.as_slice(),
        });
    }
    Ok(Some(headers))
}

fn header_error(message: String) -> Error {
    Error::Serialization(message)
}

/// `obj`'s iterator; a TypeError naming the argument `what` if it is not iterable
/// (Python's own "'int' object is not iterable" does not say which argument).
pub fn iterate<'py>(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Bound<'py, PyIterator>> {
    obj.try_iter().map_err(|e| {
        if e.is_instance_of::<pyo3::exceptions::PyTypeError>(obj.py()) {
            pyo3::exceptions::PyTypeError::new_err(format!(
                "{what}: expected an iterable, got {}",
                json::type_name(obj)
            ))
        } else {
            e
        }
    })
}
