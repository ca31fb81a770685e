"""send_batch / send_batch_async: one call, many records, one wait, results in order."""

from __future__ import annotations

import asyncio
import gc
import json

import pytest

import kafkify

from helpers import create_topic, read_back


def test_send_batch_returns_metadata_in_input_order(bootstrap: str, topic: str) -> None:
    values = [{"i": i} for i in range(1000)]
    keys = [f"user-{i % 13}" for i in range(1000)]
    with kafkify.Producer(bootstrap_servers=bootstrap) as producer:
        metas = producer.send_batch(topic, values, keys, headers={"batch": b"1"})
    assert all(isinstance(m, kafkify.RecordMetadata) for m in metas)
    records = read_back(bootstrap, topic, expected=1000)
    held = {(r.partition, r.offset): (r.key, json.loads(r.value), r.headers) for r in records}
    for i, m in enumerate(metas):
        assert isinstance(m, kafkify.RecordMetadata)
        assert held[(m.partition, m.offset)] == (keys[i].encode(), values[i], [("batch", b"1")])
    # They hold no Python references, so the cyclic GC does not track (or traverse) them.
    assert not any(gc.is_tracked(m) for m in metas)
    assert {m.topic for m in metas} == {topic}


def test_a_bad_value_raises_before_anything_is_queued(bootstrap: str) -> None:
    topic = create_topic(bootstrap, 1)
    with kafkify.Producer(bootstrap_servers=bootstrap) as producer:
        with pytest.raises(kafkify.SerializationError, match=r"values\[7\]: value\['x'\]"):
            producer.send_batch(topic, [{"x": i} for i in range(7)] + [{"x": {1}}])
        with pytest.raises(kafkify.ConfigError, match="2 keys for 3 values"):
            producer.send_batch(topic, [1, 2, 3], keys=["a", "b"])
        assert producer.send_batch(topic, []) == []
        producer.send(topic, "sentinel")
    assert [r.value for r in read_back(bootstrap, topic, expected=1)] == [b'"sentinel"']


def test_a_bytes_batch_sends_each_buffer_as_it_is(bootstrap: str) -> None:
    # Bytes and str encoders are run twice (check every record, then send), rather
    # than keeping every encoded record: the second pass must send the same bytes.
    topic = create_topic(bootstrap, 1)
    strided = memoryview(b"a-b-c-d")[::2]  # not contiguous: gathered by bytes()
    values = [b"plain", bytearray(b"mutable"), memoryview(b"view"), strided, None, b"x" * 50_000]
    keys = [b"k0", "k1", bytearray(b"k2"), None, "k4", memoryview(b"k5")]
    with kafkify.Producer(
        bootstrap_servers=bootstrap, value_serializer="bytes", max_request_size=20_000
    ) as producer:
        results = producer.send_batch(topic, values, keys)
        with pytest.raises(kafkify.SerializationError, match=r"values\[2\]: value: expected bytes"):
            producer.send_batch(topic, [b"a", b"b", "not bytes", b"d"])
        assert producer.metrics()["kafkify"]["in_flight"] == 0
    assert isinstance(results[5], kafkify.MessageSizeTooLargeError)
    assert [m.offset for m in results[:5]] == [0, 1, 2, 3, 4]
    assert [m.serialized_value_size for m in results[:5]] == [5, 7, 4, 4, -1]
    got = [(r.key, r.value) for r in read_back(bootstrap, topic, expected=5)]
    assert got == [
        (b"k0", b"plain"),
        (b"k1", b"mutable"),
        (b"k2", b"view"),
        (None, b"abcd"),
        (b"k4", None),
    ]


def test_a_failed_record_gets_its_error_in_place(bootstrap: str) -> None:
    topic = create_topic(bootstrap, 1)
    values = ["small", "x" * 20_000, "also small"]
    with kafkify.Producer(bootstrap_servers=bootstrap, max_request_size=10_000) as producer:
        results = producer.send_batch(topic, values)
        assert isinstance(results[0], kafkify.RecordMetadata)
        assert isinstance(results[1], kafkify.MessageSizeTooLargeError)
        assert isinstance(results[2], kafkify.RecordMetadata)
        with pytest.raises(kafkify.MessageSizeTooLargeError):
            producer.send_batch(topic, values, raise_on_error=True)
    got = [r.value for r in read_back(bootstrap, topic, expected=4)]
    assert got == [b'"small"', b'"also small"'] * 2


def test_send_batch_async(bootstrap: str, topic: str) -> None:
    producer = kafkify.Producer(bootstrap_servers=bootstrap)

    async def main() -> None:
        first, second = await asyncio.gather(
            producer.send_batch_async(topic, [{"b": 0, "i": i} for i in range(3000)]),
            producer.send_batch_async(topic, [{"b": 1, "i": i} for i in range(2000)]),
        )
        assert len(first) == 3000 and len(second) == 2000
        assert await producer.send_batch_async(topic, []) == []
        with pytest.raises(kafkify.UnknownTopicOrPartitionError):
            await producer.send_batch_async(topic, [1, 2], partition=9, raise_on_error=True)

    asyncio.run(main())
    producer.close()
    records = read_back(bootstrap, topic, expected=5000)
    got = sorted((v["b"], v["i"]) for v in (json.loads(r.value) for r in records))
    assert got == [(0, i) for i in range(3000)] + [(1, i) for i in range(2000)]
