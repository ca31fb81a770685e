"""kafka-python's ``Future`` and ``FutureRecordMetadata``, and ``RecordMetadata``.

Callbacks run on the thread that completes the future: kafkify's delivery
thread, as kafka-python's run on its sender thread. A callback that raises is
logged and does not stop the others.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Generator
from typing import Any, NamedTuple

import kafkify
from kafkify.compat.kafka import errors as Errors
from kafkify.compat.kafka.structs import TopicPartition

log = logging.getLogger("kafkify.compat.kafka")


class RecordMetadata(NamedTuple):
    topic: str
    partition: int
    topic_partition: TopicPartition
    offset: int
    timestamp: int
    checksum: int | None
    serialized_key_size: int
    serialized_value_size: int
    serialized_header_size: int


class Future:
    """A result that arrives later: ``is_done``, ``value`` and ``exception`` are
    attributes, as in kafka-python."""

    error_on_callbacks = False

    def __init__(self) -> None:
        self.is_done = False
        self.value: Any = None
        self.exception: BaseException | None = None
        self._callbacks: list[Callable[[Any], object]] = []
        self._errbacks: list[Callable[[BaseException], object]] = []
        self._lock = threading.Lock()
        # Made by the first get() that has to wait: a threading.Event per record
        # (a Condition, built in Python) cost more than the rest of send()
        # (benches/shim_contenders.py), and most futures are never waited on.
        self._event: threading.Event | None = None

    def succeeded(self) -> bool:
        return self.is_done and not bool(self.exception)

    def failed(self) -> bool:
        return self.is_done and bool(self.exception)

    def retriable(self) -> bool:
        return bool(getattr(self.exception, "retriable", False))

    def success(self, value: Any) -> Future:
        """Resolve with ``value`` and run the callbacks.

        Raises:
            IllegalStateError: the future is already done.
        """
        with self._lock:
            if self.is_done:
                raise Errors.IllegalStateError("Future is already complete")
            self.value = value
            self.is_done = True
            callbacks = list(self._callbacks)
            event = self._event
        if event is not None:
            event.set()
        for f in callbacks:
            self._call(f, value)
        return self

    def failure(self, e: BaseException | type[BaseException]) -> Future:
        """Fail with ``e`` and run the errbacks.

        Raises:
            IllegalStateError: the future is already done.
        """
        exc = e() if isinstance(e, type) else e
        with self._lock:
            if self.is_done:
                raise Errors.IllegalStateError("Future is already complete")
            self.exception = exc
            self.is_done = True
            errbacks = list(self._errbacks)
            event = self._event
        if event is not None:
            event.set()
        for f in errbacks:
            self._call(f, exc)
        return self

    def add_callback(self, f: Callable[..., object], *args: Any, **kwargs: Any) -> Future:
        """Call ``f(*args, value, **kwargs)`` on success (now, if already succeeded)."""
        if args or kwargs:
            f = functools.partial(f, *args, **kwargs)
        with self._lock:
            if not self.is_done:
                self._callbacks.append(f)
                return self
        if self.succeeded():
            self._call(f, self.value)
        return self

    def add_errback(self, f: Callable[..., object], *args: Any, **kwargs: Any) -> Future:
        """Call ``f(*args, exception, **kwargs)`` on failure (now, if already failed)."""
        if args or kwargs:
            f = functools.partial(f, *args, **kwargs)
        with self._lock:
            if not self.is_done:
                self._errbacks.append(f)
                return self
        if self.failed():
            assert self.exception is not None
            self._call(f, self.exception)
        return self

    def add_both(self, f: Callable[..., object], *args: Any, **kwargs: Any) -> Future:
        self.add_callback(f, *args, **kwargs)
        return self.add_errback(f, *args, **kwargs)

    def chain(self, future: Future) -> Future:
        """Resolve ``future`` the same way as this one."""
        self.add_callback(future.success)
        return self.add_errback(future.failure)

    def __await__(self) -> Generator[Future, None, Any]:
        """``await future`` (kafka-python 3.x): yields the future itself while it is
        pending (for an event loop that knows kafka-python futures), then returns the
        value or raises the exception."""
        if not self.is_done:
            yield self
        if self.exception is not None:
            raise self.exception
        return self.value

    def _wait(self, timeout: float | None) -> bool:
        """Wait until done, up to ``timeout`` seconds; True when done."""
        with self._lock:
            if self.is_done:
                return True
            if self._event is None:
                self._event = threading.Event()
            event = self._event
        return event.wait(timeout)

    def _call(self, f: Callable[[Any], object], arg: Any) -> None:
        try:
            f(arg)
        except Exception:
            log.exception("Error processing callback")
            if self.error_on_callbacks:
                raise


class FutureRecordMetadata(Future):
    """What ``KafkaProducer.send()`` returns; resolves to ``RecordMetadata``."""

    def _delivered(self, err: kafkify.KafkaError | None, meta: kafkify.RecordMetadata) -> None:
        """The core's delivery callback for this future's record."""
        if err is not None:
            self.failure(Errors.from_kafkify(err))
        else:
            self.success(_record_metadata(meta))

    def get(self, timeout: float | None = None) -> RecordMetadata:
        """Block until the record is acknowledged.

        Raises:
            KafkaTimeoutError: not done within ``timeout`` seconds.
            KafkaError: the record failed (the stored exception is re-raised).
        """
        if not self._wait(timeout):
            raise Errors.KafkaTimeoutError(f"Timeout after waiting for {timeout} secs.")
        if self.exception is not None:
            raise self.exception
        value: RecordMetadata = self.value
        return value


def _record_metadata(meta: kafkify.RecordMetadata) -> RecordMetadata:
    return RecordMetadata(
        meta.topic,
        meta.partition,
        TopicPartition(meta.topic, meta.partition),
        meta.offset,
        meta.timestamp if meta.timestamp >= 0 else int(time.time() * 1000),
        None,
        meta.serialized_key_size,
        meta.serialized_value_size,
        meta.serialized_header_size,
    )
