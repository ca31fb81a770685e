"""confluent-kafka's ``Producer`` over :class:`kafkify.Producer`.

Delivery callbacks are served as confluent-kafka serves them: from the caller's
own ``poll()`` / ``flush()`` calls, on the caller's thread, so code that relies
on that (no locking in callbacks, counting reports per ``poll``) keeps working.
The calls of the hot loop, ``produce``, ``poll`` and ``len()``, are inherited from
the native ``PolledProducer`` (src/polled/): the core files each report in the
producer's queue without the GIL, and ``poll`` runs the callbacks.
"""

from __future__ import annotations

import functools
import json
import math
import warnings
import weakref
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, NoReturn

import kafkify
from kafkify._kafkify import PolledProducer
from kafkify.compat import _common
from kafkify.compat.confluent_kafka.admin import ClusterMetadata
from kafkify.compat.confluent_kafka.error import KafkaError, KafkaException
from kafkify.compat.confluent_kafka.message import Message

DeliveryCallback = Callable[[KafkaError | None, Message], object]


#: librdkafka's defaults where kafkify's differ (confluent-kafka uses librdkafka's).
DEFAULTS = {"enable.idempotence": "false", "compression.type": "none"}

#: Python-level callbacks of confluent-kafka's config that kafkify does not call.
IGNORED = {
    "throttle_cb": "kafkify does not report throttling",
    "logger": "librdkafka's logs go to the 'kafkify' logger",
}
#: Client-level callbacks, served from poll()/flush() like delivery reports.
ClientCallback = Callable[[Any], object]
UNSUPPORTED = {"oauth_cb": "kafkify has no OAUTHBEARER token callback yet"}

#: What confluent-kafka raises for a call on a closed producer (``list_topics`` and
#: ``set_sasl_credentials`` say "Handle", being calls of every client there).
CLOSED = "Producer has been closed"
HANDLE_CLOSED = "Handle has been closed"

#: librdkafka's spellings of a boolean property (case-insensitive).
_BOOLEANS = {"true": True, "t": True, "1": True, "false": False, "f": False, "0": False}


class Producer(PolledProducer):
    """confluent-kafka's producer API on kafkify's core.

    Raises:
        KafkaException: an unknown property or an invalid value (``_INVALID_ARG``).
        TypeError: no configuration, or one that is not a dict (``"expected
            configuration dict"``, as confluent-kafka says).
    """

    def __init__(self, config: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        if (config is None and not kwargs) or (
            config is not None and not isinstance(config, Mapping)
        ):
            raise TypeError("expected configuration dict")
        conf: dict[str, Any] = dict(config or {})
        # In keyword form, bootstrap_servers= stands for bootstrap.servers (Python
        # callbacks such as error_cb keep their names).
        python_level = {"on_delivery", "error_cb", "stats_cb", *IGNORED, *UNSUPPORTED}
        conf.update({k if k in python_level else k.replace("_", "."): v for k, v in kwargs.items()})
        conf.update(conf.pop("default.topic.config", None) or {})
        # Both spellings are taken out: librdkafka knows neither.
        on_delivery, dr_cb = conf.pop("on_delivery", None), conf.pop("delivery.report.cb", None)
        self._default_cb: DeliveryCallback | None = on_delivery or dr_cb
        # delivery.report.only.error: librdkafka would report no success, so the
        # shim could not tell when a record is done; the core reports every record
        # and the shim serves only the failures.
        only_error = conf.get("delivery.report.only.error")
        self._only_error = _BOOLEANS.get(str(only_error).lower(), None)
        if self._only_error is not None:
            del conf["delivery.report.only.error"]
        on_error, on_stats = self._client_callbacks(
            conf.pop("error_cb", None), conf.pop("stats_cb", None)
        )
        for name, why in IGNORED.items():
            if conf.pop(name, None) is not None:
                warnings.warn(
                    f"confluent-kafka option {name!r} is accepted and ignored: {why}",
                    _common.IgnoredOptionWarning,
                    stacklevel=2,
                )
        for name, why in UNSUPPORTED.items():
            if conf.pop(name, None) is not None:
                raise KafkaException(
                    KafkaError(KafkaError._INVALID_ARG, f"{name!r} is not supported: {why}")  # type: ignore[attr-defined]
                )
        defaults = dict(DEFAULTS)
        if conf.get("transactional.id"):
            del defaults["enable.idempotence"]  # librdkafka turns it on for transactions
        raw = {**defaults, **{k: v for k, v in conf.items() if v is not None}}
        try:
            # max_block_ms=0: a full queue raises BufferError at once, as in confluent-kafka.
            self._producer = kafkify.Producer(
                config=raw,
                value_serializer="bytes",
                max_block_ms=0,
                on_error=on_error,
                on_stats=on_stats,
            )
        except kafkify.KafkaError as e:
            raise KafkaException.from_kafkify(e) from e
        self._attach(
            self._producer,
            on_delivery=self._default_cb,
            only_errors=bool(self._only_error),
            make_error=KafkaError.from_kafkify,
            translate=_translate,
        )

    def _client_callbacks(
        self, error_cb: ClientCallback | None, stats_cb: ClientCallback | None
    ) -> tuple[
        Callable[[kafkify.KafkaError], None] | None, Callable[[dict[str, Any]], None] | None
    ]:
        """The core's ``on_error``/``on_stats`` hooks, queueing confluent's ``error_cb``
        (a KafkaError) and ``stats_cb`` (librdkafka's statistics JSON) for ``poll``.
        They hold the producer weakly: the core keeps them, so a strong reference
        would keep the producer alive forever."""
        me = weakref.ref(self)

        def on_error(e: kafkify.KafkaError) -> None:
            producer = me()
            if error_cb is not None and producer is not None:
                producer._push_call(functools.partial(error_cb, KafkaError.from_kafkify(e)))

        def on_stats(metrics: dict[str, Any]) -> None:
            producer = me()
            if stats_cb is not None and producer is not None:
                stats = {k: v for k, v in metrics.items() if k != "kafkify"}
                producer._push_call(functools.partial(stats_cb, json.dumps(stats)))

        return (
            on_error if error_cb is not None else None,
            on_stats if stats_cb is not None else None,
        )

    def produce_batch(
        self,
        topic: str,
        messages: list[dict[str, Any]],
        partition: int = -1,
        on_delivery: DeliveryCallback | None = None,
        callback: DeliveryCallback | None = None,
    ) -> int:
        """Queue many records (dicts with ``value``, ``key``, ``partition``,
        ``timestamp``, ``headers``, ``callback``); returns how many were queued.
        A record that could not be queued gets its ``KafkaError`` in ``msg["_error"]``.

        Raises:
            RuntimeError: the producer is closed (with ``messages`` not empty, as there).
        """
        queued = 0
        for m in messages:
            try:
                self.produce(
                    topic,
                    m.get("value"),
                    m.get("key"),
                    m.get("partition", partition),
                    m.get("callback") or on_delivery or callback,
                    timestamp=m.get("timestamp", 0),
                    headers=m.get("headers"),
                )
                queued += 1
            except KafkaException as e:
                m["_error"] = e.args[0]
            except BufferError:
                m["_error"] = KafkaError(KafkaError._QUEUE_FULL)  # type: ignore[attr-defined]
        return queued

    def flush(self, timeout: float | None = -1) -> int:
        """Wait for every record's delivery, serving callbacks on this thread.
        Returns how many records are still waiting (0 when all were served).

        Raises:
            RuntimeError: the producer is closed.
            Exception: whatever a delivery callback raises.
        """
        self._check_open()
        return self._flush(_checked_timeout(timeout))

    def _flush(self, timeout: float | None) -> int:
        deadline = None if timeout is None or timeout < 0 else _common.deadline_after(timeout)
        while self._pending > 0:
            left = _common.remaining(deadline)
            if left == 0:
                break
            step = 0.1 if left is None else min(left, 0.1)
            try:
                # librdkafka sends at once (linger.ms treated as 0) while flushing.
                self._producer.flush(step)
            except kafkify.KafkaTimeoutError:
                self._serve(0)
            else:
                self._serve(step)  # everything delivered: its reports are on their way
        return self._pending

    def purge(self, in_queue: bool = True, in_flight: bool = True, blocking: bool = True) -> None:
        """Drop undelivered records; their callbacks get ``_PURGE_QUEUE`` or
        ``_PURGE_INFLIGHT`` from the next ``poll``/``flush``.

        Raises:
            RuntimeError: the producer is closed.
        """
        self._check_open()
        self._call(self._producer.purge, in_queue, in_flight, blocking)

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> ClusterMetadata:
        """Cluster metadata (brokers, topics, partitions).

        Raises:
            KafkaException: ``_TIMED_OUT`` or another error.
            RuntimeError: the producer is closed ("Handle has been closed").
        """
        self._check_open(HANDLE_CLOSED)
        md = self._call(self._producer.list_topics, topic, None if timeout < 0 else timeout)
        return ClusterMetadata.from_core(md)

    def init_transactions(self, timeout: float | None = None) -> None:
        """Raises: KafkaException (``.args[0]`` tells retriable/fatal/txn_requires_abort)."""
        self._check_open()
        self._call(self._producer.init_transactions, timeout)

    def begin_transaction(self) -> None:
        """Raises: KafkaException (``_STATE`` when not initialized or already open)."""
        self._check_open()
        self._call(self._producer.begin_transaction)

    def commit_transaction(self, timeout: float | None = None) -> None:
        """Flush and commit. Raises: KafkaException."""
        self._check_open()
        self._call(self._producer.commit_transaction, timeout)

    def abort_transaction(self, timeout: float | None = None) -> None:
        """Raises: KafkaException."""
        self._check_open()
        self._call(self._producer.abort_transaction, timeout)

    def send_offsets_to_transaction(
        self, positions: Iterable[Any], group_metadata: bytes | str, timeout: float | None = None
    ) -> None:
        """Commit ``positions`` (TopicPartitions with offsets) for the consumer group
        whose ``consumer_group_metadata()`` is given, within the transaction.

        Raises: KafkaException.
        """
        self._check_open()
        triples = [(tp.topic, tp.partition, tp.offset) for tp in positions]
        self._call(self._producer.send_offsets_to_transaction, triples, group_metadata, timeout)

    def set_sasl_credentials(self, username: str, password: str) -> None:
        """Not supported: librdkafka's credentials are fixed at construction here.

        Raises:
            KafkaException: ``_NOT_IMPLEMENTED``.
            RuntimeError: the producer is closed ("Handle has been closed").
        """
        self._check_open(HANDLE_CLOSED)
        raise KafkaException(
            KafkaError(
                KafkaError._NOT_IMPLEMENTED,  # type: ignore[attr-defined]
                "set_sasl_credentials is not supported: create a new Producer",
            )
        )

    def close(self, timeout: float | None = None) -> bool:
        """Flush (serving callbacks), then release the producer. Returns True; a
        second ``close()`` does nothing (as in confluent-kafka). Every other call but
        ``len()`` (0) then raises ``RuntimeError("Producer has been closed")``."""
        if self._closed:
            return True
        self._flush(-1 if timeout is None else timeout)
        try:
            self._producer.close(0.0)
        except kafkify.KafkaError as e:
            # Records still undelivered after ``timeout`` are purged and reported
            # failed; confluent-kafka's close() returns True then too.
            if e.code != KafkaError._MSG_TIMED_OUT:  # type: ignore[attr-defined]
                _reraise(e)
        self._closed = True
        self._serve(0)
        return True

    def __enter__(self) -> Producer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _check_open(self, message: str = CLOSED) -> None:
        if self._closed:
            raise RuntimeError(message)

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except BaseException as e:
            _reraise(e)


def _checked_timeout(timeout: Any) -> float | None:
    """``flush``'s timeout, refused by name as ``poll`` (src/polled/face.rs) refuses it:
    even with nothing to wait for, so a bad value does not pass unnoticed."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError(f"flush() timeout must be a number, not {type(timeout).__name__}")
    if math.isnan(timeout):
        raise kafkify.ConfigError(
            "invalid value for 'timeout': nan (expected a number of seconds; -1 or None: forever)"
        )
    return timeout


def _reraise(e: BaseException) -> NoReturn:
    translated = _translate(e)
    if translated is e:
        raise e
    raise translated from e


def _translate(e: BaseException) -> BaseException:
    """Core errors → what confluent-kafka raises: BufferError and RuntimeError stay
    (QueueFullError and ProducerClosedError already are those); the rest become
    KafkaException."""
    if not isinstance(e, kafkify.KafkaError):
        return e
    if isinstance(e, kafkify.QueueFullError | kafkify.ProducerClosedError):
        return e
    if isinstance(e, kafkify.SerializationError):
        return TypeError(str(e))
    return KafkaException.from_kafkify(e)
