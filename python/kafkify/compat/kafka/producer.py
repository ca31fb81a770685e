"""kafka-python's ``KafkaProducer`` over :class:`kafkify.Producer`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

import kafkify
from kafkify.compat import _common
from kafkify.compat.kafka import errors as Errors
from kafkify.compat.kafka.future import FutureRecordMetadata
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

#: What ``config['api_version']`` reports when no ``api_version`` is given. kafka-python
#: asks the broker (ApiVersions) in its constructor; librdkafka negotiates each request's
#: version itself and does not expose the broker's version, and the shim does not connect
#: in the constructor. kafkify's producer features (v2 records with headers, zstd,
#: idempotence with epoch bumps, transactions) assume a broker of at least 2.5.
ASSUMED_API_VERSION: tuple[int, ...] = (2, 5)


class KafkaProducerClosedError(Errors.IllegalStateError, AssertionError):
    """``send()`` on a closed producer: kafka-python 3.x raises ``IllegalStateError``,
    2.x ``AssertionError``; this is both, so handlers written for either catch it."""


class NoKeyOrValueError(ValueError, AssertionError):
    """``send()`` with neither key nor value: kafka-python 3.x raises ``ValueError``,
    2.x ``AssertionError``; this is both."""


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

    @classmethod
    def max_usable_produce_magic(cls, api_version: tuple[int, ...]) -> int:
        """The record format (magic) kafka-python uses for a broker version: 2 from
        0.11 (the only one librdkafka writes to such brokers), 1 from 0.10, else 0."""
        if api_version >= (0, 11):
            return 2
        if api_version >= (0, 10, 0):
            return 1
        return 0

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
        api_version = configs.get("api_version")
        if isinstance(api_version, str):  # kafka-python still takes the old str form
            api_version = None if api_version == "auto" else tuple(map(int, api_version.split(".")))
        self.config["api_version"] = tuple(api_version) if api_version else ASSUMED_API_VERSION
        try:
            _common.settle_acks(options, self.config, default_acks=DEFAULTS["acks"])
        except kafkify.ConfigError as e:
            raise Errors.KafkaConfigurationError(str(e)) from e
        self._key_serializer = self.config.pop("key_serializer", None)
        self._value_serializer = self.config.pop("value_serializer", None)
        partitioner, self._partitioner_fn = _common.partitioner_option(
            self.config.pop("partitioner", None)
        )
        core_options = {
            k: v for k, v in self.config.items() if v is not None and k != "api_version"
        }
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
        self._closed = False
        # kafka-python keeps the password in plaintext here; the core gets it above
        # and no one needs it back, so ``.config`` (and any repr or log of it)
        # shows it masked, as ``kafkify.Producer.config`` does (issue 10, defect 10).
        self.config = _common.masked(self.config)

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
            IllegalStateError: the producer is closed (also an ``AssertionError``,
                as kafka-python 2.x raised).
            ValueError: both key and value are None (also an ``AssertionError``).
            MessageSizeTooLargeError: the record exceeds ``max_request_size``.
            KafkaTimeoutError: no room in the queue within ``max_block_ms``.
            IllegalStateError: a transactional producer outside a transaction.
            TypeError, ValueError: bad topic, key, value or headers.
        """
        if self._closed:
            raise KafkaProducerClosedError("KafkaProducer already closed!")
        if value is None and key is None:
            raise NoKeyOrValueError("Need at least one: key or value")
        # One list, as in kafka-python: a serializer may add headers to it.
        headers = list(headers) if headers is not None else []
        key_bytes = _bytes(serialize(self._key_serializer, topic, key, headers))
        value_bytes = _bytes(serialize(self._value_serializer, topic, value, headers))
        if partition is None and self._chooser is not None:
            partition = self._chooser(topic, key_bytes)
        future = FutureRecordMetadata()
        try:
            self._producer.produce(
                topic,
                value_bytes,
                key_bytes,
                headers=headers or None,
                partition=partition,
                timestamp_ms=timestamp_ms,
                on_delivery=future._delivered,
            )
        except kafkify.KafkaError as e:
            raise Errors.from_kafkify(e) from e
        return future

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every record sent so far is acknowledged or failed, and its
        future resolved.

        Raises:
            KafkaTimeoutError: records still pending after ``timeout`` seconds.
        """
        # The core's flush also waits until every delivery callback has run, so
        # every future is resolved when it returns.
        try:
            self._producer.flush(timeout)
        except kafkify.KafkaError as e:
            raise Errors.from_kafkify(e) from e

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
        entries = [
            (
                tp.topic,
                tp.partition,
                om.offset,
                getattr(om, "metadata", None),
                getattr(om, "leader_epoch", None),
            )
            for tp, om in offsets.items()
        ]
        self._txn(self._producer.send_offsets_to_transaction, entries, group)

    def _txn(self, call: Any, *args: Any) -> None:
        try:
            call(*args)
        except kafkify.KafkaError as e:
            raise Errors.from_kafkify(e) from e

    def __repr__(self) -> str:
        state = " closed" if getattr(self, "_closed", False) else ""
        core = getattr(self, "_producer", None)  # None if __init__ raised
        return f"<kafkify.compat.kafka.KafkaProducer {core!r}{state}>"

    def __enter__(self) -> KafkaProducer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _bytes(data: Any) -> Any:
    """A serializer's bytearray/memoryview result (kafka-python accepts them) as bytes."""
    return bytes(data) if isinstance(data, bytearray | memoryview) else data
