"""Bad input gets a typed exception that names the problem, before anything is queued."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time

import pytest

import kafkify

from helpers import closed_port, create_topic, read_back


def test_misspelt_option_suggests_the_right_name() -> None:
    with pytest.raises(kafkify.ConfigError, match=r'"linger_mss".*did you mean "linger_ms"'):
        kafkify.Producer(bootstrap_servers="127.0.0.1:1", linger_mss=5)
    with pytest.raises(ValueError, match=r"did you mean \"queue.buffering.max.kbytes\""):
        kafkify.Producer(bootstrap_servers="127.0.0.1:1", config={"queue.bufering.max.kbytes": 1})


def test_bad_values_name_the_key_and_value() -> None:
    with pytest.raises(kafkify.ConfigError, match=r"'acks'.*\"most\""):
        kafkify.Producer(bootstrap_servers="127.0.0.1:1", acks="most")
    with pytest.raises(kafkify.ConfigError, match=r"'compression_type'.*\"brotli\""):
        kafkify.Producer(bootstrap_servers="127.0.0.1:1", compression_type="brotli")
    # librdkafka's own validation also surfaces as ConfigError, naming the property
    with pytest.raises(kafkify.ConfigError, match=r"'linger.ms'"):
        kafkify.Producer(bootstrap_servers="127.0.0.1:1", config={"linger.ms": "soon"})


def test_kafka_python_names_and_defaults_translate() -> None:
    p = kafkify.Producer(
        bootstrap_servers=["127.0.0.1:1", "127.0.0.1:2"],
        client_id="svc",
        retries=float("inf"),
        buffer_memory=32 * 1024 * 1024,
        max_in_flight_requests_per_connection=5,
        config={"queue.buffering.max.kbytes": 65536},
    )
    assert p.config["bootstrap.servers"] == "127.0.0.1:1,127.0.0.1:2"
    assert p.config["client.id"] == "svc"
    assert p.config["acks"] == "all"
    assert p.config["enable.idempotence"] == "true"
    assert p.config["compression.type"] == "lz4"
    assert p.config["linger.ms"] == "5"
    assert p.config["queue.buffering.max.kbytes"] == "65536"  # raw config wins
    p.close()
    q = kafkify.Producer.from_config(
        {"bootstrap.servers": "127.0.0.1:1", "linger_ms": 0, "acks": 1, "value_serializer": "bytes"}
    )
    assert (q.config["linger.ms"], q.config["acks"]) == ("0", "1")
    assert q.config["enable.idempotence"] == "false"  # acks=1 turns the default off
    q.close()
    with pytest.raises(kafkify.ConfigError, match="idempotence"):
        kafkify.Producer(bootstrap_servers="127.0.0.1:1", acks=1, enable_idempotence=True)


def test_secrets_stay_out_of_repr_config_and_logs(
    bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kafkify")
    secret = "hunter2-very-secret"
    p = kafkify.Producer(
        bootstrap_servers=bootstrap,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_plain_username="alice",
        sasl_plain_password=secret,
        config={"debug": "conf,security,broker"},
    )
    # The PLAINTEXT listener refuses the SASL handshake: the record fails at once
    # (src/refusal.rs), and the attempt, config dump included, is logged.
    with pytest.raises(kafkify.AuthenticationError) as refused:
        p.send("secret-test", {"x": 1}, timeout=30)
    with contextlib.suppress(kafkify.KafkaTimeoutError):
        p.close(timeout=0.5)
    text = repr(p) + str(p) + repr(p.config) + caplog.text + str(refused.value)
    assert "alice" in p.config["sasl.username"]
    assert p.config["sasl.password"] == "********"
    assert len(caplog.records) > 0
    assert secret not in text
    with pytest.raises(kafkify.ConfigError) as info:
        kafkify.Producer(bootstrap_servers=bootstrap, sasl_plain_password=123456789)
    assert "123456789" not in str(info.value)


def test_non_serializable_value_names_the_path(bootstrap: str) -> None:
    with kafkify.Producer(bootstrap_servers=bootstrap) as p:
        with pytest.raises(kafkify.SerializationError) as info:
            p.send("t", {"items": [1, 2, 3, {"price": {1, 2}}]})
        assert str(info.value) == (
            "value['items'][3]['price']: Object of type set is not JSON serializable"
        )
        assert isinstance(info.value, TypeError)
        with pytest.raises(kafkify.SerializationError, match='value_serializer="bytes"'):
            p.send("t", b"raw bytes")
        with pytest.raises(kafkify.SerializationError, match=r"value\['x'\]: Out of range float"):
            p.produce("t", {"x": float("nan")})
        with pytest.raises(kafkify.SerializationError, match=r"key: expected str or bytes"):
            p.send("t", {"x": 1}, key=12)
        with pytest.raises(kafkify.SerializationError, match=r"headers\[\"h\"\]"):
            p.send("t", {"x": 1}, headers={"h": 3})
        assert len(p) == 0  # nothing was queued


def test_invalid_topics_raise_before_anything_is_queued(bootstrap: str) -> None:
    with kafkify.Producer(bootstrap_servers=bootstrap) as p:
        for bad in ["", "has space", "x" * 250, "..", "ümlaut"]:
            with pytest.raises(kafkify.InvalidTopicError, match="invalid topic name"):
                p.send(bad, {"x": 1})
        with pytest.raises(ValueError):
            p.produce("", {"x": 1})
        with pytest.raises(TypeError):
            p.send(None, {"x": 1})  # type: ignore[arg-type]
        assert len(p) == 0


def test_oversized_record_raises_message_size_too_large(bootstrap: str) -> None:
    with kafkify.Producer(bootstrap_servers=bootstrap, max_request_size=10_000) as p:
        with pytest.raises(kafkify.MessageSizeTooLargeError, match="max_request_size"):
            p.send("big", "x" * 20_000)
        with pytest.raises(kafkify.MessageSizeTooLargeError):
            p.produce("big", "x" * 20_000)


def test_the_brokers_message_too_large_is_a_message_size_too_large_error(
    bootstrap: str,
) -> None:
    """A record within the client's limit (message.max.bytes, 1 MB by default) but
    over the topic's ``max.message.bytes`` passes the client-side check and is
    refused by the broker itself (MESSAGE_TOO_LARGE): ``send()``, ``send_async()``,
    a ``produce()`` callback and ``send_batch`` each get MessageSizeTooLargeError,
    not retriable, not fatal; the producer goes on."""
    topic = create_topic(bootstrap, 1, config={"max.message.bytes": "10000"})
    big = os.urandom(20_000)  # random bytes: compression cannot bring it under the limit
    reported: list[kafkify.KafkaError | None] = []
    done = threading.Event()
    with kafkify.Producer(bootstrap_servers=bootstrap, value_serializer="bytes") as p:
        with pytest.raises(kafkify.MessageSizeTooLargeError) as sent:
            p.send(topic, big)

        async def main() -> None:
            with pytest.raises(kafkify.MessageSizeTooLargeError):
                await p.send_async(topic, big)

        asyncio.run(main())
        p.produce(topic, big, on_delivery=lambda err, _meta: (reported.append(err), done.set()))
        assert done.wait(30)
        # Alone: the limit is on the record batch, so records batched with it would
        # be refused with it.
        results = p.send_batch(topic, [big])
        p.send(topic, b"after")
    err = sent.value
    assert (err.code, err.name) == (10, "MessageSizeTooLarge")
    assert not err.retriable and not err.fatal
    assert "Broker: Message size too large" in str(err)
    assert isinstance(reported[0], kafkify.MessageSizeTooLargeError)
    assert isinstance(results[0], kafkify.MessageSizeTooLargeError)
    assert [r.value for r in read_back(bootstrap, topic, 1)] == [b"after"]


def test_closed_producer_raises_producer_closed_error(bootstrap: str) -> None:
    p = kafkify.Producer(bootstrap_servers=bootstrap)
    p.close()
    p.close()  # idempotent
    assert p.closed
    for call in (
        lambda: p.send("t", {"x": 1}),
        lambda: p.produce("t", {"x": 1}),
        lambda: p.flush(),
        lambda: p.partitions_for("t"),
    ):
        with pytest.raises(kafkify.ProducerClosedError):
            call()

    async def main() -> None:
        with pytest.raises(kafkify.ProducerClosedError):
            await p.send_async("t", {"x": 1})

    asyncio.run(main())


def test_full_queue_raises_queue_full_error_and_loses_nothing(bootstrap: str) -> None:
    topic = create_topic(bootstrap, 1)
    p = kafkify.Producer(
        bootstrap_servers=bootstrap,
        linger_ms=60_000,
        max_block_ms=200,
        config={"queue.buffering.max.messages": 10},
    )
    for i in range(10):
        p.produce(topic, {"i": i})
    started = time.monotonic()
    with pytest.raises(kafkify.QueueFullError) as info:
        p.produce(topic, {"i": 10})
    assert time.monotonic() - started >= 0.2  # it waited max_block_ms for room
    assert isinstance(info.value, BufferError) and info.value.retriable

    p.close()  # the 10 queued records are delivered
    values = sorted(r.value for r in read_back(bootstrap, topic, expected=10))
    assert len(values) == 10


def test_full_queue_fails_an_awaited_send_with_queue_full_error() -> None:
    # No broker: an awaited send expedites the queue (src/expedite.rs), so with one
    # the ten queued records would leave and make room; here the queue stays full.
    p = kafkify.Producer(
        bootstrap_servers=f"127.0.0.1:{closed_port()}",
        linger_ms=60_000,
        max_block_ms=200,
        config={"queue.buffering.max.messages": 10},
    )
    failed: list[object] = []
    for i in range(10):
        p.produce("t", {"i": i}, on_delivery=lambda err, meta: failed.append(err))

    async def main() -> None:
        with pytest.raises(kafkify.QueueFullError) as info:
            await p.send_async("t", {"i": 10})
        assert isinstance(info.value, BufferError) and info.value.retriable

    asyncio.run(main())
    with pytest.raises(kafkify.KafkaTimeoutError):
        p.close(timeout=0)  # nothing is lost silently: the ten are reported failed
    assert len(failed) == 10 and all(err is not None for err in failed)


def test_dead_broker_times_out_and_start_says_no_brokers() -> None:
    p = kafkify.Producer(bootstrap_servers=f"127.0.0.1:{closed_port()}")
    with pytest.raises(kafkify.KafkaTimeoutError, match="may still be delivered"):
        p.send("t", {"x": 1}, timeout=0.5)

    async def main() -> None:
        with pytest.raises(kafkify.NoBrokersAvailable):
            await p.start(timeout=0.5)

    asyncio.run(main())
    with pytest.raises(kafkify.KafkaTimeoutError, match="undelivered"):
        p.close(timeout=0.2)  # the record is purged and reported, not dropped silently
    assert p.closed


def test_error_attributes() -> None:
    err = None
    try:
        kafkify.Producer(bootstrap_servers="127.0.0.1:1", acks="most")
    except kafkify.KafkaError as e:
        err = e
    assert err is not None
    assert err.retriable is False and err.fatal is False
    assert issubclass(kafkify.KafkaTimeoutError, TimeoutError)
    assert issubclass(kafkify.QueueFullError, BufferError)
    assert issubclass(kafkify.ConfigError, ValueError)
    assert issubclass(kafkify.SerializationError, TypeError)
    assert kafkify.errors.KafkaError is kafkify.KafkaError


def test_every_exception_class_the_core_names_exists() -> None:
    """The core picks its exception classes by name (src/errors.rs): each must exist
    in kafkify.errors, be a KafkaError, and be exported from kafkify."""
    from kafkify import _kafkify, errors

    names = _kafkify._error_class_names()
    assert "KafkaError" in names and "ProducerClosedError" in names
    for name in names:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.KafkaError), name
        assert getattr(kafkify, name) is cls, name
