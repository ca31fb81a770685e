"""kafka-python 3.x's ``kafka.serializer``: ``Serializer``/``Deserializer`` bases,
plus ``JsonSerializer`` and ``DefaultSerializer`` (both serializers and deserializers).

A serializer object passed as ``key_serializer``/``value_serializer`` is called as
kafka-python 3.x calls it, ``serialize(topic, headers, data)``, or as 2.x did,
``serialize(topic, data)``, when its method takes two arguments; a plain callable
as ``f(data)``.
"""

from __future__ import annotations

import abc
import inspect
import json
from typing import Any


class Serializer(abc.ABC):
    """kafka-python 3.x's serializer base: ``serialize(topic, headers, data)``."""

    def __init__(self, **config: Any) -> None:  # noqa: B027 (an optional hook, as in kafka-python)
        pass

    @abc.abstractmethod
    def serialize(self, topic: str, headers: Any, data: Any) -> Any: ...

    def close(self) -> None:  # noqa: B027 (an optional hook, as in kafka-python)
        pass


class Deserializer(abc.ABC):
    """kafka-python 3.x's deserializer base: ``deserialize(topic, headers, data)``."""

    def __init__(self, **config: Any) -> None:  # noqa: B027 (an optional hook, as in kafka-python)
        pass

    @abc.abstractmethod
    def deserialize(self, topic: str, headers: Any, data: Any) -> Any: ...

    def close(self) -> None:  # noqa: B027 (an optional hook, as in kafka-python)
        pass


class DefaultSerializer(Serializer, Deserializer):
    """kafka-python 3.x's: bytes, bytearray, memoryview and None pass through as they
    are; anything else is ``data.encode(encoding)`` (so ``str``; other types raise
    ``AttributeError``, as kafka-python's does). ``deserialize`` decodes (None stays None).
    """

    def __init__(self, encoding: str = "utf-8") -> None:
        self.encoding = encoding

    def serialize(self, topic: str, headers: Any, data: Any) -> Any:
        if type(data) in (bytes, bytearray, memoryview, type(None)):
            return data
        return data.encode(self.encoding)

    def deserialize(self, topic: str, headers: Any, data: Any) -> Any:
        if data is None:
            return None
        return data.decode(self.encoding)


class JsonSerializer(DefaultSerializer):
    """``json.dumps(data)`` encoded with the encoding (UTF-8 by default); None stays
    None (a tombstone). ``deserialize`` is ``json.loads`` of the decoded text.

    Raises:
        TypeError: the value is not JSON-serializable (``bytes`` included, as in
            kafka-python).
    """

    def serialize(self, topic: str, headers: Any, data: Any) -> Any:
        if data is None:
            return None
        return super().serialize(topic, headers, json.dumps(data))

    def deserialize(self, topic: str, headers: Any, data: Any) -> Any:
        if data is None:
            return None
        return json.loads(super().deserialize(topic, headers, data))


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
