"""aiokafka's ``AIOKafkaProducer`` over :class:`kafkify.Producer`.

Sends use the core's ``send_async`` (resolved on the loop, batched per loop);
blocking librdkafka calls (flush, transactions, metadata) run in the loop's
default executor so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import traceback
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

import kafkify
from kafkify.compat import _common
from kafkify.compat.aiokafka import errors as Errors
from kafkify.compat.aiokafka.batch import BatchBuilder
from kafkify.compat.aiokafka.structs import OffsetAndMetadata, RecordMetadata, TopicPartition

#: aiokafka's defaults where they differ from kafkify's.
DEFAULTS: dict[str, Any] = {
    "bootstrap_servers": "localhost",
    "request_timeout_ms": 40000,
    "compression_type": None,
    "max_batch_size": 16384,
    "linger_ms": 0,
    "max_request_size": 1048576,
    "enable_idempotence": False,
}

SHIM_OPTIONS = frozenset(
    {"key_serializer", "value_serializer", "partitioner", "loop", "ssl_context", "api_version"}
)

IGNORED = {
    "sasl_kerberos_domain_name": "librdkafka resolves the broker host name itself",
}

UNSUPPORTED = {
    "sasl_oauth_token_provider": "kafkify has no OAUTHBEARER token callback yet",
}

_MISSING: Any = object()


class DeprecatedOptionWarning(_common.IgnoredOptionWarning, DeprecationWarning):
    """An option aiokafka itself deprecated (``loop``, ``api_version``): ignored, with
    aiokafka's ``DeprecationWarning`` and message (hence hidden by Python's default
    warning filters outside ``__main__``, as aiokafka's is)."""


class UnrecognizedConfigs(Errors.KafkaConfigurationError, TypeError):
    """An option aiokafka's constructor does not take (aiokafka: a ``TypeError``
    from Python; kafka-python and the other shims: ``KafkaConfigurationError``)."""


def _aiokafka_checks(configs: Mapping[str, Any]) -> None:
    """The argument checks of aiokafka 0.14's ``AIOKafkaProducer.__init__`` and
    ``AIOKafkaClient.__init__``, in their order, with their messages.

    Raises:
        ValueError: as aiokafka raises it.
    """
    acks = configs.get("acks", _MISSING)
    if acks is not _MISSING and acks not in (0, 1, -1, "all"):
        raise ValueError("Invalid ACKS parameter")
    if configs.get("compression_type") not in ("gzip", "snappy", "lz4", "zstd", None):
        raise ValueError("Invalid compression type!")
    idempotent = configs.get("transactional_id") is not None or configs.get(
        "enable_idempotence", False
    )
    if idempotent and acks is not _MISSING and acks not in ("all", -1):
        raise ValueError(f"acks={acks} not supported if enable_idempotence=True")
    protocol = configs.get("security_protocol", "PLAINTEXT")
    if protocol not in ("SSL", "PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"):
        raise ValueError("`security_protocol` should be SSL or PLAINTEXT")
    if protocol in ("SSL", "SASL_SSL") and configs.get("ssl_context") is None:
        raise ValueError("`ssl_context` is mandatory if security_protocol=='SSL'")
    if protocol in ("SASL_SSL", "SASL_PLAINTEXT"):
        mechanism = configs.get("sasl_mechanism", "PLAIN")
        if mechanism not in ("PLAIN", "GSSAPI", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"):
            raise ValueError(
                "only `PLAIN`, `GSSAPI`, `SCRAM-SHA-256`, "
                "`SCRAM-SHA-512` and `OAUTHBEARER`"
                "sasl_mechanism are supported "
                "at the moment"
            )
        if mechanism == "PLAIN" and (
            configs.get("sasl_plain_username") is None or configs.get("sasl_plain_password") is None
        ):
            raise ValueError("sasl_plain_username and sasl_plain_password required for PLAIN sasl")


class AIOKafkaProducer:
    """aiokafka's producer API on kafkify's core.

    Raises:
        UnrecognizedConfigs: an option aiokafka does not take (a ``TypeError`` and a
            ``KafkaConfigurationError``).
        ValueError: what aiokafka rejects, with its message (``acks``,
            ``compression_type``, ``acks`` with idempotence, ``security_protocol``,
            TLS without ``ssl_context``, ``sasl_mechanism``, PLAIN without credentials).
        KafkaConfigurationError: an unsupported option, or a value the core rejects.
    """

    #: Until ``__init__`` has set it: a producer whose constructor raised is not "unclosed".
    _closed: bool = True
    _loop: asyncio.AbstractEventLoop | None = None
    _source_traceback: traceback.StackSummary | None = None

    def __init__(self, **configs: Any) -> None:
        unknown = set(configs) - SHIM_OPTIONS - IGNORED.keys() - UNSUPPORTED.keys()
        unknown = {name for name in unknown if not _common.core_accepts(name)}
        if unknown:
            raise UnrecognizedConfigs(f"Unrecognized configs: {sorted(unknown)}")
        if configs.get("loop") is not None:
            warnings.warn(
                "The `loop` parameter has been deprecated since 0.7.1 "
                "and will be removed in a future release.",
                DeprecatedOptionWarning,
                stacklevel=2,
            )
        if configs.get("api_version") is not None:
            warnings.warn(
                "The `api_version` parameter has been deprecated since 0.13.0. "
                "It is now a no-op and will be removed in a future release. ",
                DeprecatedOptionWarning,
                stacklevel=2,
            )
        _aiokafka_checks(configs)
        with contextlib.suppress(RuntimeError):
            self._loop = asyncio.get_running_loop()
        if self._loop is not None and self._loop.get_debug():
            self._source_traceback = traceback.extract_stack(sys._getframe(1))
        options = _common.triage(
            configs,
            known=SHIM_OPTIONS,
            ignored=IGNORED,
            unsupported=UNSUPPORTED,
            error=Errors.KafkaConfigurationError,
            client="aiokafka",
        )
        options.pop("loop", None)
        options.pop("api_version", None)
        ssl_config = _common.ssl_options(options, Errors.KafkaConfigurationError)
        config = {**DEFAULTS, **options}
        self._key_serializer: Callable[[Any], Any] | None = config.pop("key_serializer", None)
        self._value_serializer: Callable[[Any], Any] | None = config.pop("value_serializer", None)
        partitioner, fn = _common.partitioner_option(config.pop("partitioner", None))
        _common.settle_acks(options, config, default_acks=1)
        #: aiokafka resolves an unacknowledged record's future to None.
        self._no_ack = config["acks"] == 0
        config["compression_type"] = config.get("compression_type") or "none"
        self._batch_size = int(config["max_batch_size"])
        self._request_timeout = float(config["request_timeout_ms"]) / 1000
        core_options = {k: v for k, v in config.items() if v is not None}
        try:
            self._producer = kafkify.Producer(
                value_serializer="bytes", partitioner=partitioner, config=ssl_config, **core_options
            )
        except kafkify.KafkaError as e:
            raise Errors.from_kafkify(e) from e
        self._chooser = _common.PartitionChooser(self._producer, fn) if fn else None
        self._transactional = bool(config.get("transactional_id"))
        self._pending: set[asyncio.Future[Any]] = set()
        self._closed = False

    def __del__(self, _warnings: Any = warnings) -> None:
        """As aiokafka's: a producer never stopped (started or not) warns
        ``ResourceWarning("Unclosed AIOKafkaProducer ...")`` and reports itself to its
        loop's exception handler. (The core producer flushes when collected.)"""
        if self._closed is False:
            _warnings.warn(f"Unclosed AIOKafkaProducer {self!r}", ResourceWarning, source=self)
            if self._loop is not None:
                context: dict[str, Any] = {
                    "producer": self,
                    "message": "Unclosed AIOKafkaProducer",
                }
                if self._source_traceback is not None:
                    context["source_traceback"] = self._source_traceback
                self._loop.call_exception_handler(context)

    async def start(self) -> None:
        """Connect to the cluster (and register the transactional id, if any).

        Raises:
            KafkaConnectionError: no broker answered.
        """
        self._loop = asyncio.get_running_loop()
        try:
            await self._producer.start(self._request_timeout)
        except kafkify.KafkaError as e:
            raise Errors.KafkaConnectionError(f"Unable to bootstrap from cluster: {e}") from e
        if self._transactional:
            await self._blocking(self._producer.init_transactions)

    async def flush(self) -> None:
        """Wait until every record sent so far is delivered and its future resolved."""
        await self._blocking(self._producer.flush)
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def stop(self) -> None:
        """Flush, then close. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        await self._producer.stop()

    async def partitions_for(self, topic: str) -> set[int]:
        """The partition ids of ``topic``.

        Raises:
            KafkaTimeoutError, UnknownTopicOrPartitionError.
        """
        return set(await self._blocking(self._producer.partitions_for, topic))

    async def send(
        self,
        topic: str,
        value: Any = None,
        key: Any = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: Iterable[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[RecordMetadata | None]:
        """Queue one record; returns a future resolving to ``RecordMetadata``
        (to None with ``acks=0``: nothing is acknowledged, as with aiokafka).

        Raises:
            ProducerClosed: the producer was stopped.
            KafkaTimeoutError: the local queue is full.
            MessageSizeTooLargeError: the record exceeds ``max_request_size``.
            IllegalOperation: a transactional producer outside a transaction.
            TypeError, ValueError: bad topic, key, value or headers.
            AssertionError: neither a key nor a value (aiokafka's check).
        """
        inner = await self._send_async(topic, value, key, partition, timestamp_ms, headers)
        return self._track(inner, _record_metadata)

    async def send_and_wait(
        self,
        topic: str,
        value: Any = None,
        key: Any = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: Iterable[tuple[str, bytes]] | None = None,
    ) -> RecordMetadata | None:
        """Send one record and wait for its acknowledgement.

        Raises: the errors of ``send``, and the record's delivery error.
        """
        # The core's future, awaited as it is: send()'s second future and its
        # done-callback (one more loop iteration per record) cost the shim half its
        # speed (benches/shim_contenders.py). Cancelling this call cancels that
        # future, as cancelling aiokafka's send_and_wait cancels its record's future;
        # the record may still be delivered. flush() waits for it in the core.
        inner = await self._send_async(topic, value, key, partition, timestamp_ms, headers)
        try:
            meta = await inner
        except kafkify.KafkaError as e:
            raise Errors.from_kafkify(e) from e
        return None if self._no_ack else _record_metadata(meta)

    async def _send_async(
        self,
        topic: str,
        value: Any,
        key: Any,
        partition: int | None,
        timestamp_ms: int | None,
        headers: Iterable[tuple[str, bytes]] | None,
    ) -> Awaitable[kafkify.RecordMetadata]:
        """Serialize, choose the partition, and hand the record to the core: its
        future (``send``'s checks and errors)."""
        if value is None and key is None:
            raise AssertionError("Need at least one: key or value")
        if self._closed:
            raise Errors.ProducerClosed()
        key_bytes = self._key_serializer(key) if self._key_serializer else key
        value_bytes = self._value_serializer(value) if self._value_serializer else value
        if partition is None and self._chooser is not None:
            partition = await asyncio.get_running_loop().run_in_executor(
                None, self._chooser, topic, key_bytes
            )
        try:
            return self._producer.send_async(
                topic,
                value_bytes,
                key_bytes,
                headers=list(headers) if headers is not None else None,
                partition=partition,
                timestamp_ms=timestamp_ms,
            )
        except kafkify.KafkaError as e:
            raise self._error(e) from e

    def create_batch(self) -> BatchBuilder:
        """An empty batch (up to ``max_batch_size`` bytes) for ``send_batch``."""
        return BatchBuilder(self._batch_size, self._key_serializer, self._value_serializer)

    async def send_batch(
        self, batch: BatchBuilder, topic: str, *, partition: int
    ) -> asyncio.Future[RecordMetadata | None]:
        """Send every record of ``batch`` to one partition; returns a future
        resolving to the ``RecordMetadata`` of the batch's first record.

        Raises:
            ProducerClosed: the producer was stopped. Delivery errors fail the future.
        """
        if self._closed:
            raise Errors.ProducerClosed()
        records = batch._take()
        try:
            if any(r.headers or r.timestamp is not None for r in records):
                # Per-record headers/timestamps: one send_async each, awaited together.
                futures = [
                    self._producer.send_async(
                        topic,
                        r.value,
                        r.key,
                        headers=r.headers or None,
                        partition=partition,
                        timestamp_ms=r.timestamp,
                    )
                    for r in records
                ]
                inner: Awaitable[Any] = asyncio.gather(*futures)
            else:
                inner = self._producer.send_batch_async(
                    topic,
                    [r.value for r in records],
                    [r.key for r in records],
                    partition=partition,
                    raise_on_error=True,
                )
        except kafkify.KafkaError as e:
            raise self._error(e) from e
        return self._track(inner, lambda metas: _record_metadata(metas[0]))

    async def begin_transaction(self) -> None:
        """Raises: IllegalOperation without ``transactional_id``; IllegalStateError."""
        self._require_transactional()
        self._call(self._producer.begin_transaction)

    async def commit_transaction(self) -> None:
        """Raises: IllegalStateError (no transaction), KafkaError."""
        self._require_transactional()
        await self._blocking(self._producer.commit_transaction)

    async def abort_transaction(self) -> None:
        """Raises: IllegalStateError (no transaction), KafkaError."""
        self._require_transactional()
        await self._blocking(self._producer.abort_transaction)

    async def send_offsets_to_transaction(
        self, offsets: Mapping[TopicPartition, OffsetAndMetadata | int], group_id: str
    ) -> None:
        """Commit consumer offsets (``{TopicPartition: OffsetAndMetadata or offset}``)
        in the open transaction.

        Raises: IllegalOperation, IllegalStateError, KafkaError.
        """
        self._require_transactional()
        triples = [
            (tp.topic, tp.partition, om if isinstance(om, int) else om.offset)
            for tp, om in offsets.items()
        ]
        await self._blocking(self._producer.send_offsets_to_transaction, triples, group_id)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """``async with producer.transaction():`` commits on success, aborts on error.

        As aiokafka's: after a fatal error (``ProducerFenced``, raised by the send or
        commit that revealed it) nothing is aborted, the error leaves the block as is.
        """
        await self.begin_transaction()
        try:
            yield
        except Errors.ProducerFenced:
            raise
        except BaseException as e:
            if isinstance(e, kafkify.KafkaError) and e.fatal:
                raise
            await self.abort_transaction()
            raise
        await self.commit_transaction()

    async def __aenter__(self) -> AIOKafkaProducer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def _require_transactional(self) -> None:
        if not self._transactional:
            raise Errors.IllegalOperation(
                "You need to configure transaction_id to use transactions"
            )

    def _error(self, e: kafkify.KafkaError) -> BaseException:
        if isinstance(e, kafkify.IllegalStateError) and self._transactional:
            return Errors.IllegalOperation(f"send outside a transaction: {e}")
        return Errors.from_kafkify(e)

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except kafkify.KafkaError as e:
            raise Errors.from_kafkify(e) from e

    async def _blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._call, fn, *args)

    def _track(
        self, inner: Awaitable[Any], convert: Callable[[Any], RecordMetadata]
    ) -> asyncio.Future[RecordMetadata | None]:
        """A future resolving to ``convert(result)`` (None with ``acks=0``, as aiokafka's)
        with errors translated, remembered until done so ``flush()`` can wait for it."""
        outer: asyncio.Future[RecordMetadata | None] = asyncio.get_running_loop().create_future()

        def settle(done: asyncio.Future[Any]) -> None:
            self._pending.discard(outer)
            if outer.done():
                return
            if done.cancelled():
                outer.cancel()
            elif (exc := done.exception()) is not None:
                outer.set_exception(Errors.from_kafkify(exc))
            else:
                outer.set_result(None if self._no_ack else convert(done.result()))

        self._pending.add(outer)
        # The core hands back real asyncio futures; ensure_future returns them as is.
        asyncio.ensure_future(inner).add_done_callback(settle)
        return outer


def _record_metadata(meta: kafkify.RecordMetadata) -> RecordMetadata:
    return RecordMetadata(
        topic=meta.topic,
        partition=meta.partition,
        topic_partition=TopicPartition(meta.topic, meta.partition),
        offset=meta.offset,
        timestamp=meta.timestamp if meta.timestamp >= 0 else None,
        timestamp_type=0,
        log_start_offset=None,
    )
