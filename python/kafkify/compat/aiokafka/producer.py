"""aiokafka's ``AIOKafkaProducer`` over :class:`kafkify.Producer`.

Sends use the core's ``send_async`` (resolved on the loop, batched per loop);
blocking librdkafka calls (flush, transactions, metadata) run in the loop's
default executor so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
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
    {"key_serializer", "value_serializer", "partitioner", "loop", "ssl_context"}
)

IGNORED = {
    "api_version": "librdkafka negotiates API versions with the broker itself",
    "sasl_kerberos_domain_name": "librdkafka resolves the broker host name itself",
}

UNSUPPORTED = {
    "sasl_oauth_token_provider": "kafkify has no OAUTHBEARER token callback yet",
}


class AIOKafkaProducer:
    """aiokafka's producer API on kafkify's core.

    Raises:
        KafkaConfigurationError: an unknown or unsupported option, or an invalid value.
        ValueError: ``enable_idempotence=True`` with ``acks`` other than ``"all"``.
    """

    def __init__(self, **configs: Any) -> None:
        options = _common.triage(
            configs,
            known=SHIM_OPTIONS,
            ignored=IGNORED,
            unsupported=UNSUPPORTED,
            error=Errors.KafkaConfigurationError,
            client="aiokafka",
        )
        options.pop("loop", None)
        ssl_config = _common.ssl_options(options, Errors.KafkaConfigurationError)
        config = {**DEFAULTS, **options}
        self._key_serializer: Callable[[Any], Any] | None = config.pop("key_serializer", None)
        self._value_serializer: Callable[[Any], Any] | None = config.pop("value_serializer", None)
        partitioner, fn = _common.partitioner_option(config.pop("partitioner", None))
        _common.settle_acks(options, config, default_acks=1)
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

    async def start(self) -> None:
        """Connect to the cluster (and register the transactional id, if any).

        Raises:
            KafkaConnectionError: no broker answered.
        """
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
    ) -> asyncio.Future[RecordMetadata]:
        """Queue one record; returns a future resolving to ``RecordMetadata``.

        Raises:
            ProducerClosed: the producer was stopped.
            KafkaTimeoutError: the local queue is full.
            MessageSizeTooLargeError: the record exceeds ``max_request_size``.
            IllegalOperation: a transactional producer outside a transaction.
            TypeError, ValueError: bad topic, key, value or headers.
        """
        if self._closed:
            raise Errors.ProducerClosed()
        key_bytes = self._key_serializer(key) if self._key_serializer else key
        value_bytes = self._value_serializer(value) if self._value_serializer else value
        if partition is None and self._chooser is not None:
            partition = await asyncio.get_running_loop().run_in_executor(
                None, self._chooser, topic, key_bytes
            )
        try:
            inner = self._producer.send_async(
                topic,
                value_bytes,
                key_bytes,
                headers=list(headers) if headers is not None else None,
                partition=partition,
                timestamp_ms=timestamp_ms,
            )
        except kafkify.KafkaError as e:
            raise self._error(e) from e
        return self._track(inner, _record_metadata)

    async def send_and_wait(
        self,
        topic: str,
        value: Any = None,
        key: Any = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: Iterable[tuple[str, bytes]] | None = None,
    ) -> RecordMetadata:
        """Send one record and wait for its acknowledgement.

        Raises: the errors of ``send``, and the record's delivery error.
        """
        future = await self.send(topic, value, key, partition, timestamp_ms, headers)
        return await future

    def create_batch(self) -> BatchBuilder:
        """An empty batch (up to ``max_batch_size`` bytes) for ``send_batch``."""
        return BatchBuilder(self._batch_size, self._key_serializer, self._value_serializer)

    async def send_batch(
        self, batch: BatchBuilder, topic: str, *, partition: int
    ) -> asyncio.Future[RecordMetadata]:
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
        """``async with producer.transaction():`` commits on success, aborts on error."""
        await self.begin_transaction()
        try:
            yield
        except BaseException:
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
    ) -> asyncio.Future[RecordMetadata]:
        """A future resolving to ``convert(result)`` with errors translated,
        remembered until done so ``flush()`` can wait for it."""
        outer: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()

        def settle(done: asyncio.Future[Any]) -> None:
            self._pending.discard(outer)
            if outer.done():
                return
            if done.cancelled():
                outer.cancel()
            elif (exc := done.exception()) is not None:
                outer.set_exception(Errors.from_kafkify(exc))
            else:
                outer.set_result(convert(done.result()))

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
