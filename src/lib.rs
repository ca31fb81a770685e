//! kafkify's native core: a Kafka producer for Python on librdkafka.
//!
//! Module map (the README's layout table says the same):
//! - `config` (names → librdkafka properties: `mod` the rules and `translate`, pure;
//!   `from_py` the constructor's options from Python; `librdkafka` its property table,
//!   kafkify's defaults, a value as librdkafka parses it; `value` a value as given); `timeout` (timeouts and deadlines);
//!   `suggest` ("did you mean" for unknown names);
//! - `serialize` (values, keys, headers → bytes; `serialize::json` the JSON walker:
//!   `mod` errors and paths, `walk` the walk, `types` the extra types, `escape`);
//! - `rd` (every raw FFI call outside the serializer: `unsafe` is denied elsewhere,
//!   bar the opaque-pointer encoding in `delivery`);
//! - `client` (librdkafka handle, threads, lifecycle), `exit_gate` (interpreter exit
//!   waits for our threads that attach to Python on their own), `queue` (records → librdkafka,
//!   and the overflow line for async callers), `serve` (a waiting caller serves
//!   librdkafka's report queue), `expedite` (awaited records leave when their loop
//!   goes idle, not after linger);
//! - `delivery` (a report → a woken thread, a callback or a future: `mod` the
//!   `Completion`, its opaque pointer, the router `Context`, the dispatcher thread;
//!   `outcome` what a report says; `batch` the `send_batch` protocol), `aio` (outcomes
//!   → asyncio loops, futures settled, `send_async` expiry, lifecycle calls on a
//!   thread), `metadata` (RecordMetadata, outcomes as Python values);
//! - `producer` (the Python class: thin shells), `args` (a call's Python arguments,
//!   checked and named), `enqueue` (the engine every send goes through: encode,
//!   hand to librdkafka, wait for room, batches, blocking waits), `transactions`,
//!   `cluster` (metadata queries, partitions_for, purge, the error-code table), `errors` (one enum → Python exceptions), `observe`
//!   (logging, global errors, statistics, counters), `refusal` (records fail at once
//!   when the brokers refuse our credentials or TLS), `polled` (reports served by the
//!   caller's `poll()`, for the confluent shim), `testing` (librdkafka's mock cluster
//!   for tests), `warmup` (an idempotent producer's id asked for as soon as a broker
//!   is up, not after librdkafka's 500 ms timer).

// `unsafe` lives in `rd` (raw FFI) and `serialize` (the JSON walker's CPython
// fast path), plus the opaque-pointer encoding in `delivery` (see there).
#![deny(unsafe_code)]

use std::sync::atomic::Ordering;

use pyo3::prelude::*;

pub mod aio;
pub mod args;
pub mod client;
pub mod cluster;
pub mod config;
pub mod delivery;
pub mod enqueue;
pub mod errors;
pub mod exit_gate;
pub mod expedite;
pub mod metadata;
pub mod observe;
pub mod polled;
pub mod producer;
pub mod queue;
#[allow(unsafe_code)]
pub mod rd;
pub mod refusal;
#[allow(unsafe_code)]
pub mod serialize;
pub mod serve;
pub mod suggest;
pub mod telemetry;
pub mod testing;
pub mod timeout;
pub mod transactions;
pub mod warmup;

/// The bundled librdkafka's version string, e.g. "2.12.1".
#[pyfunction]
fn librdkafka_version() -> String {
    rdkafka::util::get_rdkafka_version().1
}

/// The features the bundled librdkafka was built with (its `builtin.features`),
/// e.g. ["gzip", "snappy", "ssl", "sasl_scram", "zstd", ...].
#[pyfunction]
fn librdkafka_features() -> Vec<String> {
    config::librdkafka::rdkafka_defaults()
        .iter()
        .find(|(name, _)| name == "builtin.features")
        .map(|(_, value)| value.split(',').map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Encode `value` as compact UTF-8 JSON, exactly as a producer's default
/// serializer does (same code path).
///
/// Raises:
///     SerializationError: the value (at the path named in the message) is not
///         JSON-serializable and `default` did not help.
///     SerializationRecursionError: nested too deep (255 levels, the recursion
///         limit, or the thread's stack); a SerializationError and a RecursionError.
#[pyfunction]
#[pyo3(signature = (value, *, default=None, sort_keys=false))]
fn dumps<'py>(
    py: Python<'py>,
    value: &Bound<'py, PyAny>,
    default: Option<&Bound<'py, PyAny>>,
    sort_keys: bool,
) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
    let options = serialize::json::Options {
        default: default.filter(|d| !d.is_none()),
        sort_keys,
    };
    Ok(serialize::with_json(value, "value", options, |bytes| {
        pyo3::types::PyBytes::new(py, bytes)
    })?)
}

extern "C" fn after_fork_in_child() {
    client::FORK_GENERATION.fetch_add(1, Ordering::AcqRel);
    exit_gate::after_fork_in_child();
}

#[pymodule]
fn _kafkify(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // The handler only stores to atomics: async-signal-safe.
    rd::after_fork_in_child(after_fork_in_child);
    m.add_class::<producer::Producer>()?;
    m.add_class::<metadata::RecordMetadata>()?;
    m.add_class::<testing::MockCluster>()?;
    m.add_class::<transactions::Transaction>()?;
    m.add_class::<polled::face::PolledProducer>()?;
    m.add_class::<polled::message::Message>()?;
    m.add_function(wrap_pyfunction!(cluster::librdkafka_error_codes, m)?)?;
    m.add_function(wrap_pyfunction!(librdkafka_version, m)?)?;
    m.add_function(wrap_pyfunction!(librdkafka_features, m)?)?;
    m.add_function(wrap_pyfunction!(dumps, m)?)?;
    m.add_function(wrap_pyfunction!(client::_shutdown_all, m)?)?;
    m.add_function(wrap_pyfunction!(errors::_error_class_names, m)?)?;
    m.add_function(wrap_pyfunction!(config::from_py::_core_accepts, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
