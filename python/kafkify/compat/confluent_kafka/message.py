"""confluent-kafka's ``Message`` as a delivery callback sees it."""

from __future__ import annotations

from kafkify.compat.confluent_kafka.error import KafkaError

TIMESTAMP_NOT_AVAILABLE = 0
TIMESTAMP_CREATE_TIME = 1
TIMESTAMP_LOG_APPEND_TIME = 2

_Headers = list[tuple[str, bytes | None]] | None


class Message:
    """A produced record and its fate. As in confluent-kafka, ``headers()`` is None
    on delivery reports (librdkafka does not hand them back)."""

    __slots__ = (
        "_error",
        "_headers",
        "_key",
        "_latency",
        "_offset",
        "_partition",
        "_timestamp",
        "_topic",
        "_value",
    )

    def __init__(
        self,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        timestamp: int,
        error: KafkaError | None,
        latency: float | None,
    ) -> None:
        self._topic = topic
        self._partition = partition
        self._offset = offset
        self._key = key
        self._value = value
        self._timestamp = timestamp
        self._error = error
        self._latency = latency
        self._headers: _Headers = None

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> _Headers:
        return self._headers

    def set_headers(self, headers: _Headers) -> None:
        self._headers = headers

    def set_key(self, key: bytes | None) -> None:
        self._key = key

    def set_value(self, value: bytes | None) -> None:
        self._value = value

    def timestamp(self) -> tuple[int, int]:
        """``(timestamp type, milliseconds since the epoch)``."""
        if self._timestamp < 0:
            return (TIMESTAMP_NOT_AVAILABLE, 0)
        return (TIMESTAMP_CREATE_TIME, self._timestamp)

    def error(self) -> KafkaError | None:
        return self._error

    def latency(self) -> float | None:
        """Seconds from ``produce()`` to the delivery report."""
        return self._latency

    def __len__(self) -> int:
        return len(self._value) if self._value is not None else 0

    def __repr__(self) -> str:
        return (
            f"<Message topic={self._topic!r} partition={self._partition} offset={self._offset}"
            f"{' error=' + str(self._error) if self._error else ''}>"
        )
