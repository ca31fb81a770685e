"""kafkify.compat.aiokafka: aiokafka's README and docs programs with only the import
changed, run against the broker and read back byte for byte."""

from __future__ import annotations

import asyncio
import json
import os
import random
import uuid
from typing import Any

import pytest

from kafkify.compat.aiokafka import AIOKafkaProducer, IgnoredOptionWarning
from kafkify.compat.aiokafka.errors import (
    IllegalOperation,
    KafkaConfigurationError,
    KafkaConnectionError,
    MessageSizeTooLargeError,
    ProducerClosed,
    UnknownTopicOrPartitionError,
)
from kafkify.compat.aiokafka.producer import AIOKafkaProducer as FromProducerModule
from kafkify.compat.aiokafka.structs import RecordMetadata, TopicPartition

from helpers import closed_port, committed_offsets, create_topic, read_back


def test_readme_send_one(bootstrap: str, topic: str) -> None:
    async def send_one() -> RecordMetadata:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        # Get cluster layout and initial topic/partition leadership information
        await producer.start()
        try:
            # Produce message
            return await producer.send_and_wait(topic, b"Super message")
        finally:
            # Wait for all pending messages to be delivered or expire.
            await producer.stop()

    meta = asyncio.run(send_one())
    assert meta.topic == topic and meta.offset >= 0
    assert meta.topic_partition == TopicPartition(topic, meta.partition)
    (record,) = read_back(bootstrap, topic, 1)
    assert (record.value, record.partition, record.offset) == (
        b"Super message",
        meta.partition,
        meta.offset,
    )


def test_two_awaits_keys_headers_and_json_serializer(bootstrap: str, topic: str) -> None:
    def serializer(value: object) -> bytes:
        return json.dumps(value).encode()

    async def main() -> list[RecordMetadata]:
        async with AIOKafkaProducer(
            bootstrap_servers=bootstrap, value_serializer=serializer, compression_type="gzip"
        ) as producer:
            futures = [
                await producer.send(topic, {"a": 123.4, "b": "some string"}),
                await producer.send(topic, [1, 2, 3, 4], key=b"k", partition=1),
                await producer.send(topic, "h", headers=[("trace", b"abc")], timestamp_ms=1234),
            ]
            await producer.flush()
            assert all(f.done() for f in futures)
            return [await f for f in futures]

    metas = asyncio.run(main())
    assert metas[1].partition == 1 and metas[2].timestamp == 1234
    by_value = {r.value: r for r in read_back(bootstrap, topic, 3)}
    assert json.loads(b'{"a": 123.4, "b": "some string"}') == {"a": 123.4, "b": "some string"}
    assert set(by_value) == {b'{"a": 123.4, "b": "some string"}', b"[1, 2, 3, 4]", b'"h"'}
    assert by_value[b"[1, 2, 3, 4]"].key == b"k"
    assert by_value[b'"h"'].headers == [("trace", b"abc")]
    assert by_value[b'"h"'].timestamp == 1234


def test_docs_batch_example(bootstrap: str, topic: str) -> None:
    sent: list[tuple[int, int]] = []

    async def send_many(num: int) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_batch_size=500)
        await producer.start()
        batch = producer.create_batch()
        futures = []
        i = 0
        while i < num:
            msg = f"Test message {i}".encode()
            metadata = batch.append(key=None, value=msg, timestamp=None)
            if metadata is None:
                partitions = await producer.partitions_for(topic)
                partition = random.choice(tuple(partitions))
                futures.append(await producer.send_batch(batch, topic, partition=partition))
                sent.append((batch.record_count(), partition))
                batch = producer.create_batch()
                continue
            i += 1
        partitions = await producer.partitions_for(topic)
        partition = random.choice(tuple(partitions))
        futures.append(await producer.send_batch(batch, topic, partition=partition))
        sent.append((batch.record_count(), partition))
        metas = await asyncio.gather(*futures)
        assert [m.partition for m in metas] == [p for _, p in sent]
        await producer.stop()

    asyncio.run(send_many(100))
    assert len(sent) > 1 and sum(n for n, _ in sent) == 100  # batches filled up
    records = read_back(bootstrap, topic, 100)
    assert sorted(r.value for r in records) == sorted(b"Test message %d" % i for i in range(100))


def test_batch_with_per_record_headers(bootstrap: str, topic: str) -> None:
    async def main() -> RecordMetadata:
        async with AIOKafkaProducer(bootstrap_servers=bootstrap) as producer:
            batch = producer.create_batch()
            assert batch.append(key=b"a", value=b"1", timestamp=None, headers=[("h", b"x")])
            assert batch.append(key=b"b", value=b"2", timestamp=555)
            return await (await producer.send_batch(batch, topic, partition=2))

    meta = asyncio.run(main())
    assert meta.partition == 2
    records = {r.key: r for r in read_back(bootstrap, topic, 2)}
    assert records[b"a"].headers == [("h", b"x")] and records[b"b"].timestamp == 555


def test_docs_transaction_example(bootstrap: str, topic: str) -> None:
    async def main() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, transactional_id=f"transactional-{uuid.uuid4().hex[:8]}"
        )
        await producer.start()
        try:
            async with producer.transaction():
                await producer.send_and_wait(topic, b"Super transactional message")
            with pytest.raises(ValueError):
                async with producer.transaction():
                    await producer.send(topic, b"aborted")
                    raise ValueError()
            await producer.begin_transaction()
            await producer.send(topic, b"explicit")
            await producer.send_offsets_to_transaction({TopicPartition(topic, 0): 1}, group)
            await producer.commit_transaction()
        finally:
            await producer.stop()

    group = f"group-{uuid.uuid4().hex[:8]}"
    asyncio.run(main())
    # read_committed: the two committed records, nothing of the aborted block
    values = sorted(r.value for r in read_back(bootstrap, topic, 2))
    assert values == [b"Super transactional message", b"explicit"]
    assert committed_offsets(bootstrap, group, topic, 3) == {0: 1}


def test_transactions_need_a_transactional_id(bootstrap: str) -> None:
    async def main() -> None:
        async with AIOKafkaProducer(bootstrap_servers=bootstrap) as producer:
            with pytest.raises(IllegalOperation):
                await producer.begin_transaction()

    asyncio.run(main())


def test_errors(bootstrap: str, topic: str) -> None:
    async def main() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=1000)
        await producer.start()
        with pytest.raises(MessageSizeTooLargeError):
            await producer.send(topic, b"x" * 5000)
        with pytest.raises(UnknownTopicOrPartitionError):
            await producer.send_and_wait(topic, b"x", partition=9)
        await producer.stop()
        with pytest.raises(ProducerClosed):
            await producer.send(topic, b"x")

    asyncio.run(main())


def test_the_brokers_message_too_large_raises_from_send_and_wait(bootstrap: str) -> None:
    """A record within max_request_size but over the topic's max.message.bytes is
    refused by the broker (MESSAGE_TOO_LARGE): ``send_and_wait`` raises aiokafka's
    MessageSizeTooLargeError, and the future from ``send`` fails with it."""
    topic = create_topic(bootstrap, 1, config={"max.message.bytes": "10000"})

    async def main() -> None:
        async with AIOKafkaProducer(bootstrap_servers=bootstrap) as producer:
            with pytest.raises(MessageSizeTooLargeError):
                await producer.send_and_wait(topic, os.urandom(20_000))  # incompressible
            future = await producer.send(topic, os.urandom(20_000))
            with pytest.raises(MessageSizeTooLargeError):
                await future
            assert (await producer.send_and_wait(topic, b"small")).offset == 0

    asyncio.run(main())
    assert [r.value for r in read_back(bootstrap, topic, 1)] == [b"small"]


def test_start_without_a_broker_is_a_connection_error() -> None:
    async def main() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=f"127.0.0.1:{closed_port()}", request_timeout_ms=1000
        )
        with pytest.raises(KafkaConnectionError):
            await producer.start()
        await producer.stop()

    asyncio.run(main())


def test_configuration_triage(bootstrap: str) -> None:
    with pytest.raises(KafkaConfigurationError, match="Unrecognized configs"):
        AIOKafkaProducer(bootstrap_servers=bootstrap, bogus=1)
    with pytest.raises(KafkaConfigurationError, match="ssl_context"):
        AIOKafkaProducer(bootstrap_servers=bootstrap, ssl_context=object())
    with pytest.raises(ValueError, match="acks"):
        AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks=1)
    with pytest.warns(IgnoredOptionWarning, match="api_version"):
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, api_version="2.5")
    assert producer._producer.config["acks"] == "1"  # aiokafka's default
    asyncio.run(producer.stop())  # never started: stop() closes (else ResourceWarning)
    assert FromProducerModule is AIOKafkaProducer


def test_every_aiokafka_constructor_option_is_accepted(bootstrap: str, topic: str) -> None:
    # aiokafka 0.14's AIOKafkaProducer keywords with their default values.
    defaults: dict[str, Any] = {
        "loop": None,
        "bootstrap_servers": bootstrap,
        "client_id": None,
        "metadata_max_age_ms": 300000,
        "request_timeout_ms": 40000,
        "api_version": "auto",
        "key_serializer": None,
        "value_serializer": None,
        "compression_type": None,
        "max_batch_size": 16384,
        "partitioner": None,
        "max_request_size": 1048576,
        "linger_ms": 0,
        "retry_backoff_ms": 100,
        "security_protocol": "PLAINTEXT",
        "ssl_context": None,
        "connections_max_idle_ms": 540000,
        "enable_idempotence": False,
        "transactional_id": None,
        "transaction_timeout_ms": 60000,
        "sasl_mechanism": "PLAIN",
        "sasl_plain_password": None,
        "sasl_plain_username": None,
        "sasl_kerberos_service_name": "kafka",
        "sasl_kerberos_domain_name": None,
        "sasl_oauth_token_provider": None,
    }

    async def main() -> RecordMetadata:
        with pytest.warns(IgnoredOptionWarning):
            producer = AIOKafkaProducer(**defaults)
        async with producer:
            return await producer.send_and_wait(topic, b"v")

    assert asyncio.run(main()).offset >= 0
