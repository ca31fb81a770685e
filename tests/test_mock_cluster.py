"""kafkify.testing.MockCluster and fault injection, with exact accounting: every
record is either delivered exactly once or reported failed to its caller."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from functools import partial

import pytest

import kafkify
from kafkify.testing import MockCluster, Record


class Outcomes:
    """Each record's delivery report, by record number (callbacks run on a kafkify thread)."""

    def __init__(self) -> None:
        self.by_record: dict[int, kafkify.KafkaError | kafkify.RecordMetadata] = {}
        self.reports = 0
        self.lock = threading.Lock()

    def callback(self, number: int, err: kafkify.KafkaError | None, meta: kafkify.RecordMetadata):
        with self.lock:
            self.reports += 1
            self.by_record[number] = err if err is not None else meta

    def failures(self) -> dict[int, kafkify.KafkaError]:
        return {n: o for n, o in self.by_record.items() if isinstance(o, kafkify.KafkaError)}


def test_fixture_from_the_plugin_round_trips_records(kafka_cluster: MockCluster) -> None:
    assert kafka_cluster.num_brokers == 3
    kafka_cluster.create_topic("orders", partitions=2)
    with kafka_cluster.producer() as producer:
        producer.send("orders", {"id": 1}, key="user-1", headers={"trace": b"t1"}, partition=1)
        producer.send("orders", None, partition=0)  # a tombstone
    records = kafka_cluster.records("orders")
    assert records == [
        Record(0, 0, records[0].timestamp, None, None, []),
        Record(1, 0, records[1].timestamp, b"user-1", b'{"id":1}', [("trace", b"t1")]),
    ]


def test_broker_down_and_up_mid_stream_loses_nothing_and_duplicates_nothing() -> None:
    total, down_at, up_at = 50_000, 15_000, 35_000
    outcomes = Outcomes()
    with MockCluster(num_brokers=3) as cluster:
        cluster.create_topic("stream", partitions=3)
        for partition in range(3):  # broker 2 leads partition 1 (leaders are random)
            cluster.set_leader("stream", partition, partition + 1)
        # reconnect_backoff_max_ms: come back soon after the broker does.
        producer = cluster.producer(reconnect_backoff_max_ms=200)
        producer.send("stream", "warm-up", partition=0)  # producer id first
        for i in range(total):
            if i == down_at:
                cluster.broker_down(2)
            if i == up_at:
                # While broker 2 was down nothing it leads could be acknowledged.
                with pytest.raises(kafkify.KafkaTimeoutError):
                    producer.flush(timeout=1.0)
                stuck = {n for n in range(down_at, up_at) if n not in outcomes.by_record}
                assert {n for n in range(down_at, up_at) if n % 3 == 1} <= stuck
                cluster.broker_up(2)
            producer.produce(
                "stream", i, key=str(i), partition=i % 3, on_delivery=partial(outcomes.callback, i)
            )
        producer.flush()
        metrics = producer.metrics()["kafkify"]
        producer.close()
        records = [r for r in cluster.records("stream") if r.value != b'"warm-up"']

    assert outcomes.reports == total
    assert outcomes.failures() == {}
    assert metrics == {
        "sent": total + 1,
        "delivered": total + 1,
        "failed": 0,
        "in_flight": 0,
        "queue_bytes": 0,  # every byte handed over came back in a report
        "avg_delivery_latency_ms": metrics["avg_delivery_latency_ms"],
    }
    values = [int(r.value) for r in records]
    assert len(values) == total and sorted(values) == list(range(total)), "lost or duplicated"
    for partition in range(3):
        in_partition = [int(r.value) for r in records if r.partition == partition]
        assert in_partition == sorted(in_partition), "idempotence keeps each partition's order"
    for r in records:
        meta = outcomes.by_record[int(r.value)]
        assert (meta.partition, meta.offset) == (r.partition, r.offset)


def test_non_retriable_produce_errors_reach_each_caller(kafka_cluster: MockCluster) -> None:
    kafka_cluster.create_topic("payments", partitions=1)
    with kafka_cluster.producer() as producer:
        producer.send("payments", "warm-up")
        kafka_cluster.push_request_errors("Produce", ["INVALID_RECORD"] * 3)
        failed = []
        for i in range(10):  # one record per request: each pushed error fails one send
            try:
                producer.send("payments", i)
            except kafkify.KafkaError as e:
                assert not e.retriable and e.name == "InvalidRecord"
                failed.append(i)
        assert failed == [0, 1, 2]

        # Fire-and-forget: every record of the failed request hears about it.
        outcomes = Outcomes()
        kafka_cluster.push_request_errors("Produce", ["INVALID_RECORD"])
        for i in range(5):
            producer.produce("payments", 100 + i, on_delivery=partial(outcomes.callback, i))
        producer.flush()
        metrics = producer.metrics()["kafkify"]
    assert outcomes.reports == 5
    failed_later = outcomes.failures()
    assert failed_later, "the first request after the push carries at least one record"
    assert all(not e.retriable for e in failed_later.values())
    stored = [json.loads(r.value) for r in kafka_cluster.records("payments")]
    delivered_later = [100 + i for i in range(5) if i not in failed_later]
    assert stored == ["warm-up", 3, 4, 5, 6, 7, 8, 9, *delivered_later]
    assert metrics == {
        "sent": 16,
        "delivered": 16 - 3 - len(failed_later),
        "failed": 3 + len(failed_later),
        "in_flight": 0,
        "queue_bytes": 0,  # every byte handed over came back in a report
        "avg_delivery_latency_ms": metrics["avg_delivery_latency_ms"],
    }


def test_retriable_errors_are_retried_and_every_record_lands_once(
    kafka_cluster: MockCluster,
) -> None:
    kafka_cluster.create_topic("events", partitions=1)
    with kafka_cluster.producer() as producer:
        producer.send("events", "warm-up")
        kafka_cluster.push_request_errors(
            "Produce",
            ["NOT_LEADER_OR_FOLLOWER", "NOT_ENOUGH_REPLICAS", "REQUEST_TIMED_OUT", "_TRANSPORT"],
        )
        metas = [producer.send("events", i) for i in range(20)]
        metrics = producer.metrics()["kafkify"]
    assert [m.offset for m in metas] == list(range(1, 21))
    stored = [json.loads(r.value) for r in kafka_cluster.records("events")]
    assert stored == ["warm-up", *range(20)]
    assert (metrics["delivered"], metrics["failed"]) == (21, 0)


def test_added_latency_slows_every_acknowledgement_and_timeouts_are_reported(
    kafka_cluster: MockCluster,
) -> None:
    kafka_cluster.create_topic("slow", partitions=1)
    with kafka_cluster.producer() as producer:
        producer.send("slow", "warm-up")
        warm_up_ms = producer.metrics()["kafkify"]["avg_delivery_latency_ms"]
        for broker in range(1, 4):
            kafka_cluster.set_rtt(broker, 300)
        started = time.monotonic()
        producer.send("slow", "slow")
        assert time.monotonic() - started >= 0.3
        # librdkafka times each record from produce() to its report.
        slow_ms = 2 * producer.metrics()["kafkify"]["avg_delivery_latency_ms"] - warm_up_ms
        assert slow_ms >= 300

    # Every answer takes 3 s, records may wait 1 s: each caller is told, none hangs.
    for broker in range(1, 4):
        kafka_cluster.set_rtt(broker, 3000)
    outcomes = Outcomes()
    with kafka_cluster.producer(delivery_timeout_ms=1000) as impatient:
        for i in range(10):
            impatient.produce("slow", i, on_delivery=partial(outcomes.callback, i))
        impatient.flush()
        metrics = impatient.metrics()["kafkify"]
    assert outcomes.reports == 10 and len(outcomes.failures()) == 10
    assert all(isinstance(e, kafkify.KafkaTimeoutError) for e in outcomes.failures().values())
    assert (metrics["sent"], metrics["delivered"], metrics["failed"]) == (10, 0, 10)


def test_bad_arguments_raise_typed_errors_naming_the_problem() -> None:
    with pytest.raises(kafkify.InvalidArgumentError, match="num_brokers"):
        MockCluster(num_brokers=0)
    with MockCluster(num_brokers=2) as cluster:
        with pytest.raises(kafkify.InvalidArgumentError, match=r"no broker 3.*1 to 2"):
            cluster.broker_down(3)
        with pytest.raises(kafkify.InvalidArgumentError, match='did you mean "Produce"'):
            cluster.push_request_errors("Produse", ["NOT_LEADER_OR_FOLLOWER"])
        with pytest.raises(kafkify.InvalidArgumentError, match="did you mean"):
            cluster.push_request_errors("Produce", ["NOT_LEADER_OR_FOLOWER"])
        with pytest.raises(kafkify.InvalidArgumentError, match="rtt"):
            cluster.set_rtt(1, -5)
        with pytest.raises(kafkify.InvalidArgumentError, match="partitions"):
            cluster.create_topic("t", partitions=0)
        with pytest.raises(kafkify.UnknownTopicOrPartitionError, match="no-such-topic"):
            cluster.records("no-such-topic", timeout=10)
        cluster.push_request_errors("init_producer_id", [6, "NotLeaderForPartition"])
        cluster.clear_request_errors("InitProducerId")
    assert cluster.closed
    cluster.close()  # idempotent
    with pytest.raises(kafkify.IllegalStateError, match="closed"):
        cluster.create_topic("t", partitions=1)


def test_reports_reach_everyone_while_a_blocking_send_waits(kafka_cluster: MockCluster) -> None:
    # A blocking send serves librdkafka's report queue itself while it waits (the
    # poll thread stands by): other callers' reports must still get through.
    kafka_cluster.create_topic("mixed", partitions=2)
    kafka_cluster.set_leader("mixed", 0, 1)
    kafka_cluster.set_leader("mixed", 1, 2)
    with kafka_cluster.producer() as producer:
        for partition in (0, 1):
            producer.send("mixed", "warm-up", partition=partition)
        kafka_cluster.set_rtt(1, 1500)  # partition 0 answers after 1.5 s
        slow: dict[str, object] = {}

        def blocking_send() -> None:
            slow["meta"] = producer.send("mixed", "slow", partition=0)

        waiting = threading.Thread(target=blocking_send)
        waiting.start()
        while len(producer) == 0:  # the slow record is queued: the send is waiting
            time.sleep(0.001)
        reported = threading.Event()
        producer.produce("mixed", "fast", partition=1, on_delivery=lambda e, m: reported.set())

        async def awaited() -> kafkify.RecordMetadata:
            return await producer.send_async("mixed", "awaited", partition=1)

        awaited_meta = asyncio.run(awaited())
        assert reported.wait(timeout=30)
        assert waiting.is_alive(), "both reports came while the blocking send still waited"
        waiting.join()
        kafka_cluster.set_rtt(1, 0)
    assert isinstance(slow["meta"], kafkify.RecordMetadata) and slow["meta"].partition == 0
    assert awaited_meta.partition == 1
    values = [json.loads(r.value) for r in kafka_cluster.records("mixed")]
    assert sorted(values) == sorted(["warm-up", "warm-up", "slow", "fast", "awaited"])
