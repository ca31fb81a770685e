"""kafkify.compat.kafka: kafka-python's README and usage-doc programs with only the
import changed, run against the broker and read back byte for byte."""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
import warnings
from typing import Any

import pytest

import kafkify
from kafkify.compat.kafka import (
    IgnoredOptionWarning,
    KafkaProducer,
    RecordMetadata,
    TopicPartition,
)
from kafkify.compat.kafka import errors as Errors
from kafkify.compat.kafka.errors import KafkaError
from kafkify.compat.kafka.serializer import DefaultSerializer, JsonSerializer, Serializer
from kafkify.compat.kafka.structs import OffsetAndMetadata

from helpers import closed_port, committed_offsets, create_topic, read_back

with warnings.catch_warnings():
    # kafka-python 3.0 (the reference the tests below compare with) loads its protocol
    # schemas with the deprecated importlib.resources.read_text at import time.
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka as kafka_python
    import kafka.errors as kafka_python_errors
    import kafka.serializer as kafka_python_serializer

log = logging.getLogger(__name__)


def murmur2(data: bytes) -> int:
    """The Java client's murmur2 (kafka-python's DefaultPartitioner), for checking
    that keyed records land where kafka-python would put them."""
    length = len(data)
    seed, m, r = 0x9747B28C, 0x5BD1E995, 24
    h = (seed ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = length % 4
    base = length - tail
    if tail >= 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def test_readme_basic_keyed_json_headers_and_compression(bootstrap: str, topic: str) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for _ in range(100):
        producer.send(topic, b"some_message_bytes")
    # Block until a single message is sent (or timeout)
    future = producer.send(topic, b"another_message")
    result = future.get(timeout=60)
    # Block until all pending messages are at least put on the network
    producer.flush()
    # Use a key for hashed-partitioning
    producer.send(topic, key=b"foo", value=b"bar")
    # Include record headers. The format is list of tuples with string key and bytes value.
    producer.send(topic, value=b"c29tZSB2YWx1ZQ==", headers=[("content-encoding", b"base64")])
    producer.flush()
    producer.close()

    assert isinstance(result, RecordMetadata)
    assert result.topic == topic and result.topic_partition == TopicPartition(
        topic, result.partition
    )
    assert result.serialized_value_size == len(b"another_message")
    assert result.serialized_key_size == -1
    records = read_back(bootstrap, topic, 103)
    assert sum(r.value == b"some_message_bytes" for r in records) == 100
    (keyed,) = [r for r in records if r.key == b"foo"]
    assert keyed.value == b"bar"
    assert keyed.partition == murmur2(b"foo") % 3  # kafka-python's DefaultPartitioner
    (with_headers,) = [r for r in records if r.value == b"c29tZSB2YWx1ZQ=="]
    assert with_headers.headers == [("content-encoding", b"base64")]


@pytest.mark.parametrize("compression_type", ["gzip", "snappy", "lz4", "zstd"])
def test_readme_compression(bootstrap: str, topic: str, compression_type: str) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, compression_type=compression_type)
    for i in range(1000):
        producer.send(topic, b"msg %d" % i)
    producer.flush()
    producer.close()
    values = sorted(r.value for r in read_back(bootstrap, topic, 1000))
    assert values == sorted(b"msg %d" % i for i in range(1000))


def test_readme_serializers(bootstrap: str, topic: str) -> None:
    # Serialize json messages
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, value_serializer=lambda v: json.dumps(v).encode("utf-8")
    )
    producer.send(topic, {"foo": "bar"})
    producer.flush()
    # Serialize string keys
    producer2 = KafkaProducer(bootstrap_servers=bootstrap, key_serializer=str.encode)
    producer2.send(topic, key="ping", value=b"1234")
    producer2.flush()
    producer.close()
    producer2.close()
    records = {r.value: r for r in read_back(bootstrap, topic, 2)}
    assert json.loads(records[b'{"foo": "bar"}'].value or b"") == {"foo": "bar"}
    assert records[b"1234"].key == b"ping"


def test_serializer_classes_and_value_none_goes_through_the_serializer(
    bootstrap: str, topic: str
) -> None:
    class Upper(Serializer):
        def serialize(self, topic: str, value: Any) -> bytes | None:
            return None if value is None else str(value).upper().encode()

    with KafkaProducer(
        bootstrap_servers=bootstrap, key_serializer=Upper(), value_serializer=JsonSerializer()
    ) as producer:
        producer.send(topic, {"a": [1, 2]}, key="k1")
        producer.send(topic, None, key="k2")  # JsonSerializer keeps None: a tombstone
    with KafkaProducer(
        bootstrap_servers=bootstrap, value_serializer=lambda v: json.dumps(v).encode()
    ) as producer:
        # kafka-python calls a plain serializer with None too (json.dumps(None) == "null")
        producer.send(topic, None, key=b"k3")
    with KafkaProducer(
        bootstrap_servers=bootstrap,
        key_serializer=DefaultSerializer(),
        value_serializer=DefaultSerializer(),
    ) as producer:
        producer.send(topic, "text", key="k4")

    class HeaderAware:  # kafka-python 3.x's serializer signature, without our base class
        def serialize(self, topic: str, headers: Any, data: Any) -> bytes:
            return f"{data}:{len(headers or [])}".encode()

    with KafkaProducer(bootstrap_servers=bootstrap, value_serializer=HeaderAware()) as producer:
        producer.send(topic, "v", key=b"k5", headers=[("h", b"1")])
    by_key = {r.key: r.value for r in read_back(bootstrap, topic, 5)}
    assert by_key == {
        b"K1": b'{"a": [1, 2]}',
        b"K2": None,
        b"k3": b"null",
        b"k4": b"text",
        b"k5": b"v:1",
    }


def test_usage_callbacks_and_errbacks(bootstrap: str, topic: str) -> None:
    seen: list[Any] = []
    done = threading.Event()

    def on_send_success(record_metadata: RecordMetadata) -> None:
        seen.append((record_metadata.topic, record_metadata.partition, record_metadata.offset))
        done.set()

    def on_send_error(excp: BaseException) -> None:
        log.error("I am an errback", exc_info=excp)

    producer = KafkaProducer(bootstrap_servers=bootstrap, retries=5)
    future = producer.send(topic, b"raw_bytes")
    future.add_callback(on_send_success).add_errback(on_send_error)
    try:
        record_metadata = future.get(timeout=10)
    except KafkaError:
        log.exception("send failed")
        raise
    assert done.wait(10)
    assert seen == [(topic, record_metadata.partition, record_metadata.offset)]
    assert future.is_done and future.succeeded() and not future.failed()
    assert future.value == record_metadata and future.exception is None

    # Extra arguments are passed on before the value; a late callback runs at once.
    both: list[Any] = []
    future.add_both(lambda tag, v: both.append((tag, v.offset)), "late")
    assert both == [("late", record_metadata.offset)]
    producer.close()


def test_unknown_partition_raises_the_kafka_python_error(bootstrap: str, topic: str) -> None:
    with KafkaProducer(bootstrap_servers=bootstrap) as producer:
        producer.send(topic, b"first").get(timeout=30)  # the topic's metadata is known now
        with pytest.raises(Errors.UnknownTopicOrPartitionError) as info:
            producer.send(topic, b"x", partition=7)  # the topic has 3 partitions
    assert isinstance(info.value, Errors.BrokerResponseError)
    assert isinstance(info.value, RuntimeError) and info.value.retriable


def test_message_too_large_raises_from_send_itself(bootstrap: str, topic: str) -> None:
    with KafkaProducer(bootstrap_servers=bootstrap, max_request_size=1000) as producer:
        with pytest.raises(Errors.MessageSizeTooLargeError):
            producer.send(topic, b"x" * 2000)
        assert producer.send(topic, b"small").get(timeout=30).offset >= 0


def test_the_brokers_message_too_large_fails_the_future(bootstrap: str) -> None:
    """A record within max_request_size but over the topic's max.message.bytes is
    refused by the broker (MESSAGE_TOO_LARGE): its future fails with kafka-python's
    MessageSizeTooLargeError and the errbacks run; the producer goes on."""
    topic = create_topic(bootstrap, 1, config={"max.message.bytes": "10000"})
    failures: list[BaseException] = []
    with KafkaProducer(bootstrap_servers=bootstrap) as producer:
        future = producer.send(topic, os.urandom(20_000))  # random: compression cannot shrink it
        future.add_errback(failures.append)
        with pytest.raises(Errors.MessageSizeTooLargeError) as info:
            future.get(timeout=30)
        assert producer.send(topic, b"small").get(timeout=30).offset == 0
    assert not info.value.retriable
    assert failures == [info.value] and future.failed()
    assert [r.value for r in read_back(bootstrap, topic, 1)] == [b"small"]


def test_send_argument_checks(bootstrap: str, topic: str) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    with pytest.raises(AssertionError):
        producer.send(topic)  # neither key nor value
    producer.close()
    with pytest.raises(AssertionError):
        producer.send(topic, b"x")


def test_configuration_triage(bootstrap: str) -> None:
    with pytest.raises(Errors.KafkaConfigurationError, match="Unrecognized configs"):
        KafkaProducer(bootstrap_servers=bootstrap, no_such_option=1)
    with pytest.raises(Errors.KafkaConfigurationError, match="ssl_context"):
        KafkaProducer(bootstrap_servers=bootstrap, ssl_context=object())
    with pytest.raises(Errors.KafkaConfigurationError):
        KafkaProducer(bootstrap_servers=bootstrap, acks="most")
    with pytest.warns(IgnoredOptionWarning, match="api_version"):
        producer = KafkaProducer(bootstrap_servers=bootstrap, api_version=(2, 5, 0))
    assert producer._producer.config["acks"] == "1"  # kafka-python 2.x's default
    producer.close()


def test_secrets_are_masked_in_config_and_repr(kafka: Any) -> None:
    """kafka-python keeps ``sasl_plain_password`` in plaintext in ``.config``; the shim
    masks every secret there and in its repr, as the core does (issue 10, defect 10),
    and still authenticates with the real one."""
    secrets = {"sasl_plain_password": kafka.users["alice"], "ssl_password": "key-secret-42"}
    with KafkaProducer(
        bootstrap_servers=kafka.bootstrap("SASL_PLAINTEXT"),
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_plain_username="alice",
        **secrets,
    ) as producer:
        shown = f"{producer.config!r} {producer!r} {producer._producer.config!r}"
        for secret in secrets.values():
            assert secret not in shown
        assert producer.config["sasl_plain_password"] == "********"
        assert producer.config["ssl_password"] == "********"
        assert producer.config["sasl_plain_username"] == "alice"
        assert producer.bootstrap_connected()


def test_too_large_integers_name_the_option() -> None:
    """``batch_size=10**30`` was a bare OverflowError (issue 10, defect 10)."""
    with pytest.raises(Errors.KafkaConfigurationError, match="batch_size"):
        KafkaProducer(batch_size=10**30)
    with pytest.raises(Errors.KafkaConfigurationError, match="linger_ms"):
        KafkaProducer(linger_ms=2**40)


def test_partitions_for_metrics_bootstrap_connected(bootstrap: str, topic: str) -> None:
    with KafkaProducer(bootstrap_servers=bootstrap) as producer:
        assert producer.bootstrap_connected()
        assert producer.partitions_for(topic) == {0, 1, 2}
        assert isinstance(producer.metrics(), dict)


def test_custom_partitioner_callable(bootstrap: str, topic: str) -> None:
    calls: list[tuple[bytes | None, list[int]]] = []

    def last_partition(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        calls.append((key, all_partitions))
        return all_partitions[-1]

    with KafkaProducer(bootstrap_servers=bootstrap, partitioner=last_partition) as producer:
        meta = producer.send(topic, b"v", key=b"k").get(timeout=30)
    assert meta.partition == 2
    assert calls == [(b"k", [0, 1, 2])]


def test_readme_transactions(bootstrap: str, topic: str) -> None:
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, transactional_id=f"fizzbuzz-{uuid.uuid4().hex[:8]}"
    )
    producer.init_transactions()
    producer.begin_transaction()
    future = producer.send(topic, value=b"yes")
    future.get()  # wait for successful produce
    producer.commit_transaction()  # commit the transaction

    producer.begin_transaction()
    future = producer.send(topic, value=b"no")
    future.get()  # wait for successful produce
    producer.abort_transaction()  # abort the transaction

    # A transactional send outside a transaction is an IllegalStateError.
    with pytest.raises(Errors.IllegalStateError):
        producer.send(topic, value=b"outside")
    producer.close()
    # read_committed consumers see the commit only; the aborted record is in the log.
    assert [r.value for r in read_back(bootstrap, topic, 1)] == [b"yes"]
    in_log = read_back(bootstrap, topic, 2, isolation_level="read_uncommitted")
    assert sorted(r.value for r in in_log) == [b"no", b"yes"]


def test_send_offsets_to_transaction_accepts_kafka_python_shapes(
    bootstrap: str, topic: str
) -> None:
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, transactional_id=f"offsets-{uuid.uuid4().hex[:8]}"
    )
    producer.init_transactions()
    producer.begin_transaction()
    with pytest.raises(Errors.KafkaConfigurationError):
        producer.send_offsets_to_transaction({TopicPartition("t", 0): OffsetAndMetadata(5)}, 42)
    producer.abort_transaction()
    producer.begin_transaction()
    producer.send(topic, b"processed").get(timeout=30)
    # 2.x passes the group id; 3.x passes the consumer's group metadata
    group = f"group-{uuid.uuid4().hex[:8]}"
    producer.send_offsets_to_transaction({TopicPartition(topic, 0): OffsetAndMetadata(1)}, group)
    producer.commit_transaction()
    producer.close()
    assert committed_offsets(bootstrap, group, topic, 3) == {0: 1}


def test_core_errors_map_to_kafka_python_classes() -> None:
    exc = kafkify.KafkaTimeoutError("waited")
    out = Errors.from_kafkify(exc)
    assert type(out) is Errors.KafkaTimeoutError and out.retriable and out.__cause__ is exc
    assert Errors.for_code(10) is Errors.MessageSizeTooLargeError
    assert Errors.CorruptRecordException is Errors.CorruptRecordError
    assert str(Errors.KafkaTimeoutError("x")) == "KafkaTimeoutError: x"


def test_every_kafka_python_constructor_option_is_accepted(bootstrap: str, topic: str) -> None:
    # kafka-python 2.3's DEFAULT_CONFIG (plus 2.0's buffer_memory and 3.x's additions),
    # with their default values: a program passing any of them keeps working.
    defaults: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "client_id": None,
        "key_serializer": None,
        "value_serializer": None,
        "enable_idempotence": False,
        "transactional_id": None,
        "transaction_timeout_ms": 60000,
        "delivery_timeout_ms": 120000,
        "acks": 1,
        "bootstrap_topics_filter": set(),
        "compression_type": None,
        "retries": float("inf"),
        "batch_size": 16384,
        "linger_ms": 0,
        "partitioner": None,
        "connections_max_idle_ms": 540000,
        "max_block_ms": 60000,
        "max_request_size": 1048576,
        "allow_auto_create_topics": True,
        "metadata_max_age_ms": 300000,
        "retry_backoff_ms": 100,
        "request_timeout_ms": 30000,
        "receive_message_max_bytes": 100_000_000,
        "receive_buffer_bytes": None,
        "send_buffer_bytes": None,
        "socket_options": [(6, 1, 1)],
        "reconnect_backoff_ms": 50,
        "reconnect_backoff_max_ms": 30000,
        "max_in_flight_requests_per_connection": 5,
        "security_protocol": "PLAINTEXT",
        "ssl_context": None,
        "ssl_check_hostname": True,
        "ssl_cafile": None,
        "ssl_certfile": None,
        "ssl_keyfile": None,
        "ssl_crlfile": None,
        "ssl_password": None,
        "ssl_ciphers": None,
        "api_version": None,
        "api_version_auto_timeout_ms": 2000,
        "metric_reporters": [],
        "metrics_enabled": True,
        "metrics_num_samples": 2,
        "metrics_sample_window_ms": 30000,
        "selector": object,
        "sasl_mechanism": None,
        "sasl_plain_username": None,
        "sasl_plain_password": None,
        "sasl_kerberos_name": None,
        "sasl_kerberos_service_name": "kafka",
        "sasl_kerberos_domain_name": None,
        "sasl_oauth_token_provider": None,
        "socks5_proxy": None,
        "kafka_client": object,
        "buffer_memory": 33554432,
        "bootstrap_timeout_ms": 30000,
        "default_api_timeout_ms": 60000,
        "client_dns_lookup": "use_all_dns_ips",
        "socket_connection_setup_timeout_ms": 10000,
        "proxy_url": None,
        "net": object,
    }
    with pytest.warns(IgnoredOptionWarning):
        producer = KafkaProducer(**defaults)
    assert producer.send(topic, b"v").get(timeout=30).offset >= 0
    producer.close()


def test_undeliverable_record_fails_its_future_with_kafka_timeout_error(topic: str) -> None:
    producer = KafkaProducer(
        bootstrap_servers=f"127.0.0.1:{closed_port()}", delivery_timeout_ms=300
    )
    failures: list[tuple[str, BaseException]] = []
    future = producer.send(topic, b"x")
    future.add_errback(lambda tag, exc: failures.append((tag, exc)), "tag")  # args go first
    with pytest.raises(Errors.KafkaTimeoutError):
        future.get(timeout=30)
    assert future.failed() and future.retriable()
    ((tag, exc),) = failures
    assert tag == "tag" and isinstance(exc, Errors.KafkaTimeoutError) and exc is future.exception
    producer.close()


# --- kafka-python 3.x, side by side with the real library (issue 9) ---------------------

#: Names kafka-python 3.x exports at the top level that belong to a producer.
PRODUCER_TOP_LEVEL = [
    "KafkaProducer",
    "JsonSerializer",
    "DefaultSerializer",
    "Serializer",
    "Deserializer",
    "TopicPartition",
    "OffsetAndMetadata",
]


def test_top_level_exports_match_kafka_python() -> None:
    """``from kafkify.compat.kafka import KafkaProducer, JsonSerializer, ...`` works for
    every producer-side name kafka-python 3 exports at its top level (checked against
    ``dir(kafka)`` of the installed kafka-python, so the list cannot drift)."""
    import kafkify.compat.kafka as shim

    for name in PRODUCER_TOP_LEVEL:
        assert name in dir(kafka_python), f"kafka-python no longer exports {name}"
        assert name in shim.__all__ and getattr(shim, name).__name__ == name


def _outcome(call: Any) -> tuple[str, Any]:
    """("ok", result) or ("raises", exception class name) of ``call()``."""
    try:
        result = call()
    except Exception as e:
        return ("raises", type(e).__name__)
    return ("ok", bytes(result) if isinstance(result, memoryview) else result)


SERIALIZER_CASES: list[tuple[str, tuple[Any, ...], str, Any]] = [
    # (class, constructor args, method, data)
    *[
        ("DefaultSerializer", args, "serialize", data)
        for args in [(), ("utf-16",), ("latin-1",)]
        for data in ["h\u00e9llo", "", b"raw", bytearray(b"raw"), memoryview(b"raw"), None, 42]
    ],
    *[
        ("DefaultSerializer", args, "deserialize", data)
        for args in [(), ("utf-16",)]
        for data in ["h\u00e9llo".encode("utf-16"), b"plain", None]
    ],
    *[
        ("JsonSerializer", args, "serialize", data)
        for args in [(), ("utf-16",)]
        for data in [{"a": [1, 2], "\u00e9": None}, "s", 3, None, b"bytes", {1, 2}]
    ],
    *[
        ("JsonSerializer", (), "deserialize", data)
        for data in [b'{"a": 1}', b"null", b"[1, 2]", None, b"not json"]
    ],
]


@pytest.mark.parametrize(("cls", "args", "method", "data"), SERIALIZER_CASES)
def test_serializers_behave_like_kafka_pythons(
    cls: str, args: tuple[Any, ...], method: str, data: Any
) -> None:
    """``DefaultSerializer`` (an encoding, passes bytes-likes through, ``AttributeError``
    for non-str values) and ``JsonSerializer`` (``TypeError`` for bytes) give the same
    result, or raise the same exception class, as kafka-python's classes for the same
    call ``method(topic, headers, data)``."""
    real = kafka_python_serializer
    from kafkify.compat.kafka import serializer as ours

    def call(module: Any) -> tuple[str, Any]:
        instance = getattr(module, cls)(*args)
        return _outcome(lambda: getattr(instance, method)("topic", [], data))

    assert call(ours) == call(real)


def test_serializer_class_relations_match_kafka_pythons() -> None:
    """Both serializers are Serializers *and* Deserializers in kafka-python 3; the
    abstract bases keep the 3.x method signatures."""
    import inspect

    real = kafka_python_serializer
    from kafkify.compat.kafka import serializer as ours

    for module in (real, ours):
        for name in ("DefaultSerializer", "JsonSerializer"):
            instance = getattr(module, name)()
            assert isinstance(instance, module.Serializer)
            assert isinstance(instance, module.Deserializer)
        assert issubclass(module.JsonSerializer, module.DefaultSerializer)
        assert module.DefaultSerializer().encoding == "utf-8"
    for base, method in (("Serializer", "serialize"), ("Deserializer", "deserialize")):
        real_params = list(inspect.signature(getattr(getattr(real, base), method)).parameters)
        our_params = list(inspect.signature(getattr(getattr(ours, base), method)).parameters)
        assert our_params == real_params


def test_max_usable_produce_magic_and_api_version_like_kafka_python(bootstrap: str) -> None:
    """``KafkaProducer.max_usable_produce_magic`` is kafka-python's classmethod (same
    answer per broker version), and ``config['api_version']`` is a version tuple: the
    one given (the old ``"x.y.z"`` string form converted, as kafka-python does) or,
    without one, ``ASSUMED_API_VERSION`` (kafka-python asks the broker; see
    docs/migrating.md) — magic 2 either way, as kafka-python gets from our broker."""
    from kafkify.compat.kafka.producer import ASSUMED_API_VERSION

    for version in [(0, 8, 2), (0, 9), (0, 10), (0, 10, 0), (0, 10, 2), (0, 11), (2, 5), (4, 1)]:
        assert KafkaProducer.max_usable_produce_magic(version) == (
            kafka_python.KafkaProducer.max_usable_produce_magic(version)
        )
    # kafka-python also rounds a version missing from its table down to one in it
    # ((2, 6, 0) -> (2, 6)); the shim keeps it as given.
    for given in [(2, 6), "2.6", (4, 1)]:
        real = kafka_python.KafkaProducer(bootstrap_servers=bootstrap, api_version=given)
        with pytest.warns(IgnoredOptionWarning, match="api_version"):
            ours = KafkaProducer(bootstrap_servers=bootstrap, api_version=given)
        assert ours.config["api_version"] == real.config["api_version"]
        real.close()
        ours.close()
    real = kafka_python.KafkaProducer(bootstrap_servers=bootstrap)
    ours = KafkaProducer(bootstrap_servers=bootstrap)
    assert isinstance(real.config["api_version"], tuple)
    assert ours.config["api_version"] == ASSUMED_API_VERSION
    for p in (real, ours):
        assert p.max_usable_produce_magic(p.config["api_version"]) == 2
        p.close()


#: (send arguments) whose RecordMetadata is compared field by field; sent to partition 0.
METADATA_CASES: list[dict[str, Any]] = [
    {"value": b"Simple value", "key": b"Simple key", "headers": [("Header Key", b"Header Value")]},
    {
        "value": b"v",
        "key": b"kk",
        "headers": [("h", b"12"), ("\u00e9", b"")],
        "timestamp_ms": 12345,
    },
    {"value": b"only a value"},
    {"key": b"only a key"},
    {"value": b"", "key": b"", "headers": []},
    {"value": b"x" * 1000, "timestamp_ms": 9999999},
]


@pytest.mark.parametrize("timestamp_type", ["CreateTime", "LogAppendTime"])
def test_record_metadata_matches_kafka_python_field_by_field(
    bootstrap: str, timestamp_type: str
) -> None:
    """The same records sent by kafka-python and by the shim to the same broker give
    the same RecordMetadata fields (checksum None for v2 records; serialized key,
    value and header sizes, -1 where kafka-python says -1; the given timestamp), and
    each client's ``timestamp`` is the one the broker stored (the send time or the
    given one for CreateTime, the broker's for LogAppendTime). Offsets and partitions
    differ naturally (one topic per client)."""
    results: dict[str, list[Any]] = {}
    for name, cls in (("kafka-python", kafka_python.KafkaProducer), ("shim", KafkaProducer)):
        t = create_topic(
            bootstrap, 1, prefix="meta", config={"message.timestamp.type": timestamp_type}
        )
        producer = cls(bootstrap_servers=bootstrap)
        metas = [producer.send(t, partition=0, **case).get(timeout=30) for case in METADATA_CASES]
        producer.close()
        stored = {r.offset: r.timestamp for r in read_back(bootstrap, t, len(METADATA_CASES))}
        for meta in metas:
            assert meta.topic == t and meta.partition == 0
            assert meta.topic_partition == (t, 0)
            assert meta.timestamp == stored[meta.offset], (name, meta)
        results[name] = [
            (
                m.checksum,
                m.serialized_key_size,
                m.serialized_value_size,
                m.serialized_header_size,
                m.timestamp if timestamp_type == "CreateTime" and "timestamp_ms" in c else None,
            )
            for m, c in zip(metas, METADATA_CASES, strict=True)
        ]
    assert results["shim"] == results["kafka-python"]


def test_send_errors_match_kafka_python(bootstrap: str, topic: str) -> None:
    """A transactional producer's ``send()`` outside a transaction raises
    ``IllegalStateError`` (the shim's ``errors`` class, as kafka-python raises its
    own); a send on a closed producer is an ``IllegalStateError`` and a send with
    neither key nor value a ``ValueError``, as in kafka-python 3 — and both are still
    the ``AssertionError`` kafka-python 2 raised. Checked with both libraries."""
    for mod, errors in ((kafka_python, kafka_python_errors), (None, Errors)):
        cls = mod.KafkaProducer if mod else KafkaProducer
        txn = cls(bootstrap_servers=bootstrap, transactional_id=f"out-{uuid.uuid4().hex[:8]}")
        txn.init_transactions()
        with pytest.raises(errors.IllegalStateError):
            txn.send(topic, b"outside a transaction")
        txn.close()
        plain = cls(bootstrap_servers=bootstrap)
        with pytest.raises(ValueError):
            plain.send(topic)
        plain.close()
        with pytest.raises(errors.IllegalStateError):
            plain.send(topic, b"closed")
    ours = KafkaProducer(bootstrap_servers=bootstrap)
    with pytest.raises(AssertionError):
        ours.send(topic)
    ours.close()
    with pytest.raises(AssertionError):
        ours.send(topic, b"closed")
    assert read_back(bootstrap, topic, 0, timeout=5) == []


def test_headers_a_serializer_adds_are_sent_as_with_kafka_python(bootstrap: str) -> None:
    """kafka-python 3 hands its serializers the record's headers list (``[]`` when the
    send has none) and sends what they add to it; the shim does the same. Checked by
    sending through both and reading the headers back."""

    def tagging(base: type) -> Any:
        """A subclass of ``base`` (kafka-python 3 wraps any serializer that is not a
        ``kafka.serializer.Serializer`` as a plain callable)."""

        class Tagging(base):  # type: ignore[misc,valid-type]
            def serialize(self, topic: str, headers: Any, data: Any) -> bytes:
                headers.append(("content-type", b"text/plain"))
                return str(data).encode()

        return Tagging()

    got: dict[str, list[Any]] = {}
    for name, cls, base in (
        ("kafka-python", kafka_python.KafkaProducer, kafka_python_serializer.Serializer),
        ("shim", KafkaProducer, Serializer),
    ):
        t = create_topic(bootstrap, 1, prefix="hdr")
        with cls(bootstrap_servers=bootstrap, value_serializer=tagging(base)) as producer:
            producer.send(t, "no headers").get(timeout=30)
            producer.send(t, "one header", headers=[("a", b"1")]).get(timeout=30)
        got[name] = [(r.value, r.headers) for r in read_back(bootstrap, t, 2)]
    assert got["shim"] == got["kafka-python"]
    assert got["shim"][0] == (b"no headers", [("content-type", b"text/plain")])
