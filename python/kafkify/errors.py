"""kafkify's exception hierarchy.

Every error is a :class:`KafkaError` carrying ``code`` (librdkafka's error code,
or None), ``name`` (the code's name), ``retriable`` and ``fatal``. Each subclass
also inherits the matching built-in, so generic handlers work:
``except ValueError`` catches a :class:`ConfigError`, ``except TimeoutError`` a
:class:`KafkaTimeoutError`, ``except BufferError`` a :class:`QueueFullError`.

The native core decides which class to raise (``src/errors.rs``).
"""

from __future__ import annotations


class KafkaError(Exception):
    """Base class of every kafkify error."""

    code: int | None = None
    name: str | None = None
    retriable: bool = False
    fatal: bool = False
    #: Set by transactional calls: abort the transaction, then start a new one.
    txn_requires_abort: bool = False


class ConfigError(KafkaError, ValueError):
    """An unknown configuration name or an invalid value (the message names both)."""


class SerializationError(KafkaError, TypeError):
    """A value, key or header that cannot be encoded; the message names the path."""


class SerializationRecursionError(SerializationError, RecursionError):
    """A value nested too deep to encode as JSON: more than 255 levels, past the
    interpreter's recursion limit (which also counts the frames of ``default=``
    callbacks that call ``kafkify.dumps`` again), or past what the thread's stack
    holds. It is a ``RecursionError`` too, which ``json.dumps`` raises in those
    cases (or, for a small thread stack, crashes). The message names the path,
    e.g. ``value[0][0]...: maximum recursion depth exceeded while encoding a JSON
    object``; raised inside a ``default=`` callback's own ``kafkify.dumps`` call,
    it is passed on with that call's message."""


class InvalidTopicError(KafkaError, ValueError):
    """The topic name breaks Kafka's rules (empty, too long, bad characters)."""


class InvalidArgumentError(KafkaError, ValueError):
    """librdkafka rejected an argument."""


class KafkaTimeoutError(KafkaError, TimeoutError):
    """A wait ran out (a send's acknowledgement, a flush, metadata)."""


class QueueFullError(KafkaError, BufferError):
    """The local queue is full (``queue.buffering.max.messages`` / ``buffer_memory``)."""


class MessageSizeTooLargeError(KafkaError, ValueError):
    """The record is larger than ``max_request_size`` (``message.max.bytes``)."""


class UnknownTopicOrPartitionError(KafkaError):
    """The topic or partition does not exist on the cluster."""


class KafkaConnectionError(KafkaError, ConnectionError):
    """A connection to a broker failed."""


class NoBrokersAvailable(KafkaError, ConnectionError):
    """No broker answered."""


class AuthenticationError(KafkaError):
    """SASL or TLS authentication failed: a wrong password, an untrusted or mismatched
    broker certificate, a client certificate the broker refused. Records waiting while
    every broker refuses the client fail with it at once (not after the delivery
    timeout); the message carries librdkafka's reason."""


class AuthorizationError(KafkaError):
    """The broker refused the operation (ACLs)."""


class IllegalStateError(KafkaError, RuntimeError):
    """The operation is not valid in the producer's current state (e.g. transactions)."""


class ProducerFencedError(KafkaError):
    """A newer producer with the same ``transactional_id`` called ``init_transactions``:
    this one is fenced, fatally (``.fatal`` is True). Raised by the call where
    librdkafka learns it: the next ``commit_transaction``/``abort_transaction``, or the
    ``send`` whose record the broker refused; every later call raises it too. Close
    the producer."""


class RecordPurgedError(KafkaError):
    """The record was purged before delivery (the producer was closed with it queued)."""


class ProducerClosedError(KafkaError, RuntimeError):
    """The producer was closed; create a new one."""


class ProducerForkedError(KafkaError, RuntimeError):
    """The producer was created before ``os.fork()``; create a new one in the child."""


__all__ = [
    "AuthenticationError",
    "AuthorizationError",
    "ConfigError",
    "IllegalStateError",
    "InvalidArgumentError",
    "InvalidTopicError",
    "KafkaConnectionError",
    "KafkaError",
    "KafkaTimeoutError",
    "MessageSizeTooLargeError",
    "NoBrokersAvailable",
    "ProducerClosedError",
    "ProducerFencedError",
    "ProducerForkedError",
    "QueueFullError",
    "RecordPurgedError",
    "SerializationError",
    "SerializationRecursionError",
    "UnknownTopicOrPartitionError",
]
