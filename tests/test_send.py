"""Blocking send, send_async and produce against the real broker, read back independently."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import pytest

import kafkify

from helpers import closed_port, create_topic, read_back


def test_blocking_keyed_sends_report_where_the_broker_holds_them(
    bootstrap: str, topic: str
) -> None:
    with kafkify.Producer(bootstrap_servers=bootstrap) as producer:
        reported = {}
        for i in range(1000):
            meta = producer.send(topic, {"n": i, "user": f"u{i % 10}"}, key=f"u{i % 10}")
            reported[(meta.partition, meta.offset)] = i
            assert meta.serialized_key_size == len(f"u{i % 10}")
            assert meta.serialized_value_size == len(kafkify.dumps({"n": i, "user": f"u{i % 10}"}))
            assert meta.serialized_header_size == -1
            assert meta.timestamp > 0
    records = read_back(bootstrap, topic, expected=1000)
    held = {(r.partition, r.offset): json.loads(r.value)["n"] for r in records}
    assert held == reported


def test_10000_concurrent_send_async_get_distinct_offsets(bootstrap: str, topic: str) -> None:
    producer = kafkify.Producer(bootstrap_servers=bootstrap)

    async def main() -> list[kafkify.RecordMetadata]:
        return await asyncio.gather(*(producer.send_async(topic, {"i": i}) for i in range(10_000)))

    metas = asyncio.run(main())
    producer.close()
    assert len({(m.partition, m.offset) for m in metas}) == 10_000
    records = read_back(bootstrap, topic, expected=10_000)
    assert len(records) == 10_000
    assert {(r.partition, r.offset) for r in records} == {(m.partition, m.offset) for m in metas}
    assert sorted(json.loads(r.value)["i"] for r in records) == list(range(10_000))


def test_produce_callbacks_fire_once_each_with_the_right_metadata(
    bootstrap: str, topic: str
) -> None:
    calls: dict[int, list[tuple[object, kafkify.RecordMetadata]]] = {}
    lock = threading.Lock()

    def callback_for(i: int):  # type: ignore[no-untyped-def]
        def on_delivery(err: object, meta: kafkify.RecordMetadata) -> None:
            with lock:
                calls.setdefault(i, []).append((err, meta))

        return on_delivery

    producer = kafkify.Producer(bootstrap_servers=bootstrap)
    for i in range(2000):
        producer.produce(topic, {"i": i}, key=str(i), on_delivery=callback_for(i))
    producer.close()  # flushes, then drains the callbacks
    assert sorted(calls) == list(range(2000))
    assert all(len(c) == 1 and c[0][0] is None for c in calls.values())
    records = read_back(bootstrap, topic, expected=2000)
    by_position = {(r.partition, r.offset): json.loads(r.value)["i"] for r in records}
    assert {(c[0][1].partition, c[0][1].offset): i for i, c in calls.items()} == by_position


def test_a_failing_delivery_reaches_its_callback_as_an_error() -> None:
    outcome: list[tuple[object, kafkify.RecordMetadata]] = []
    done = threading.Event()

    def on_delivery(err: object, meta: kafkify.RecordMetadata) -> None:
        outcome.append((err, meta))
        done.set()

    # A dead broker and a short delivery timeout: the failure always comes later,
    # through the delivery report, never from produce() itself.
    dead = f"127.0.0.1:{closed_port()}"
    producer = kafkify.Producer(bootstrap_servers=dead, delivery_timeout_ms=200)
    producer.produce("orders", {"x": 1}, on_delivery=on_delivery)
    assert done.wait(30)
    producer.close()
    [(err, meta)] = outcome
    assert isinstance(err, kafkify.KafkaTimeoutError) and err.retriable
    assert meta.topic == "orders"


def test_unknown_partition_fails_in_the_callback_or_at_once(bootstrap: str, topic: str) -> None:
    # librdkafka refuses at once when it already knows the topic's partitions,
    # otherwise the delivery report says so: either way the caller hears of it.
    outcome: list[object] = []
    done = threading.Event()
    with kafkify.Producer(bootstrap_servers=bootstrap) as producer:
        try:
            producer.produce(
                topic,
                {"x": 1},
                partition=99,
                on_delivery=lambda e, m: (outcome.append(e), done.set()),
            )
            assert done.wait(30)
        except kafkify.UnknownTopicOrPartitionError as e:
            outcome.append(e)
    [err] = outcome
    assert isinstance(err, kafkify.UnknownTopicOrPartitionError)


def test_failing_blocking_send_and_send_async_raise(bootstrap: str, topic: str) -> None:
    with kafkify.Producer(bootstrap_servers=bootstrap) as producer:
        with pytest.raises(kafkify.UnknownTopicOrPartitionError):
            producer.send(topic, {"x": 1}, partition=7)

        async def main() -> None:
            with pytest.raises(kafkify.UnknownTopicOrPartitionError):
                await producer.send_async(topic, {"x": 1}, partition=7)

        asyncio.run(main())


def test_produce_without_callback_logs_failures(caplog: pytest.LogCaptureFixture) -> None:
    dead = f"127.0.0.1:{closed_port()}"
    producer = kafkify.Producer(bootstrap_servers=dead, delivery_timeout_ms=200)
    producer.produce("lost-orders", {"x": 1})
    producer.flush(30)
    producer.close()
    failures = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any('"lost-orders"' in m and "MessageTimedOut" in m for m in failures), failures


def test_keys_headers_tombstones_and_serializers_arrive_exactly(bootstrap: str) -> None:
    topic = create_topic(bootstrap, 1)
    with kafkify.Producer(bootstrap_servers=bootstrap) as producer:
        producer.send(topic, {"a": "é"}, key="k1", headers={"trace": b"\x01\x02", "s": "text"})
        producer.send(topic, None, key=b"k2")  # tombstone
        producer.send(topic, [1, 2], key=bytearray(b"k3"), headers=[("h", b"1"), ("h", None)])
        producer.send(topic, "plain", key=memoryview(b"k4"))
    with kafkify.Producer(
        bootstrap_servers=bootstrap,
        value_serializer="bytes",
        key_serializer=lambda k: str(k * 2).encode(),
    ) as raw:
        meta = raw.send(topic, b"\x00raw\xff", key=21)
        assert meta.serialized_key_size == 2
    with kafkify.Producer(bootstrap_servers=bootstrap, value_serializer="str") as text:
        text.send(topic, "héllo")
    with kafkify.Producer(
        bootstrap_servers=bootstrap, value_serializer=lambda v: v.upper().encode()
    ) as custom:
        custom.send(topic, "shout")

    records = read_back(bootstrap, topic, expected=7)
    assert [(r.key, r.value) for r in records] == [
        (b"k1", '{"a":"é"}'.encode()),
        (b"k2", None),
        (b"k3", b"[1,2]"),
        (b"k4", b'"plain"'),
        (b"42", b"\x00raw\xff"),
        (None, "héllo".encode()),
        (None, b"SHOUT"),
    ]
    assert records[0].headers == [("trace", b"\x01\x02"), ("s", b"text")]
    assert records[2].headers == [("h", b"1"), ("h", None)]


def test_same_key_same_partition_and_explicit_partition(bootstrap: str, topic: str) -> None:
    with kafkify.Producer(bootstrap_servers=bootstrap) as producer:
        partitions = {producer.send(topic, {"i": i}, key="sticky").partition for i in range(20)}
        assert len(partitions) == 1
        assert producer.send(topic, {"x": 1}, partition=2).partition == 2
        assert producer.partitions_for(topic) == [0, 1, 2]


def test_timestamp_is_kept(bootstrap: str) -> None:
    topic = create_topic(bootstrap, 1)
    with kafkify.Producer(bootstrap_servers=bootstrap) as producer:
        meta = producer.send(topic, {"x": 1}, timestamp_ms=1_700_000_000_123)
    assert meta.timestamp == 1_700_000_000_123
    [record] = read_back(bootstrap, topic, expected=1)
    assert record.timestamp == 1_700_000_000_123


def test_send_async_from_several_threads_and_loops(bootstrap: str, topic: str) -> None:
    producer = kafkify.Producer(bootstrap_servers=bootstrap)
    results: dict[int, list[kafkify.RecordMetadata]] = {}

    def worker(n: int) -> None:
        async def main() -> list[kafkify.RecordMetadata]:
            return await asyncio.gather(
                *(producer.send_async(topic, {"t": n, "i": i}) for i in range(500))
            )

        results[n] = asyncio.run(main())

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    producer.close()
    assert sum(len(r) for r in results.values()) == 2000
    assert len(read_back(bootstrap, topic, expected=2000)) == 2000


def test_cancelling_an_awaiting_task_neither_crashes_nor_loses_the_record(
    bootstrap: str,
) -> None:
    topic = create_topic(bootstrap, 1)
    producer = kafkify.Producer(bootstrap_servers=bootstrap, linger_ms=300)

    async def main() -> None:
        task = asyncio.ensure_future(producer.send_async(topic, {"cancelled": True}))
        # One loop iteration: the task sends and awaits. Its future cannot be
        # resolved before the loop runs again, so the cancel lands on a pending wait.
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        meta = await producer.send_async(topic, {"after": True})
        assert meta.offset >= 0

    asyncio.run(main())
    producer.close()
    values = [json.loads(r.value) for r in read_back(bootstrap, topic, expected=2)]
    assert values == [{"cancelled": True}, {"after": True}]


def test_send_async_timeout_raises_kafka_timeout_error() -> None:
    # Nothing listens there: the record stays queued, so no acknowledgement comes.
    producer = kafkify.Producer(bootstrap_servers=f"127.0.0.1:{closed_port()}")

    async def main() -> None:
        with pytest.raises(kafkify.KafkaTimeoutError) as info:
            await producer.send_async("orders", {"x": 1}, timeout=0.05)
        assert isinstance(info.value, TimeoutError)

    asyncio.run(main())
    with pytest.raises(kafkify.KafkaTimeoutError, match="1 record"):
        producer.close(timeout=0)  # still queued: purged and counted, not dropped silently


def test_awaited_sends_do_not_wait_for_linger(bootstrap: str) -> None:
    """With a 60 s linger, records whose senders all wait for them go out as soon
    as the event loop is idle (src/expedite.rs); fire-and-forget records linger."""
    topic = create_topic(bootstrap, 1)
    producer = kafkify.Producer(bootstrap_servers=bootstrap, linger_ms=60_000)

    async def main() -> list[kafkify.RecordMetadata]:
        one = await asyncio.wait_for(producer.send_async(topic, {"i": 0}), timeout=30)
        wave = await asyncio.wait_for(
            asyncio.gather(*(producer.send_async(topic, {"i": i}) for i in range(1, 101))),
            timeout=30,
        )
        batch = await asyncio.wait_for(
            producer.send_batch_async(topic, [{"i": i} for i in range(101, 201)]), timeout=30
        )
        return [one, *wave, *batch]

    metas = asyncio.run(main())
    assert [m.offset for m in metas] == list(range(201))
    producer.produce(topic, {"i": "lingering"})
    assert len(producer) == 1  # produce() does not hurry its record
    producer.close()
    values = [json.loads(r.value)["i"] for r in read_back(bootstrap, topic, expected=202)]
    assert values == [*range(201), "lingering"]


def test_a_kick_lost_with_its_event_loop_does_not_stop_later_ones(bootstrap: str) -> None:
    topic = create_topic(bootstrap, 1)
    producer = kafkify.Producer(bootstrap_servers=bootstrap, linger_ms=60_000)
    loop = asyncio.new_event_loop()

    async def send_and_stop() -> None:
        producer.send_async(topic, {"i": 0})  # schedules a kick for the next iteration,
        asyncio.get_running_loop().stop()  # which never comes

    loop.run_until_complete(send_and_stop())
    loop.close()
    time.sleep(0.1)  # longer than a kick may stay pending (src/expedite.rs)

    async def main() -> kafkify.RecordMetadata:
        return await asyncio.wait_for(producer.send_async(topic, {"i": 1}), timeout=30)

    assert asyncio.run(main()).offset == 1
    producer.close()
    values = [json.loads(r.value)["i"] for r in read_back(bootstrap, topic, expected=2)]
    assert values == [0, 1]


def test_16_threads_share_one_producer_and_lose_nothing(bootstrap: str, topic: str) -> None:
    producer = kafkify.Producer(bootstrap_servers=bootstrap)
    metas: list[kafkify.RecordMetadata] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        for i in range(100):
            m = producer.send(topic, {"t": n, "i": i}, key=f"{n}")
            with lock:
                metas.append(m)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    producer.close()
    assert len({(m.partition, m.offset) for m in metas}) == 1600
    records = read_back(bootstrap, topic, expected=1600)
    got = sorted((v["t"], v["i"]) for v in (json.loads(r.value) for r in records))
    assert got == [(n, i) for n in range(16) for i in range(100)]


def test_async_context_manager_and_start_stop(bootstrap: str) -> None:
    topic = create_topic(bootstrap, 1)

    async def main() -> None:
        async with kafkify.Producer(bootstrap_servers=bootstrap, linger_ms=1000) as producer:
            for i in range(50):
                producer.produce(topic, {"i": i})
        assert producer.closed  # __aexit__ flushed and closed in a worker thread
        p2 = kafkify.Producer(bootstrap_servers=bootstrap)
        assert await p2.start() is p2
        await p2.send_async(topic, {"i": 50})
        await p2.stop()
        assert p2.closed

    asyncio.run(main())
    assert len(read_back(bootstrap, topic, expected=51)) == 51
