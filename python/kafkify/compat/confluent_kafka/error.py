"""confluent-kafka's ``KafkaError`` (librdkafka's codes as class attributes, e.g.
``KafkaError._MSG_TIMED_OUT``) and ``KafkaException``."""

from __future__ import annotations

import builtins
from typing import Any

import kafkify

_DESCRIPTIONS: dict[int, tuple[str, str]] = {
    code: (name, desc) for code, name, desc in kafkify.librdkafka_error_codes()
}


class KafkaError:
    """An error code with its name, description and librdkafka's flags.

    Every librdkafka code is a class attribute: ``KafkaError._QUEUE_FULL``,
    ``KafkaError.MSG_SIZE_TOO_LARGE``, ``KafkaError.UNKNOWN_TOPIC_OR_PART``, ...
    """

    def __init__(
        self,
        error: int,
        reason: str | None = None,
        fatal: bool = False,
        retriable: bool = False,
        txn_requires_abort: bool = False,
    ) -> None:
        self._code = int(error)
        name, desc = _DESCRIPTIONS.get(self._code, (f"ERR_{self._code}", "Unknown error"))
        self._name = name
        self._str = reason if reason is not None else desc
        self._fatal = fatal
        self._retriable = retriable
        self._txn_requires_abort = txn_requires_abort

    def code(self) -> int:
        return self._code

    def name(self) -> str:
        return self._name

    def str(self) -> builtins.str:
        return self._str

    def fatal(self) -> bool:
        return self._fatal

    def retriable(self) -> bool:
        return self._retriable

    def txn_requires_abort(self) -> bool:
        return self._txn_requires_abort

    def __str__(self) -> builtins.str:
        return f'KafkaError{{code={self._name},val={self._code},str="{self._str}"}}'

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        if isinstance(other, KafkaError):
            return self._code == other._code
        if isinstance(other, int):
            return self._code == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._code)

    @classmethod
    def from_kafkify(cls, exc: kafkify.KafkaError) -> KafkaError:
        """The confluent error for a kafkify core error (code, message and flags)."""
        if exc.code is not None:
            code = exc.code
        elif isinstance(exc, kafkify.ConfigError | kafkify.InvalidTopicError):
            code = _CODES["_INVALID_ARG"]
        elif isinstance(exc, kafkify.KafkaTimeoutError):
            code = _CODES["_TIMED_OUT"]
        else:
            code = _CODES["_FAIL"]
        return cls(code, str(exc), exc.fatal, exc.retriable, exc.txn_requires_abort)


_CODES = {name: code for code, (name, _) in _DESCRIPTIONS.items()}
for _name, _code in _CODES.items():
    setattr(KafkaError, _name, _code)


class KafkaException(Exception):
    """Raised with a :class:`KafkaError` as ``args[0]``."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)

    @classmethod
    def from_kafkify(cls, exc: kafkify.KafkaError) -> KafkaException:
        out = cls(KafkaError.from_kafkify(exc))
        out.__cause__ = exc
        return out
