"""kafka-python's ``KafkaProducer`` over :class:`kafkify.Producer`."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

import kafkify
from kafkify.compat import _common
from kafkify.compat.kafka import errors as Errors
from kafkify.compat.kafka.future import FutureRecordMetadata, RecordMetadata
from kafkify.compat.kafka.serializer import serialize
from kafkify.compat.kafka.structs import OffsetAndMetadata, TopicPartition

#: kafka-python defaults that differ from kafkify's (acks=1 and no idempotence as
#: in 2.x, no compression, no linger). 3.x's acks=-1 + idempotence is one kwarg away.
DEFAULTS: dict[str, Any] = {
    "bootstrap_servers": "localhost",
    "acks": 1,
    "enable_idempotence": False,
    "compression_type": None,
    "linger_ms": 0,
    "max_block_ms": 60000,
    "max_request_size": 1048576,
}

#: Options the shim itself consumes.
SHIM_OPTIONS = frozenset(
    {"key_serializer", "value_serializer", "max_block_ms", "partitioner", "ssl_context"}
)

IGNORED = {
    "api_version": "librdkafka negotiates API versions with the broker itself",
    "api_version_auto_timeout_ms": "librdkafka negotiates API versions with the broker itself",
    "bootstrap_timeout_ms": "librdkafka connects in the background and retries on its own",
    "default_api_timeout_ms": "each call here takes its own timeout",
    "metric_reporters": "librdkafka keeps its own statistics",
    "metrics_enabled": "librdkafka keeps its own statistics",
    "metrics_num_samples": "librdkafka keeps its own statistics",
    "metrics_sample_window_ms": "librdkafka keeps its own statistics",
    "selector": "librdkafka owns the sockets and their event loop",
    "socket_options": "librdkafka sets its own socket options (TCP_NODELAY is on)",
    "kafka_client": "librdkafka is the client",
    "net": "librdkafka owns the network layer",
    "bootstrap_topics_filter": "librdkafka fetches metadata for the topics in use",
    "allow_auto_create_topics": "the broker's auto.create.topics.enable decides",
    "sasl_kerberos_name": "librdkafka takes Kerberos settings as sasl.kerberos.* properties",
    "sasl_kerberos_domain_name": "librdkafka resolves the broker host name itself",
}

UNSUPPORTED = {
    "sasl_oauth_token_provider": "kafkify has no OAUTHBEARER token callback yet; use "
    "config sasl.oauthbearer.* properties through kafkify.Producer",
    "socks5_proxy": "librdkafka has no SOCKS5 proxy support",
    "proxy_url": "librdkafka has no proxy support",
}


class KafkaProducer:
    """kafka-python's producer API on kafkify's core (librdkafka).

    Raises:
        KafkaConfigurationError: an unknown or unsupported option, or an invalid value.
    """

    DEFAULT_CONFIG = DEFAULTS

    def __init__(self, **configs: Any) -> None:
        options = _common.triage(
            configs,
            known=SHIM_OPTIONS,
            ignored=IGNORED,
            unsupported=UNSUPPORTED,
            error=Errors.KafkaConfigurationError,
            client="kafka-python",
        )
        ssl_config = _common.ssl_options(options, Errors.KafkaConfigurationError)
        self.config = {**DEFAULTS, **options}
        try:
            _common.settle_acks(options, self.config, default_acks=DEFAULTS["acks"])
        except kafkify.ConfigError as e:
            raise Errors.KafkaConfigurationError(str(e)) from e
        self._key_serializer = self.config.pop("key_serializer", None)
        self._value_serializer = self.config.pop("value_serializer", None)
        partitioner, self._partitioner_fn = _common.partitioner_option(
            self.config.pop("partitioner", None)
        )
        core_options = {k: v for k, v in self.config.items() if v is not None}
        core_options.pop("compression_type", None)
        core_options["compression_type"] = self.config.get("compression_type") or "none"
        try:
            self._producer = kafkify.Producer(
                value_serializer="bytes", partitioner=partitioner, config=ssl_config, **core_options
            )
        except kafkify.KafkaError as e:
            raise Errors.from_kafkify(e) from e
        self._chooser = (
            _common.PartitionChooser(self._producer, self._partitioner_fn)
            if self._partitioner_fn
            else None
        )
        self._outstanding = _common.Outstanding()
        self._closed = False

    def send(
        self,
        topic: str,
        value: Any = None,
        key: Any = None,
        headers: Iterable[tuple[str, bytes]] | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
    ) -> FutureRecordMetadata:
        """Queue one record; returns a future resolving to ``RecordMetadata``.

        Raises:
            AssertionError: the producer is closed, or both key and value are None.
            MessageSizeTooLargeError: the record exceeds ``max_request_size``.
            KafkaTimeoutError: no room in the queue within ``max_block_ms``.
            IllegalStateError: a transactional producer outside a transaction.
            TypeError, ValueError: bad topic, key, value or headers.
        """
        if self._closed:
            raise AssertionError("KafkaProducer already closed!")
        if value is None and key is None:
            raise AssertionError("Need at least one: key or value")
        key_bytes = serialize(self._key_serializer, topic, key, headers)
        value_bytes = serialize(self._value_serializer, topic, value, headers)
        if partition is None and self._chooser is not None:
            partition = self._chooser(topic, key_bytes)
        future = FutureRecordMetadata()

        def on_delivery(err: kafkify.KafkaError | None, meta: kafkify.RecordMetadata) -> None:
            try:
                if err is not None:
                    future.failure(Errors.from_kafkify(err))
                else:
                    future.success(_record_metadata(meta))
            finally:
                self._outstanding.done()

        self._outstanding.add()
        try:
            self._producer.produce(
                topic,
                value_bytes,
                key_bytes,
                headers=list(headers) if headers is not None else None,
                partition=partition,
                timestamp_ms=timestamp_ms,
                on_delivery=on_delivery,
            )
        except BaseException as e:
            self._outstanding.done()
            if isinstance(e, kafkify.KafkaError):
                raise Errors.from_kafkify(e) from e
            raise
        return future

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every record sent so far is acknowledged or failed, and its
        future resolved.

        Raises:
            KafkaTimeoutError: records still pending after ``timeout`` seconds.
        """
        deadline = _common.deadline_after(timeout)
        try:
            self._producer.flush(timeout)
        except kafkify.KafkaError as e:
            raise Errors.from_kafkify(e) from e
        if not self._outstanding.wait(deadline):
            raise Errors.KafkaTimeoutError(
                f"Timeout after waiting for {timeout} secs: callbacks still running"
            )

    def close(self, timeout: float | None = None, null_logger: bool = False) -> None:
        """Flush, then release everything. Safe to call twice.

        Raises:
            KafkaTimeoutError: records were undelivered after ``timeout`` seconds
                (they are purged and their futures fail).
        """
        self._closed = True
        try:
            self._producer.close(timeout)
        except kafkify.KafkaError as e:
            raise Errors.from_kafkify(e) from e

    def partitions_for(self, topic: str) -> set[int]:
        """The partition ids of ``topic``.

        Raises:
            KafkaTimeoutError: no metadata within ``max_block_ms``.
        """
        try:
            return set(self._producer.partitions_for(topic))
        except kafkify.KafkaError as e:
            raise Errors.from_kafkify(e) from e

    def metrics(self, raw: bool = False) -> dict[str, dict[str, Any]]:
        """kafka-python's metrics registry has no librdkafka equivalent: empty."""
        return {}

    def bootstrap_connected(self) -> bool:
        """True when a broker answers a metadata request (within 5 s)."""
        try:
            self._producer.list_topics(timeout=5.0)
        except kafkify.KafkaError:
            return False
        return True

    def init_transactions(self) -> None:
        """Raises: IllegalStateError without ``transactional_id``; KafkaError."""
        self._txn(self._producer.init_transactions)

    def begin_transaction(self) -> None:
        """Raises: IllegalStateError (not initialized, or already in a transaction)."""
        self._txn(self._producer.begin_transaction)

    def commit_transaction(self) -> None:
        """Raises: IllegalStateError (no transaction), KafkaError."""
        self._txn(self._producer.commit_transaction)

    def abort_transaction(self) -> None:
        """Raises: IllegalStateError (no transaction), KafkaError."""
        self._txn(self._producer.abort_transaction)

    def send_offsets_to_transaction(
        self, offsets: Mapping[TopicPartition, OffsetAndMetadata], consumer_group_id: Any
    ) -> None:
        """Commit consumer offsets in the transaction; ``consumer_group_id`` is the
        group id (2.x) or an object with ``group_id`` (3.x group metadata).

        Raises: IllegalStateError, KafkaError.
        """
        group = getattr(consumer_group_id, "group_id", consumer_group_id)
        triples = [(tp.topic, tp.partition, om.offset) for tp, om in offsets.items()]
        self._txn(self._producer.send_offsets_to_transaction, triples, group)

    def _txn(self, call: Any, *args: Any) -> None:
        try:
            call(*args)
        except kafkify.KafkaError as e:
            raise Errors.from_kafkify(e) from e

    def __enter__(self) -> KafkaProducer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


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
