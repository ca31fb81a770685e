"""aiokafka's ``aiokafka.errors``: kafka-python's hierarchy (shared with
``kafkify.compat.kafka.errors``, so one ``except`` catches both) plus aiokafka's
own producer errors."""

from __future__ import annotations

import kafkify
from kafkify.compat.kafka.errors import (
    AuthorizationError,
    BrokerResponseError,
    ConcurrentTransactionsError,
    CoordinatorNotAvailableError,
    IllegalArgumentError,
    IllegalStateError,
    InvalidProducerEpochError,
    InvalidTopicError,
    InvalidTxnStateError,
    KafkaConfigurationError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    LeaderNotAvailableError,
    MessageSizeTooLargeError,
    NoBrokersAvailable,
    NodeNotReadyError,
    NotEnoughReplicasError,
    NotLeaderForPartitionError,
    OutOfOrderSequenceNumberError,
    ProducerFencedError,
    RequestTimedOutError,
    SaslAuthenticationFailedError,
    SaslAuthenticationRefusedError,
    SSLHandshakeRefusedError,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailedError,
    UnknownError,
    UnknownTopicOrPartitionError,
    UnsupportedVersionError,
    for_code,
)
from kafkify.compat.kafka.errors import from_kafkify as _kafka_python_error


class ProducerClosed(KafkaError):
    pass


class ProducerFenced(KafkaError):
    """Another producer with the same transactional_id went live (or the transaction
    timed out); the producer cannot go on. The message is aiokafka's."""

    def __init__(
        self,
        msg: str = (
            "There is a newer producer using the same transactional_id or"
            "transaction timeout occurred (check that processing time is "
            "below transaction_timeout_ms)"
        ),
    ) -> None:
        super().__init__(msg)


class IllegalOperation(KafkaError):
    """Raised if you try to execute an operation that is not available with the
    current configuration (e.g. transactions without ``transactional_id``)."""


class OutOfOrderSequenceNumber(KafkaError):
    pass


def from_kafkify(exc: BaseException) -> BaseException:
    """The aiokafka error for a kafkify error (other exceptions unchanged): kafka-python's
    class, except that a fenced producer raises aiokafka's ``ProducerFenced`` (the
    core's ``ProducerFencedError``, which kafka-python calls ``ProducerFencedError``)."""
    if isinstance(exc, kafkify.ProducerFencedError):
        out = ProducerFenced()
        out.__cause__ = exc
        return out
    return _kafka_python_error(exc)


__all__ = [
    "AuthorizationError",
    "BrokerResponseError",
    "ConcurrentTransactionsError",
    "CoordinatorNotAvailableError",
    "IllegalArgumentError",
    "IllegalOperation",
    "IllegalStateError",
    "InvalidProducerEpochError",
    "InvalidTopicError",
    "InvalidTxnStateError",
    "KafkaConfigurationError",
    "KafkaConnectionError",
    "KafkaError",
    "KafkaTimeoutError",
    "LeaderNotAvailableError",
    "MessageSizeTooLargeError",
    "NoBrokersAvailable",
    "NodeNotReadyError",
    "NotEnoughReplicasError",
    "NotLeaderForPartitionError",
    "OutOfOrderSequenceNumber",
    "OutOfOrderSequenceNumberError",
    "ProducerClosed",
    "ProducerFenced",
    "ProducerFencedError",
    "RequestTimedOutError",
    "SSLHandshakeRefusedError",
    "SaslAuthenticationFailedError",
    "SaslAuthenticationRefusedError",
    "TopicAuthorizationFailedError",
    "TransactionalIdAuthorizationFailedError",
    "UnknownError",
    "UnknownTopicOrPartitionError",
    "UnsupportedVersionError",
    "for_code",
    "from_kafkify",
]
