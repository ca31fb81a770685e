//! One Rust error type for everything that can go wrong, mapped onto the Python
//! exception hierarchy in `kafkify.errors`.
//!
//! The Python classes live in Python (`python/kafkify/errors.py`) because each one
//! inherits both `KafkaError` and a built-in (`ValueError`, `TimeoutError`, ...),
//! which is one line in Python and awkward from PyO3. Rust decides *which* class
//! and fills in `code`, `name`, `retriable` and `fatal`.

use std::fmt;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use rdkafka::error::{KafkaError as RdError, RDKafkaErrorCode as Code};

/// Everything kafkify reports to Python.
#[derive(Debug, Clone)]
pub enum Error {
    /// A configuration name or value we (or librdkafka) reject.
    Config(String),
    /// A key, value or header that cannot be encoded.
    Serialization(String),
    /// A value nested too deep to encode (a SerializationError and a RecursionError).
    SerializationRecursion(String),
    /// A bad argument that is not a serialization problem (e.g. an empty topic name).
    InvalidTopic(String),
    /// A wait ran out before the broker answered.
    Timeout(String),
    /// The producer was closed.
    Closed,
    /// The producer was created in the parent of a `fork()`.
    Forked { parent_pid: u32 },
    /// librdkafka reported an error code.
    Kafka {
        code: Code,
        message: String,
        fatal: bool,
    },
    /// A transactional call's error, with librdkafka's advice on what to do next:
    /// call again (`retriable`), abort and start over (`txn_requires_abort`), or
    /// nothing (`fatal`: the producer is unusable).
    Txn {
        code: Code,
        message: String,
        fatal: bool,
        retriable: bool,
        txn_requires_abort: bool,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn kafka(code: Code, context: impl fmt::Display) -> Self {
        Error::Kafka {
            code,
            message: format!("{context}: {code}"),
            fatal: code == Code::Fatal,
        }
    }

    /// The class name in `kafkify.errors`.
    fn class_name(&self) -> &'static str {
        match self {
            Error::Config(_) => "ConfigError",
            Error::Serialization(_) => "SerializationError",
            Error::SerializationRecursion(_) => "SerializationRecursionError",
            Error::InvalidTopic(_) => "InvalidTopicError",
            Error::Timeout(_) => "KafkaTimeoutError",
            Error::Closed => "ProducerClosedError",
            Error::Forked { .. } => "ProducerForkedError",
            Error::Kafka { code, .. } | Error::Txn { code, .. } => class_for_code(*code),
        }
    }

    fn code(&self) -> Option<Code> {
        match self {
            Error::Kafka { code, .. } | Error::Txn { code, .. } => Some(*code),
            Error::Timeout(_) => Some(Code::MessageTimedOut),
            _ => None,
        }
    }

    fn retriable(&self) -> bool {
        match self {
            Error::Kafka { code, fatal, .. } => !fatal && is_retriable(*code),
            Error::Txn { retriable, .. } => *retriable,
            Error::Timeout(_) => true,
            _ => false,
        }
    }

    fn fatal(&self) -> bool {
        matches!(
            self,
            Error::Kafka { fatal: true, .. } | Error::Txn { fatal: true, .. }
        )
    }

    /// Build the Python exception object (not raised).
    pub fn to_py(&self, py: Python<'_>) -> PyErr {
        match self.build(py) {
            Ok(err) => err,
            // kafkify.errors could not be imported (broken install): still say what happened.
            Err(import_err) => import_err,
        }
    }

    fn build(&self, py: Python<'_>) -> PyResult<PyErr> {
        let class = error_class(py, self.class_name())?;
        let exc = class.call1((self.to_string(),))?;
        if let Some(code) = self.code() {
            exc.setattr("code", code as i32)?;
            exc.setattr("name", format!("{code:?}"))?;
        }
        exc.setattr("retriable", self.retriable())?;
        exc.setattr("fatal", self.fatal())?;
        if let Error::Txn {
            txn_requires_abort, ..
        } = self
        {
            exc.setattr("txn_requires_abort", *txn_requires_abort)?;
        }
        Ok(PyErr::from_value(exc))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(m)
            | Error::Serialization(m)
            | Error::SerializationRecursion(m)
            | Error::InvalidTopic(m)
            | Error::Timeout(m) => f.write_str(m),
            Error::Kafka { message, .. } | Error::Txn { message, .. } => f.write_str(message),
            Error::Closed => f.write_str("the producer is closed"),
            Error::Forked { parent_pid } => write!(
                f,
                "this Producer was created in process {parent_pid}, before os.fork(); \
                 librdkafka's threads do not survive fork, so create a new Producer in the child"
            ),
        }
    }
}

/// The class `name` of `kafkify.errors`.
pub fn error_class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let module = ERRORS
        .get_or_try_init(py, || py.import("kafkify.errors").map(Bound::unbind))?
        .bind(py);
    Ok(module.getattr(name)?.cast_into::<PyType>()?)
}

impl From<Error> for PyErr {
    fn from(err: Error) -> PyErr {
        Python::attach(|py| err.to_py(py))
    }
}

/// Translate an rdkafka crate error (from a call we made) into ours.
pub fn from_rdkafka(err: &RdError, context: &str) -> Error {
    match err.rdkafka_error_code() {
        Some(code) => Error::kafka(code, context),
        None => Error::Kafka {
            code: Code::Fail,
            message: format!("{context}: {err}"),
            fatal: false,
        },
    }
}

/// Why librdkafka refused to queue a record, in words the user can act on.
pub fn refused(err: &RdError, topic: &str, value_size: usize) -> Error {
    match err.rdkafka_error_code() {
        Some(Code::MessageSizeTooLarge) => Error::Kafka {
            code: Code::MessageSizeTooLarge,
            message: format!(
                "record to topic {topic:?} is too large ({value_size} bytes of value): raise max_request_size (message.max.bytes) or send smaller records"
            ),
            fatal: false,
        },
        Some(Code::QueueFull) => Error::Kafka {
            code: Code::QueueFull,
            message: "the local queue is full (queue.buffering.max.messages / buffer_memory) \
                      and stayed full for max_block_ms; wait for deliveries or raise the limits"
                .into(),
            fatal: false,
        },
        _ => from_rdkafka(err, &format!("could not queue a record for topic {topic:?}")),
    }
}

/// The `kafkify.errors` class of each librdkafka code that has its own (any other
/// code is a plain `KafkaError`).
const CLASS_OF_CODE: &[(&[Code], &str)] = &[
    (&[Code::QueueFull], "QueueFullError"),
    (
        &[
            Code::MessageTimedOut,
            Code::OperationTimedOut,
            Code::RequestTimedOut,
        ],
        "KafkaTimeoutError",
    ),
    (
        &[Code::MessageSizeTooLarge, Code::MessageBatchTooLarge],
        "MessageSizeTooLargeError",
    ),
    (
        &[
            Code::UnknownTopicOrPartition,
            Code::UnknownTopic,
            Code::UnknownPartition,
        ],
        "UnknownTopicOrPartitionError",
    ),
    (&[Code::InvalidTopic], "InvalidTopicError"),
    (&[Code::AllBrokersDown], "NoBrokersAvailable"),
    (
        &[Code::BrokerTransportFailure, Code::NetworkException],
        "KafkaConnectionError",
    ),
    (
        &[
            Code::Authentication,
            Code::SaslAuthenticationFailed,
            Code::SSL,
        ],
        "AuthenticationError",
    ),
    (
        &[
            Code::TopicAuthorizationFailed,
            Code::ClusterAuthorizationFailed,
            Code::TransactionalIdAuthorizationFailed,
        ],
        "AuthorizationError",
    ),
    (
        &[
            Code::State,
            Code::InvalidTransactionalState,
            Code::InvalidProducerEpoch,
        ],
        "IllegalStateError",
    ),
    (&[Code::InvalidArgument], "InvalidArgumentError"),
    (
        &[Code::PurgeQueue, Code::PurgeInflight],
        "RecordPurgedError",
    ),
    (&[Code::Fenced, Code::ProducerFenced], "ProducerFencedError"),
];

fn class_for_code(code: Code) -> &'static str {
    CLASS_OF_CODE
        .iter()
        .find(|(codes, _)| codes.contains(&code))
        .map_or("KafkaError", |(_, class)| class)
}

/// Every `kafkify.errors` class name an [`Error`] can become: tests/test_errors.py
/// checks that each exists (the lookup is by name, see `Error::build`).
#[pyfunction]
pub fn _error_class_names() -> Vec<&'static str> {
    let variants = [
        Error::Config(String::new()),
        Error::Serialization(String::new()),
        Error::SerializationRecursion(String::new()),
        Error::InvalidTopic(String::new()),
        Error::Timeout(String::new()),
        Error::Closed,
        Error::Forked { parent_pid: 0 },
    ];
    let mut names: Vec<&'static str> = variants.iter().map(Error::class_name).collect();
    names.extend(CLASS_OF_CODE.iter().map(|(_, class)| *class));
    names.push("KafkaError");
    names.sort_unstable();
    names.dedup();
    names
}

/// Errors a caller may simply try again (Kafka protocol "retriable" errors plus
/// librdkafka's transient local ones).
fn is_retriable(code: Code) -> bool {
    matches!(
        code,
        Code::QueueFull
            | Code::MessageTimedOut
            | Code::OperationTimedOut
            | Code::RequestTimedOut
            | Code::AllBrokersDown
            | Code::BrokerTransportFailure
            | Code::NetworkException
            | Code::LeaderNotAvailable
            | Code::NotLeaderForPartition
            | Code::NotEnoughReplicas
            | Code::NotEnoughReplicasAfterAppend
            | Code::UnknownTopicOrPartition
            | Code::NotCoordinator
            | Code::CoordinatorNotAvailable
            | Code::CoordinatorLoadInProgress
            | Code::KafkaStorageError
            | Code::ConcurrentTransactions
    )
}

/// Either error type a background job can end with.
pub enum PyErrOrError {
    Py(PyErr),
    Kafka(Error),
}

impl From<Error> for PyErrOrError {
    fn from(e: Error) -> Self {
        PyErrOrError::Kafka(e)
    }
}

impl PyErrOrError {
    /// The error as a Python exception, keeping this one (for a second reader).
    pub fn clone_py(&self, py: Python<'_>) -> PyErr {
        match self {
            PyErrOrError::Py(e) => e.clone_ref(py),
            PyErrOrError::Kafka(e) => e.to_py(py),
        }
    }
}

impl From<PyErrOrError> for PyErr {
    fn from(e: PyErrOrError) -> Self {
        match e {
            PyErrOrError::Py(e) => e,
            PyErrOrError::Kafka(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_the_expected_classes() {
        assert_eq!(class_for_code(Code::QueueFull), "QueueFullError");
        assert_eq!(
            class_for_code(Code::MessageSizeTooLarge),
            "MessageSizeTooLargeError"
        );
        assert_eq!(
            class_for_code(Code::UnknownPartition),
            "UnknownTopicOrPartitionError"
        );
        assert_eq!(class_for_code(Code::Fail), "KafkaError");
    }

    #[test]
    fn retriable_and_fatal_flags() {
        let transient = Error::kafka(Code::BrokerTransportFailure, "send");
        assert!(transient.retriable());
        assert!(!transient.fatal());
        let fatal = Error::kafka(Code::Fatal, "send");
        assert!(fatal.fatal());
        assert!(!fatal.retriable());
        assert!(!Error::Config("x".into()).retriable());
    }

    #[test]
    fn forked_message_names_the_parent() {
        let msg = Error::Forked { parent_pid: 42 }.to_string();
        assert!(msg.contains("process 42") && msg.contains("fork"));
    }
}
