//! kafkify's native core: a Kafka producer for Python on librdkafka.
//!
//! Module map: `config` (names → librdkafka properties), `serialize` (values, keys,
//! headers → bytes), `client` (librdkafka handle, threads, lifecycle), `delivery`
//! (reports → blocked threads, asyncio futures, callbacks), `producer` (the Python
//! class), `metadata` (RecordMetadata), `errors` (one enum → Python exceptions).

use std::sync::atomic::Ordering;

use pyo3::prelude::*;

pub mod client;
pub mod config;
pub mod delivery;
pub mod errors;
pub mod metadata;
pub mod producer;
pub mod serialize;

/// The bundled librdkafka's version string, e.g. "2.12.1".
#[pyfunction]
fn librdkafka_version() -> String {
    rdkafka::util::get_rdkafka_version().1
}

/// Encode `value` exactly as a producer with the default JSON serializer would.
///
/// Raises:
///     SerializationError: the value (at the path named in the message) is not
///         JSON-serializable.
#[pyfunction]
fn dumps<'py>(
    py: Python<'py>,
    value: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
    let mut out = Vec::with_capacity(128);
    serialize::json::write_value(value, &mut out)
        .map_err(|e| errors::Error::Serialization(e.describe("value")))?;
    Ok(pyo3::types::PyBytes::new(py, &out))
}

extern "C" fn after_fork_in_child() {
    client::FORK_GENERATION.fetch_add(1, Ordering::AcqRel);
}

#[pymodule]
fn _kafkify(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // SAFETY: registering a handler that only bumps an atomic is async-signal-safe.
    unsafe {
        libc::pthread_atfork(None, None, Some(after_fork_in_child));
    }
    m.add_class::<producer::Producer>()?;
    m.add_class::<metadata::RecordMetadata>()?;
    m.add_function(wrap_pyfunction!(librdkafka_version, m)?)?;
    m.add_function(wrap_pyfunction!(dumps, m)?)?;
    m.add_function(wrap_pyfunction!(client::_shutdown_all, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
