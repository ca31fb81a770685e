"""kafka-python's ``kafka.errors``: the same names and hierarchy (2.x and 3.x).

``KafkaError`` derives from ``RuntimeError`` and carries ``retriable`` and
``invalid_metadata``; broker errors derive from ``BrokerResponseError`` and carry
Kafka's ``errno``. :func:`from_kafkify` turns a kafkify core error into the class
kafka-python would raise for the same failure (the original stays ``__cause__``).
"""

from __future__ import annotations

import kafkify
import kafkify.errors as core


class KafkaError(RuntimeError):
    retriable = False
    # whether metadata should be refreshed on error
    invalid_metadata = False

    def __str__(self) -> str:
        if not self.args:
            return self.__class__.__name__
        return f"{self.__class__.__name__}: {super().__str__()}"


class Cancelled(KafkaError):
    retriable = True


class CommitFailedError(KafkaError):
    pass


class IllegalArgumentError(KafkaError):
    pass


class IllegalStateError(KafkaError):
    pass


class KafkaConfigurationError(KafkaError):
    pass


class KafkaConnectionError(KafkaError):
    retriable = True
    invalid_metadata = True


class KafkaProtocolError(KafkaError):
    retriable = True


class CorrelationIdError(KafkaProtocolError):
    retriable = True


class KafkaTimeoutError(KafkaError):
    retriable = True


class MetadataEmptyBrokerList(KafkaError):
    retriable = True


class NoBrokersAvailable(KafkaError):
    retriable = True
    invalid_metadata = True


class NoOffsetForPartitionError(KafkaError):
    pass


class NodeNotReadyError(KafkaError):
    retriable = True


class KafkaUnavailableError(KafkaError):
    pass


class QuotaViolationError(KafkaError):
    pass


class StaleMetadata(KafkaError):
    retriable = True
    invalid_metadata = True


class TooManyInFlightRequests(KafkaError):
    retriable = True


class UnrecognizedBrokerVersion(KafkaError):
    pass


class UnsupportedCodecError(KafkaError):
    pass


class TransactionAbortedError(KafkaError):
    pass


class BrokerResponseError(KafkaError):
    errno: int | None = None
    message: str | None = None
    description: str | None = None

    def __str__(self) -> str:
        return f"[Error {self.errno}] {super().__str__()}"


class AuthorizationError(BrokerResponseError):
    pass


def _broker_error(
    name: str, errno: int, message: str, retriable: bool = False, invalid_metadata: bool = False
) -> type[BrokerResponseError]:
    return type(
        name,
        (BrokerResponseError,),
        {
            "errno": errno,
            "message": message,
            "retriable": retriable,
            "invalid_metadata": invalid_metadata,
            "__module__": __name__,
        },
    )


UnknownError = _broker_error("UnknownError", -1, "UNKNOWN")
OffsetOutOfRangeError = _broker_error("OffsetOutOfRangeError", 1, "OFFSET_OUT_OF_RANGE")
CorruptRecordError = _broker_error("CorruptRecordError", 2, "CORRUPT_MESSAGE", True)
CorruptRecordException = CorruptRecordError  # the 2.x name
UnknownTopicOrPartitionError = _broker_error(
    "UnknownTopicOrPartitionError", 3, "UNKNOWN_TOPIC_OR_PARTITION", True, True
)
InvalidFetchRequestError = _broker_error("InvalidFetchRequestError", 4, "INVALID_FETCH_SIZE")
LeaderNotAvailableError = _broker_error(
    "LeaderNotAvailableError", 5, "LEADER_NOT_AVAILABLE", True, True
)
NotLeaderForPartitionError = _broker_error(
    "NotLeaderForPartitionError", 6, "NOT_LEADER_FOR_PARTITION", True, True
)
NotLeaderOrFollowerError = NotLeaderForPartitionError  # the Kafka 2.4+ name
RequestTimedOutError = _broker_error("RequestTimedOutError", 7, "REQUEST_TIMED_OUT", True)
BrokerNotAvailableError = _broker_error("BrokerNotAvailableError", 8, "BROKER_NOT_AVAILABLE")
ReplicaNotAvailableError = _broker_error(
    "ReplicaNotAvailableError", 9, "REPLICA_NOT_AVAILABLE", True, True
)
MessageSizeTooLargeError = _broker_error("MessageSizeTooLargeError", 10, "MESSAGE_SIZE_TOO_LARGE")
NetworkExceptionError = _broker_error("NetworkExceptionError", 13, "NETWORK_EXCEPTION", True, True)
CoordinatorLoadInProgressError = _broker_error(
    "CoordinatorLoadInProgressError", 14, "COORDINATOR_LOAD_IN_PROGRESS", True
)
CoordinatorNotAvailableError = _broker_error(
    "CoordinatorNotAvailableError", 15, "COORDINATOR_NOT_AVAILABLE", True
)
NotCoordinatorError = _broker_error("NotCoordinatorError", 16, "NOT_COORDINATOR", True)
InvalidTopicError = _broker_error("InvalidTopicError", 17, "INVALID_TOPIC")
RecordListTooLargeError = _broker_error("RecordListTooLargeError", 18, "RECORD_LIST_TOO_LARGE")
NotEnoughReplicasError = _broker_error("NotEnoughReplicasError", 19, "NOT_ENOUGH_REPLICAS", True)
NotEnoughReplicasAfterAppendError = _broker_error(
    "NotEnoughReplicasAfterAppendError", 20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", True
)
InvalidRequiredAcksError = _broker_error("InvalidRequiredAcksError", 21, "INVALID_REQUIRED_ACKS")
InvalidTimestampError = _broker_error("InvalidTimestampError", 32, "INVALID_TIMESTAMP")
UnsupportedVersionError = _broker_error("UnsupportedVersionError", 35, "UNSUPPORTED_VERSION")
InvalidRequestError = _broker_error("InvalidRequestError", 42, "INVALID_REQUEST")
PolicyViolationError = _broker_error("PolicyViolationError", 44, "POLICY_VIOLATION")
OutOfOrderSequenceNumberError = _broker_error(
    "OutOfOrderSequenceNumberError", 45, "OUT_OF_ORDER_SEQUENCE_NUMBER"
)
DuplicateSequenceNumberError = _broker_error(
    "DuplicateSequenceNumberError", 46, "DUPLICATE_SEQUENCE_NUMBER"
)
InvalidProducerEpochError = _broker_error("InvalidProducerEpochError", 47, "INVALID_PRODUCER_EPOCH")
InvalidTxnStateError = _broker_error("InvalidTxnStateError", 48, "INVALID_TXN_STATE")
InvalidProducerIdMappingError = _broker_error(
    "InvalidProducerIdMappingError", 49, "INVALID_PRODUCER_ID_MAPPING"
)
InvalidTransactionTimeoutError = _broker_error(
    "InvalidTransactionTimeoutError", 50, "INVALID_TRANSACTION_TIMEOUT"
)
ConcurrentTransactionsError = _broker_error(
    "ConcurrentTransactionsError", 51, "CONCURRENT_TRANSACTIONS", True
)
TransactionCoordinatorFencedError = _broker_error(
    "TransactionCoordinatorFencedError", 52, "TRANSACTION_COORDINATOR_FENCED"
)
ProducerFencedError = _broker_error("ProducerFencedError", 90, "PRODUCER_FENCED")
KafkaStorageError = _broker_error("KafkaStorageError", 56, "KAFKA_STORAGE_ERROR", True, True)
UnknownProducerIdError = _broker_error("UnknownProducerIdError", 59, "UNKNOWN_PRODUCER_ID")


def _authorization_error(name: str, errno: int, message: str) -> type[AuthorizationError]:
    return type(
        name,
        (AuthorizationError,),
        {"errno": errno, "message": message, "__module__": __name__},
    )


TopicAuthorizationFailedError = _authorization_error(
    "TopicAuthorizationFailedError", 29, "TOPIC_AUTHORIZATION_FAILED"
)
GroupAuthorizationFailedError = _authorization_error(
    "GroupAuthorizationFailedError", 30, "GROUP_AUTHORIZATION_FAILED"
)
ClusterAuthorizationFailedError = _authorization_error(
    "ClusterAuthorizationFailedError", 31, "CLUSTER_AUTHORIZATION_FAILED"
)
TransactionalIdAuthorizationFailedError = _authorization_error(
    "TransactionalIdAuthorizationFailedError", 53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED"
)
SaslAuthenticationFailedError = _broker_error(
    "SaslAuthenticationFailedError", 58, "SASL_AUTHENTICATION_FAILED"
)

kafka_errors: dict[int, type[BrokerResponseError]] = {
    cls.errno: cls  # type: ignore[misc]
    for cls in list(globals().values())
    if isinstance(cls, type) and issubclass(cls, BrokerResponseError) and cls.errno is not None
}


# Every broker refused this client: kafkify fails the records at once with the
# reason (kafkify.AuthenticationError). kafka-python records the same failure as
# SaslAuthenticationFailedError (SASL) or KafkaConnectionError (TLS handshake) and
# surfaces it as KafkaTimeoutError (the constructor's bootstrap, or send() waiting
# for metadata); aiokafka's start() raises KafkaConnectionError. These classes are
# all of those, so handlers written for either peer still catch them. Not retriable:
# only new credentials or certificates help.
def _refused(name: str, *bases: type[KafkaError], doc: str) -> type[KafkaError]:
    attrs = {"retriable": False, "invalid_metadata": False, "__module__": __name__, "__doc__": doc}
    return type(name, bases, attrs)


SaslAuthenticationRefusedError = _refused(
    "SaslAuthenticationRefusedError",
    SaslAuthenticationFailedError,
    KafkaConnectionError,
    KafkaTimeoutError,
    doc="The brokers refused the SASL credentials (errno 58, SASL_AUTHENTICATION_FAILED).",
)
SSLHandshakeRefusedError = _refused(
    "SSLHandshakeRefusedError",
    KafkaConnectionError,
    KafkaTimeoutError,
    doc="The TLS handshake failed: an untrusted or mismatched broker certificate, "
    "or a client certificate the broker refused.",
)


def for_code(error_code: int) -> type[KafkaError]:
    """The class for a Kafka protocol error code (``UnknownError`` when unknown)."""
    return kafka_errors.get(error_code, UnknownError)


# librdkafka's local codes (by name) → what kafka-python raises for the same failure.
_LOCAL_NAMES: dict[str, type[KafkaError]] = {
    "_MSG_TIMED_OUT": KafkaTimeoutError,  # delivery.timeout.ms passed
    "_TIMED_OUT": KafkaTimeoutError,
    "_QUEUE_FULL": KafkaTimeoutError,  # no room within max_block_ms
    "_ALL_BROKERS_DOWN": NoBrokersAvailable,
    "_TRANSPORT": KafkaConnectionError,
    "_STATE": IllegalStateError,
    "_INVALID_ARG": IllegalArgumentError,
    "_UNKNOWN_TOPIC": UnknownTopicOrPartitionError,
    "_UNKNOWN_PARTITION": UnknownTopicOrPartitionError,
    "_PURGE_QUEUE": KafkaTimeoutError,  # undelivered when closed or aborted
    "_PURGE_INFLIGHT": KafkaTimeoutError,
    "_AUTHENTICATION": KafkaConnectionError,
    "_FENCED": ProducerFencedError,
}
_CODES = {name: code for code, name, _ in kafkify.librdkafka_error_codes()}
_LOCAL: dict[int, type[KafkaError]] = {_CODES[n]: cls for n, cls in _LOCAL_NAMES.items()}

_BY_CLASS: tuple[tuple[type[BaseException], type[KafkaError]], ...] = (
    (core.ConfigError, KafkaConfigurationError),
    (core.KafkaTimeoutError, KafkaTimeoutError),
    (core.QueueFullError, KafkaTimeoutError),
    (core.NoBrokersAvailable, NoBrokersAvailable),
    (core.KafkaConnectionError, KafkaConnectionError),
    (core.MessageSizeTooLargeError, MessageSizeTooLargeError),
    (core.UnknownTopicOrPartitionError, UnknownTopicOrPartitionError),
    (core.IllegalStateError, IllegalStateError),
    (core.ProducerClosedError, IllegalStateError),
    (core.InvalidArgumentError, IllegalArgumentError),
    (core.AuthorizationError, AuthorizationError),
)


def from_kafkify(exc: BaseException) -> BaseException:
    """The kafka-python error for a kafkify error; other exceptions unchanged.

    Serialization and invalid-topic errors stay as they are: they already are the
    ``TypeError``/``ValueError`` kafka-python raises for bad arguments."""
    if not isinstance(exc, core.KafkaError) or isinstance(
        exc, core.SerializationError | core.InvalidTopicError
    ):
        return exc
    code = exc.code
    cls: type[KafkaError] | None = None
    if isinstance(exc, core.AuthenticationError):
        cls = SSLHandshakeRefusedError if code == _CODES["_SSL"] else SaslAuthenticationRefusedError
    elif code is not None and code > 0:
        cls = kafka_errors.get(code)
    elif code is not None:
        cls = _LOCAL.get(code)
    if cls is None:
        cls = next((k for c, k in _BY_CLASS if isinstance(exc, c)), KafkaError)
    out = cls(str(exc))
    out.__cause__ = exc
    return out
