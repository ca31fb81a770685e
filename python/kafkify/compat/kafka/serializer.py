"""kafka-python 3.x's ``kafka.serializer``: ``Serializer``/``Deserializer`` bases,
plus ``JsonSerializer`` and ``DefaultSerializer``.

A ``Serializer`` instance passed as ``key_serializer``/``value_serializer`` is
called as ``serialize(topic, data)``; a plain callable as ``f(data)``.
"""

from __future__ import annotations

import abc
import inspect
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


def serialize(f: Any, topic: str, data: Any, headers: Any = None) -> Any:
    """Apply a kafka-python serializer option: None, a plain callable ``f(data)``,
    or a serializer object (ours, or kafka-python's own classes): 2.x's
    ``serialize(topic, data)`` or 3.x's header-aware ``serialize(topic, headers, data)``.
    As in kafka-python, a None value goes through the serializer too."""
    if not f:
        return data
    if isinstance(f, Serializer) or (not callable(f) and hasattr(f, "serialize")):
        if _arity(f.serialize) >= 3:
            return f.serialize(topic, headers, data)
        return f.serialize(topic, data)
    return f(data)


def _arity(method: Any) -> int:
    try:
        params = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return 2
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
