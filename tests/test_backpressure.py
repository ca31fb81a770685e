"""A full local queue: blocking callers wait for room, event-loop callers join the
overflow line (in order, bounded by max_block_ms); nothing is lost, every caller
hears about its record. And bytes-like values reach the broker exactly."""

from __future__ import annotations

import array
import asyncio
import json
import threading
import time

import pytest

import kafkify

from helpers import closed_port, create_topic, read_back

TINY_QUEUE = {"queue.buffering.max.messages": 5}


def test_send_async_waits_for_room_and_keeps_the_order(bootstrap: str) -> None:
    topic = create_topic(bootstrap, 1)
    producer = kafkify.Producer(bootstrap_servers=bootstrap, config=TINY_QUEUE)

    async def main() -> list[kafkify.RecordMetadata]:
        futures = [producer.send_async(topic, {"i": i}, key="k") for i in range(2000)]
        waiting = len(producer)
        metas = await asyncio.gather(*futures)
        assert waiting > 5  # more records than the queue holds were accepted
        return metas

    metas = asyncio.run(main())
    producer.close()
    assert [m.offset for m in metas] == sorted(m.offset for m in metas)
    records = read_back(bootstrap, topic, expected=2000)  # in offset order
    assert [json.loads(r.value)["i"] for r in records] == list(range(2000))
    assert [(r.partition, r.offset) for r in records] == [(m.partition, m.offset) for m in metas]


def test_send_batch_async_waits_for_room(bootstrap: str, topic: str) -> None:
    producer = kafkify.Producer(bootstrap_servers=bootstrap, config=TINY_QUEUE)

    async def main() -> list[object]:
        return await producer.send_batch_async(topic, [{"i": i} for i in range(1000)])

    results = asyncio.run(main())
    producer.close()
    assert all(isinstance(r, kafkify.RecordMetadata) for r in results)
    got = sorted(json.loads(r.value)["i"] for r in read_back(bootstrap, topic, expected=1000))
    assert got == list(range(1000))


def test_blocking_callers_wait_for_room(bootstrap: str, topic: str) -> None:
    producer = kafkify.Producer(bootstrap_servers=bootstrap, config=TINY_QUEUE)
    for i in range(300):
        producer.produce(topic, {"i": i})
    metas = producer.send_batch(topic, [{"i": i} for i in range(300, 600)])
    producer.send(topic, {"i": 600})
    producer.close()
    assert all(isinstance(m, kafkify.RecordMetadata) for m in metas)
    got = sorted(json.loads(r.value)["i"] for r in read_back(bootstrap, topic, expected=601))
    assert got == list(range(601))


def test_a_record_waiting_longer_than_max_block_fails_with_queue_full() -> None:
    producer = kafkify.Producer(
        bootstrap_servers=f"127.0.0.1:{closed_port()}",
        max_block_ms=300,
        config={"queue.buffering.max.messages": 1},
    )

    async def main() -> None:
        stuck = producer.send_async("t", {"first": True})  # queued; no broker to take it
        waiting = producer.send_async("t", {"second": True})  # no room: waits in line
        with pytest.raises(kafkify.QueueFullError, match="max_block_ms"):
            await waiting
        with pytest.raises(kafkify.KafkaTimeoutError, match="1 record"):
            await producer.stop(timeout=0.2)  # what is left is purged and reported
        with pytest.raises(kafkify.RecordPurgedError):
            await stuck

    asyncio.run(main())


def test_close_reports_every_record_still_waiting_for_room() -> None:
    producer = kafkify.Producer(
        bootstrap_servers=f"127.0.0.1:{closed_port()}",
        config={"queue.buffering.max.messages": 1},
    )

    async def main() -> None:
        futures = [producer.send_async("t", {"i": i}) for i in range(5)]
        assert len(producer) == 5
        with pytest.raises(kafkify.KafkaTimeoutError, match="5 record"):
            await producer.stop(timeout=0.2)
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        assert all(isinstance(o, kafkify.RecordPurgedError) for o in outcomes), outcomes
        assert len(producer) == 0

    asyncio.run(main())


def test_bytes_like_values_arrive_exactly_and_are_copied_at_send_time(
    bootstrap: str,
) -> None:
    topic = create_topic(bootstrap, 1)
    mutable = bytearray(b"as sent")
    values: list[object] = [
        b"bytes",
        mutable,
        memoryview(bytearray(b"view of a bytearray")),
        memoryview(b"abcdef")[::2],  # not contiguous: gathered
        array.array("H", [1, 2, 3]),  # any buffer, through a memoryview
        b"",
    ]
    expected = [b"bytes", b"as sent", b"view of a bytearray", b"ace", None, b""]
    expected[4] = array.array("H", [1, 2, 3]).tobytes()
    with kafkify.Producer(bootstrap_servers=bootstrap, value_serializer="bytes") as producer:
        for v in values:
            value = memoryview(v) if isinstance(v, array.array) else v
            producer.produce(topic, value)
        mutable[:] = b"changed"  # after produce() returned: must not show
    got = [r.value for r in read_back(bootstrap, topic, 6)]
    assert got == expected


def test_flush_returns_after_every_delivery_callback_ran(bootstrap: str, topic: str) -> None:
    delivered: list[int] = []
    nested: list[object] = []
    producer = kafkify.Producer(bootstrap_servers=bootstrap)

    def flush_from_a_callback(err: object, meta: kafkify.RecordMetadata) -> None:
        producer.flush(timeout=5)  # on the callback thread: must not wait for itself
        nested.append(err)

    for round_ in range(3):
        for i in range(10_000):
            producer.produce(topic, {"i": i}, on_delivery=lambda e, m, i=i: delivered.append(i))
        producer.flush()
        assert len(delivered) == 10_000 * (round_ + 1)  # every callback ran before flush returned
    producer.produce(topic, {"nested": True}, on_delivery=flush_from_a_callback)
    producer.flush()
    assert nested == [None]
    producer.close()
    assert len(read_back(bootstrap, topic, expected=30_001)) == 30_001


def test_closing_while_a_batch_waits_for_room_fails_the_call_and_counts_nothing_twice() -> None:
    producer = kafkify.Producer(
        bootstrap_servers=f"127.0.0.1:{closed_port()}",
        max_block_ms=60_000,
        config={"queue.buffering.max.messages": 1},
    )
    outcome: list[BaseException | list[object]] = []

    def send() -> None:
        try:
            outcome.append(producer.send_batch("t", [{"i": i} for i in range(5)], timeout=60))
        except BaseException as exc:  # the test inspects it
            outcome.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    while len(producer) < 1:  # record 0 is queued; record 1 waits for room
        time.sleep(0.01)
    # All 5 count as undelivered: record 0 is purged, the others fail with the call.
    with pytest.raises(kafkify.KafkaTimeoutError, match="5 record"):
        producer.close(timeout=0)
    sender.join(timeout=30)
    assert not sender.is_alive()
    assert isinstance(outcome[0], kafkify.ProducerClosedError), outcome
    assert len(producer) == 0
    counters = producer.metrics()["kafkify"]
    assert counters["in_flight"] == 0, counters
    assert (counters["sent"], counters["failed"]) == (1, 1), counters  # only record 0 left


def test_closing_with_a_batch_in_the_overflow_line_fails_each_of_its_records() -> None:
    producer = kafkify.Producer(
        bootstrap_servers=f"127.0.0.1:{closed_port()}",
        config={"queue.buffering.max.messages": 1},
    )

    async def main() -> None:
        first = producer.send_async("t", {"first": True})  # takes the only room
        batch = producer.send_batch_async("t", [{"i": i} for i in range(4)])  # in line
        assert len(producer) == 5
        with pytest.raises(kafkify.KafkaTimeoutError, match="5 record"):
            await producer.stop(timeout=0.2)
        with pytest.raises(kafkify.RecordPurgedError):
            await first
        results = await batch
        assert [type(r) for r in results] == [kafkify.RecordPurgedError] * 4, results
        assert len(producer) == 0
        assert producer.metrics()["kafkify"]["in_flight"] == 0

    asyncio.run(main())
