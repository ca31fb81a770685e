"""aiokafka's ``BatchBuilder``: records collected by the caller, sent with one call."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BatchBuilderMetadata:
    """What ``BatchBuilder.append`` returns (offsets are relative to the batch)."""

    offset: int
    timestamp: int | None
    crc: int | None
    size: int


#: Per-record overhead in a v2 record batch, for ``size()`` (an estimate, as aiokafka's).
_RECORD_OVERHEAD = 21
_BATCH_OVERHEAD = 61


@dataclass
class _Record:
    key: bytes | None
    value: bytes | None
    timestamp: int | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


class BatchBuilder:
    """Collects records until ``batch_size`` bytes; ``append`` returns None when full."""

    def __init__(
        self,
        batch_size: int = 16384,
        key_serializer: Callable[[Any], Any] | None = None,
        value_serializer: Callable[[Any], Any] | None = None,
    ) -> None:
        self._batch_size = batch_size
        self._key_serializer = key_serializer
        self._value_serializer = value_serializer
        self._records: list[_Record] = []
        self._size = _BATCH_OVERHEAD
        self._closed = False

    def append(
        self,
        *,
        timestamp: int | None,
        key: Any,
        value: Any,
        headers: Iterable[tuple[str, bytes]] = (),
    ) -> BatchBuilderMetadata | None:
        """Add a record; None when it does not fit (a first record always fits).

        Raises:
            RuntimeError: the batch was closed (sent).
        """
        if self._closed:
            raise RuntimeError("the batch is closed: create a new one")
        if self._key_serializer is not None:
            key = self._key_serializer(key)
        if self._value_serializer is not None:
            value = self._value_serializer(value)
        headers = list(headers)
        size = (
            _RECORD_OVERHEAD
            + len(key or b"")
            + len(value or b"")
            + sum(len(k) + len(v or b"") for k, v in headers)
        )
        if self._records and self._size + size > self._batch_size:
            return None
        self._records.append(_Record(key, value, timestamp, headers))
        self._size += size
        return BatchBuilderMetadata(len(self._records) - 1, timestamp, None, size)

    def close(self) -> None:
        self._closed = True

    def size(self) -> int:
        return self._size

    def record_count(self) -> int:
        return len(self._records)

    def _take(self) -> list[_Record]:
        self._closed = True
        return self._records
