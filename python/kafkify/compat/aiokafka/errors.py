"""aiokafka's ``aiokafka.errors``: kafka-python's hierarchy (shared with
``kafkify.compat.kafka.errors``, so one ``except`` catches both) plus aiokafka's
own producer errors."""

from __future__ import annotations

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
    from_kafkify,
)


class ProducerClosed(KafkaError):
    pass


class ProducerFenced(KafkaError):
    """Another producer with the same transactional_id went live."""

    def __init__(
        self, msg: str = "There is a newer producer using the same transactional_id"
    ) -> None:
        super().__init__(msg)


class IllegalOperation(KafkaError):
    """Raised if you try to execute an operation that is not available with the
    current configuration (e.g. transactions without ``transactional_id``)."""


class OutOfOrderSequenceNumber(KafkaError):
    pass


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
