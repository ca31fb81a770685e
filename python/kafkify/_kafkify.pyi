"""Type stubs for kafkify's native core (src/)."""

from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Literal, TypeAlias, final

from typing_extensions import disjoint_base

from kafkify.errors import KafkaError

__version__: str
__all__ = [
    "Producer",
    "RecordMetadata",
    "Transaction",
    "_MockCluster",
    "_shutdown_all",
    "_error_class_names",
    "_core_accepts",
    "PolledMessage",
    "PolledProducer",
    "librdkafka_error_codes",
    "dumps",
    "librdkafka_features",
    "librdkafka_version",
    "__version__",
]

_Headers: TypeAlias = (
    Mapping[str, bytes | str | None] | Iterable[tuple[str, bytes | str | None]] | None
)
_Serializer: TypeAlias = Literal["json", "bytes", "str"] | Callable[[Any], bytes | None] | None
_DeliveryCallback: TypeAlias = Callable[[KafkaError | None, RecordMetadata], object]

def librdkafka_version() -> str:
    """The bundled librdkafka's version, e.g. ``"2.12.1"``."""

def librdkafka_features() -> list[str]:
    """The bundled librdkafka's ``builtin.features`` (codecs, ssl, sasl mechanisms, ...)."""

def dumps(
    value: object,
    *,
    default: Callable[[Any], object] | None = None,
    sort_keys: bool = False,
) -> bytes:
    """Encode ``value`` as compact UTF-8 JSON, exactly as the producer's default
    serializer does.

    Beyond the JSON types (dict, list, tuple, str, int of any size, float, bool,
    None) it writes datetime/date/time as ``isoformat()``, UUID as its string,
    Decimal as its exact number, Enum as its value, dataclasses and pydantic
    models as objects. ``default(obj)`` is called for anything else and its result
    written in its place.

    Raises:
        SerializationError: the value (at the path in the message, e.g.
            ``value['items'][3]``) is not JSON-serializable: an unsupported type,
            NaN/Infinity, a lone surrogate, a circular reference, or a dict
            changed while being serialized.
        SerializationRecursionError: nested deeper than 255 levels, than the
            recursion limit allows (``default`` calling ``dumps`` again counts),
            or than the thread's stack holds; a ``SerializationError`` and a
            ``RecursionError`` (what ``json.dumps`` raises there).
    """

def _shutdown_all() -> None: ...
def _core_accepts(name: str) -> bool:
    """Whether the core takes keyword-style option ``name`` (for the compat shims)."""

def _error_class_names() -> list[str]:
    """Every kafkify.errors class name the core can raise (for a test)."""

@final
class RecordMetadata:
    """Where a record landed (kafka-python's field names)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int:
        """Milliseconds since the epoch; -1 when unknown."""
    @property
    def serialized_key_size(self) -> int:
        """-1 when the record had no key."""
    @property
    def serialized_value_size(self) -> int:
        """-1 for a tombstone."""
    @property
    def serialized_header_size(self) -> int:
        """-1 when the record had no headers."""
    @property
    def topic_partition(self) -> tuple[str, int]: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Producer:
    """A Kafka producer backed by librdkafka. Thread-safe: share one per process.

    Options are kafka-python/aiokafka names (``linger_ms=5``, ``acks="all"``, ...)
    or librdkafka properties (``config={"queue.buffering.max.kbytes": 65536}``).
    Defaults: ``acks="all"``, ``enable_idempotence=True``, ``compression_type="lz4"``,
    ``linger_ms=5``, ``reconnect_backoff_ms=20``.

    Logging goes to the logger ``kafkify.<client_id>`` (``kafkify`` without one).
    ``on_error(exc)`` receives librdkafka's global errors (all brokers down, fatal
    errors) as ``KafkaError``; ``on_stats(metrics)`` receives ``metrics()`` every
    ``statistics_interval_ms``; ``log_deliveries=True`` logs each delivery at DEBUG.

    OpenTelemetry (with ``opentelemetry-api`` installed): ``tracing`` gives each
    record a PRODUCER span ``send {topic}`` from the call to its delivery report,
    and puts the propagator's headers (``traceparent``, ...) on the record unless it
    has them; ``otel_metrics`` records ``messaging.client.operation.duration`` and
    ``messaging.client.sent.messages`` and serves the in-flight and queue-size
    gauges. Each is None (the default: on when an OpenTelemetry SDK provider is
    set globally), True (the global provider), False, or a TracerProvider /
    MeterProvider to use.

    A producer nobody closed is closed when garbage-collected (on a thread of its
    own: dropping it never blocks) and at interpreter exit; its records then get
    ``exit_timeout_ms`` (default 5000) to be delivered, and the rest are reported
    failed to their callers, with one log line saying how many.

    Timeouts (``timeout`` in seconds, ``max_block_ms``) take any non-negative
    number: ``math.inf``, None where the signature allows it, and numbers too large
    for a wait mean no limit; NaN or a negative number raises ``ConfigError`` naming
    the argument. A call's ``timeout`` bounds the whole call, its wait for queue
    room included; Ctrl+C interrupts every blocking wait.

    Raises:
        ConfigError: an unknown option (with a "did you mean") or an invalid value;
            ``on_stats`` without ``statistics_interval_ms``; ``tracing`` or
            ``otel_metrics`` not None, a bool or a provider, or True without
            ``opentelemetry-api`` installed.
    """

    def __new__(
        cls,
        bootstrap_servers: str | list[str] | None = None,
        *,
        config: Mapping[str, object] | None = None,
        value_serializer: _Serializer = None,
        key_serializer: _Serializer = None,
        json_default: Callable[[Any], object] | None = None,
        max_block_ms: float | None = None,
        exit_timeout_ms: float | None = None,
        on_error: Callable[[KafkaError], object] | None = None,
        on_stats: Callable[[dict[str, Any]], object] | None = None,
        log_deliveries: bool = False,
        tracing: bool | Any | None = None,
        otel_metrics: bool | Any | None = None,
        **options: object,
    ) -> Producer: ...
    @classmethod
    def from_config(cls, mapping: Mapping[str, object]) -> Producer:
        """Create a producer from one mapping of snake_case names and/or dotted properties.

        Raises:
            ConfigError: an unknown name or an invalid value.
        """
    def send(
        self,
        topic: str,
        value: object = None,
        key: object = None,
        *,
        headers: _Headers = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        timeout: float | None = 10.0,
    ) -> RecordMetadata:
        """Send one record and block (GIL released) until the broker acknowledges it.

        Raises:
            KafkaTimeoutError: no acknowledgement (or no room in a full queue)
                within ``timeout`` seconds.
            SerializationError: the value, key or headers cannot be encoded.
            InvalidTopicError: the topic name is not valid.
            MessageSizeTooLargeError: the record exceeds ``max_request_size``.
            ProducerClosedError: the producer is closed.
            AuthenticationError: every broker refuses the credentials or the TLS
                handshake (raised as soon as that is known, not after the delivery timeout).
            AuthorizationError: the principal may not write to the topic.
            KafkaError: the broker rejected the record.
        """
    def send_async(
        self,
        topic: str,
        value: object = None,
        key: object = None,
        *,
        headers: _Headers = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        timeout: float | None = None,
    ) -> Awaitable[RecordMetadata]:
        """Send one record; the awaitable resolves to its RecordMetadata.

        Never blocks the loop: when the local queue is full the record waits for
        room in an ordered overflow line (up to ``max_block_ms``). Does not wait out
        ``linger_ms`` once the loop is idle: the records of one loop iteration share
        a request, sent as soon as the tasks that were ready have run.

        Raises:
            RuntimeError: no running event loop in this thread.
            SerializationError, InvalidTopicError, ProducerClosedError: at once.
            QueueFullError: when awaited, if the queue stayed full for ``max_block_ms``.
            KafkaError: when awaited, as for ``send``.
        """
    def produce(
        self,
        topic: str,
        value: object = None,
        key: object = None,
        *,
        headers: _Headers = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        on_delivery: _DeliveryCallback | None = None,
    ) -> None:
        """Queue one record and return; ``on_delivery(err, metadata)`` runs once per record.

        Raises:
            QueueFullError: no room in the local queue after ``max_block_ms``.
            KeyboardInterrupt: Ctrl+C while waiting for room (the record was not queued).
            SerializationError, InvalidTopicError, ProducerClosedError.
        """
    def send_batch(
        self,
        topic: str,
        values: Iterable[object],
        keys: Iterable[object] | None = None,
        *,
        headers: _Headers = None,
        partition: int | None = None,
        timeout: float | None = 10.0,
        raise_on_error: bool = False,
    ) -> list[RecordMetadata | KafkaError]:
        """Send many records with one call and one wait (GIL released).

        Returns one entry per value, in input order: its RecordMetadata, or the
        KafkaError that record failed with. Each record carries the bytes its value
        and key held when the call was made: a bytearray or memoryview that another
        thread changes while the call waits for queue room is sent as it was.

        Raises:
            SerializationError: a value or key cannot be encoded; nothing was queued.
            KafkaTimeoutError: not every record reported within ``timeout`` seconds
                (the whole call's limit; records still waiting for queue room then
                are not sent, and each is reported failed).
            KafkaError: with ``raise_on_error=True``, the first failure in input order.
            InvalidTopicError, ProducerClosedError.
        """
    def send_batch_async(
        self,
        topic: str,
        values: Iterable[object],
        keys: Iterable[object] | None = None,
        *,
        headers: _Headers = None,
        partition: int | None = None,
        raise_on_error: bool = False,
    ) -> Awaitable[list[RecordMetadata | KafkaError]]:
        """``send_batch`` for asyncio; never blocks the loop (records that find the
        queue full wait for room in the overflow line, as for ``send_async``).

        Raises:
            RuntimeError: no running event loop in this thread.
            SerializationError, InvalidTopicError, ProducerClosedError: at once.
            KafkaError: when awaited with ``raise_on_error=True``.
        """
    def flush(self, timeout: float | None = None) -> None:
        """Wait until every queued record is delivered or failed.

        Raises:
            KafkaTimeoutError: records are still queued after ``timeout`` seconds.
        """
    def close(self, timeout: float | None = None) -> None:
        """Flush, then release connections and threads. Idempotent.

        Raises:
            KafkaTimeoutError: records were left after ``timeout``; they were purged
                and reported to their callers as failed.
        """
    def start(self, timeout: float = 10.0) -> Awaitable[Producer]:
        """Check that the cluster answers; an idempotent producer also has its
        producer id asked for, so that the first send does not wait for it.

        Raises:
            NoBrokersAvailable: no broker answered within ``timeout`` seconds.
        """
    def stop(self, timeout: float | None = None) -> Awaitable[None]:
        """Flush and close without blocking the event loop."""
    def partitions_for(self, topic: str) -> list[int]:
        """The partition ids of ``topic``.

        Raises:
            KafkaTimeoutError, UnknownTopicOrPartitionError.
        """
    def init_transactions(self, timeout: float | None = None) -> None:
        """Register ``transactional_id`` with the cluster; once, before transactions.

        Raises:
            IllegalStateError: no ``transactional_id``.
            KafkaTimeoutError: no answer within ``timeout`` (``retriable``).
            KafkaError: ``.fatal`` when the producer can no longer be used.
        """
    def begin_transaction(self) -> None:
        """Start a transaction.

        Raises:
            IllegalStateError: no ``transactional_id``, not initialized, or one is open.
        """
    def commit_transaction(self, timeout: float | None = None) -> None:
        """Flush the transaction's records and commit them.

        Raises:
            KafkaError: ``.retriable``, ``.txn_requires_abort`` or ``.fatal``.
            IllegalStateError: no transaction is open.
        """
    def abort_transaction(self, timeout: float | None = None) -> None:
        """Abort the open transaction; its undelivered records fail (RecordPurgedError).

        Raises:
            IllegalStateError: no transaction is open. KafkaError otherwise.
        """
    def send_offsets_to_transaction(
        self,
        offsets: Iterable[
            tuple[str, int, int]
            | tuple[str, int, int, str | None]
            | tuple[str, int, int, str | None, int | None]
        ],
        group: str | bytes,
        timeout: float | None = None,
    ) -> None:
        """Commit consumer offsets ``(topic, partition, next offset[, metadata[,
        leader epoch]])`` in the transaction (None: no metadata / unknown epoch).

        Raises:
            ConfigError: malformed offsets or group. IllegalStateError, KafkaError.
        """
    def transaction(self, timeout: float | None = None) -> Transaction:
        """``with producer.transaction():`` begin, commit on success, abort on error."""
    def purge(self, in_queue: bool = True, in_flight: bool = True, blocking: bool = True) -> None:
        """Drop undelivered records; each caller hears ``RecordPurgedError``.

        Raises:
            ProducerClosedError: the producer is closed.
        """
    def list_topics(self, topic: str | None = None, timeout: float | None = None) -> dict[str, Any]:
        """Cluster metadata: ``orig_broker_id``, ``orig_broker_name``,
        ``brokers`` ``{id: (host, port)}``, ``topics`` ``{name: {"error", "partitions":
        {id: {"leader", "replicas", "isrs", "error"}}}}`` (errors are codes or None).

        Raises:
            KafkaTimeoutError: no metadata within ``timeout`` (default ``max_block_ms``).
        """
    def metrics(self) -> dict[str, Any]:
        """librdkafka's latest statistics (refreshed every ``statistics_interval_ms``;
        none with statistics off) plus ``"kafkify"``: records ``sent``, ``delivered``,
        ``failed``, ``in_flight``, ``queue_bytes`` (key and value bytes in
        librdkafka's queue) and ``avg_delivery_latency_ms`` (None before the first
        delivery). Works after ``close()``."""
    def __len__(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    @property
    def config(self) -> dict[str, str]:
        """The librdkafka properties in effect, secrets masked."""
    def __enter__(self) -> Producer: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...
    def __aenter__(self) -> Awaitable[Producer]: ...
    def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Awaitable[bool]: ...

@final
class Transaction:
    """The guard returned by ``Producer.transaction()``."""

    def __enter__(self) -> Transaction: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...

@disjoint_base
class PolledProducer:
    """The native half of ``kafkify.compat.confluent_kafka.Producer``: ``produce``,
    ``poll`` and ``len()``, with delivery reports served by the caller's ``poll``."""

    def __new__(cls, *_args: Any, **_kwargs: Any) -> PolledProducer: ...
    def _attach(
        self,
        core: Producer,
        *,
        on_delivery: Callable[[Any, Any], object] | None,
        only_errors: bool,
        make_error: Callable[[KafkaError], Any],
        translate: Callable[[BaseException], BaseException],
    ) -> None: ...
    @property
    def _closed(self) -> bool: ...
    @_closed.setter
    def _closed(self, closed: bool) -> None: ...
    @property
    def _pending(self) -> int: ...
    def produce(
        self,
        topic: str,
        value: str | bytes | None = None,
        key: str | bytes | None = None,
        partition: int | None = ...,
        on_delivery: Callable[[Any, Any], object] | None = None,
        callback: Callable[[Any, Any], object] | None = None,
        timestamp: int = 0,
        headers: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
    ) -> None:
        """Queue one record; its delivery callback runs from a later ``poll``/``flush``.

        Raises:
            BufferError: the local queue is full (``queue.buffering.max.messages``).
            KafkaException: e.g. ``MSG_SIZE_TOO_LARGE``, ``_UNKNOWN_PARTITION``.
            RuntimeError: the producer is closed.
            TypeError: a value or key that is not str or bytes.
        """
    def poll(self, timeout: float | None = ...) -> int:
        """Serve delivery callbacks: wait up to ``timeout`` seconds (-1 or None:
        forever) for the first, then serve all that are ready. Returns how many.

        Raises:
            RuntimeError: the producer is closed.
            ConfigError: ``timeout`` is NaN (a ValueError).
            Exception: whatever a delivery callback raises (the rest wait for the next poll).
        """
    def _serve(self, timeout: float | None = ...) -> int: ...
    def _push_call(self, call: Callable[[], object]) -> None: ...
    def __len__(self) -> int: ...
    def __bool__(self) -> bool: ...

@disjoint_base
class PolledMessage:
    """confluent-kafka's ``Message``, as a delivery callback sees it."""

    def __new__(
        cls,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
        key: Any = None,
        value: Any = None,
        headers: Any = None,
        error: Any = None,
        timestamp: tuple[int, int] | None = None,
        latency: float | None = None,
        leader_epoch: int | None = None,
    ) -> PolledMessage: ...
    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def leader_epoch(self) -> int | None: ...
    def key(self) -> Any: ...
    def value(self) -> Any: ...
    def headers(self) -> Any: ...
    def set_headers(self, headers: Any) -> None: ...
    def set_key(self, key: Any) -> None: ...
    def set_value(self, value: Any) -> None: ...
    def timestamp(self) -> tuple[int, int]: ...
    def error(self) -> Any: ...
    def latency(self) -> float | None: ...
    def __len__(self) -> int: ...

def librdkafka_error_codes() -> list[tuple[int, str, str]]:
    """Every librdkafka error code as ``(code, name, description)``."""

@final
class _MockCluster:
    """librdkafka's mock cluster (use ``kafkify.testing.MockCluster``)."""

    def __new__(cls, num_brokers: int = 3) -> _MockCluster: ...
    @property
    def bootstrap_servers(self) -> str: ...
    @property
    def num_brokers(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    def create_topic(self, name: str, partitions: int, replication_factor: int) -> None: ...
    def set_leader(self, topic: str, partition: int, broker_id: int) -> None: ...
    def broker_down(self, broker_id: int) -> None: ...
    def broker_up(self, broker_id: int) -> None: ...
    def set_rtt(self, broker_id: int, ms: int) -> None: ...
    def push_request_errors(self, api: str, errors: list[str | int]) -> None: ...
    def clear_request_errors(self, api: str) -> None: ...
    def read_topic(
        self, topic: str, timeout: float | None
    ) -> list[tuple[int, int, int, bytes | None, bytes | None, list[tuple[str, bytes | None]]]]: ...
    def close(self) -> None: ...
