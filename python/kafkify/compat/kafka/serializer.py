"""kafka-python 3.x's ``kafka.serializer``: ``Serializer``/``Deserializer`` bases,
plus ``JsonSerializer`` and ``DefaultSerializer``.

A ``Serializer`` instance passed as ``key_serializer``/``value_serializer`` is
called as ``serialize(topic, data)``; a plain callable as ``f(data)``.
"""

from __future__ import annotations

import abc
import json
from typing import Any


class Serializer(abc.ABC):
    def __init__(self, **config: Any) -> None:  # noqa: B027 (an optional hook, as in kafka-python)
        pass

    @abc.abstractmethod
    def serialize(self, topic: str, value: Any) -> bytes | None: ...

    def close(self) -> None:  # noqa: B027 (an optional hook, as in kafka-python)
        pass


class Deserializer(abc.ABC):
    def __init__(self, **config: Any) -> None:  # noqa: B027 (an optional hook, as in kafka-python)
        pass

    @abc.abstractmethod
    def deserialize(self, topic: str, bytes_: bytes | None) -> Any: ...

    def close(self) -> None:  # noqa: B027 (an optional hook, as in kafka-python)
        pass


class DefaultSerializer(Serializer):
    """bytes (and bytearray/memoryview) as they are, str as UTF-8, None as None.

    Raises:
        TypeError: any other type.
    """

    def serialize(self, topic: str, value: Any) -> bytes | None:
        if value is None or isinstance(value, bytes):
            return value
        if isinstance(value, bytearray | memoryview):
            return bytes(value)
        if isinstance(value, str):
            return value.encode("utf-8")
        raise TypeError(f"DefaultSerializer cannot serialize {type(value).__name__}")


class JsonSerializer(Serializer):
    """``json.dumps(value).encode()``; None stays None (a tombstone).

    Raises:
        TypeError: the value is not JSON-serializable.
    """

    def serialize(self, topic: str, value: Any) -> bytes | None:
        if value is None:
            return None
        return json.dumps(value).encode("utf-8")


def serialize(f: Any, topic: str, data: Any) -> Any:
    """Apply a kafka-python serializer option: None, a Serializer, or a callable."""
    if not f:
        return data
    if isinstance(f, Serializer):
        return f.serialize(topic, data)
    return f(data)
