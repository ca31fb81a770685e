"""kafkify.compat.confluent_kafka: confluent-kafka's README and examples programs
with only the import changed, run against the broker and read back byte for byte."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer
from confluent_kafka import TopicPartition as RealTopicPartition

from kafkify.compat.confluent_kafka import (
    TIMESTAMP_CREATE_TIME,
    IgnoredOptionWarning,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from helpers import closed_port, committed_offsets, create_topic, read_back


class Reports:
    """Collects delivery reports and the thread each arrived on."""

    def __init__(self) -> None:
        self.items: list[tuple[KafkaError | None, Message]] = []
        self.threads: set[int] = set()

    def __call__(self, err: KafkaError | None, msg: Message) -> None:
        self.items.append((err, msg))
        self.threads.add(threading.get_ident())


def test_readme_program(bootstrap: str, topic: str) -> None:
    some_data_source = [f"record-{i}" for i in range(50)]
    delivered: list[tuple[str, int, int]] = []
    threads: set[int] = set()

    p = Producer({"bootstrap.servers": bootstrap})

    def delivery_report(err: KafkaError | None, msg: Message) -> None:
        """Called once for each message produced to indicate delivery result.
        Triggered by poll() or flush()."""
        threads.add(threading.get_ident())
        if err is not None:
            raise AssertionError(f"Message delivery failed: {err}")
        delivered.append((msg.topic(), msg.partition(), msg.offset()))

    for data in some_data_source:
        # Trigger any available delivery report callbacks from previous produce() calls
        p.poll(0)
        # Asynchronously produce a message. The delivery report callback will be
        # triggered from poll() above, or flush() below.
        p.produce(topic, data.encode("utf-8"), callback=delivery_report)

    # Wait for any outstanding messages to be delivered and delivery report callbacks
    # to be triggered.
    assert p.flush() == 0
    assert len(p) == 0
    assert len(delivered) == 50
    assert threads == {threading.get_ident()}  # served on the caller's thread
    records = read_back(bootstrap, topic, 50)
    assert sorted(r.value for r in records) == sorted(d.encode() for d in some_data_source)
    assert {(r.partition, r.offset) for r in records} == {(p_, o) for _, p_, o in delivered}


def test_callbacks_wait_for_poll(bootstrap: str, topic: str) -> None:
    reports = Reports()
    with Producer(bootstrap_servers=bootstrap, on_delivery=reports) as p:  # kwargs form
        p.produce(topic, b"v", key="k", headers={"h": b"1"}, timestamp=1700000000000)
        p.produce(topic, "text", key=b"k2", partition=2, headers=[("a", "b")])
        assert len(p) == 2
        while len(p):
            p.poll(1.0)
        assert reports.items and len(reports.items) == 2
        assert reports.threads == {threading.get_ident()}
    (err, msg), (err2, _msg2) = reports.items
    assert err is None and err2 is None
    by_key = {m.key(): m for _, m in reports.items}
    assert by_key[b"k"].value() == b"v"
    assert by_key[b"k"].timestamp() == (TIMESTAMP_CREATE_TIME, 1700000000000)
    assert by_key[b"k2"].partition() == 2 and by_key[b"k2"].value() == b"text"
    assert msg.error() is None and (msg.latency() or 0) >= 0 and msg.headers() is None
    records = {r.key: r for r in read_back(bootstrap, topic, 2)}
    assert records[b"k"].headers == [("h", b"1")] and records[b"k"].timestamp == 1700000000000
    assert records[b"k2"].headers == [("a", b"b")] and records[b"k2"].partition == 2


def test_examples_buffer_error_when_the_queue_is_full(bootstrap: str, topic: str) -> None:
    p = Producer(
        {
            "bootstrap.servers": bootstrap,
            "queue.buffering.max.messages": 2,
            "linger.ms": 60000,
        }
    )
    p.produce(topic, b"1")
    p.produce(topic, b"2")
    with pytest.raises(BufferError):
        p.produce(topic, b"3")
    assert len(p) == 2
    assert p.flush(30) == 0


def test_delivery_errors_carry_confluent_codes(bootstrap: str, topic: str) -> None:
    p = Producer({"bootstrap.servers": bootstrap})
    p.produce(topic, b"first")
    p.flush(30)  # the topic's metadata is known now
    with pytest.raises(KafkaException) as unknown:
        p.produce(topic, b"x", partition=9)  # 3 partitions
    err = unknown.value.args[0]
    assert err.code() == KafkaError._UNKNOWN_PARTITION and err.name() == "_UNKNOWN_PARTITION"
    assert err == KafkaError._UNKNOWN_PARTITION

    with pytest.raises(KafkaException) as info:
        Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 1000}).produce(
            topic, b"x" * 5000
        )
    assert info.value.args[0].code() == KafkaError.MSG_SIZE_TOO_LARGE


def test_the_brokers_message_too_large_reaches_the_delivery_callback(bootstrap: str) -> None:
    """A record within message.max.bytes but over the topic's max.message.bytes is
    refused by the broker, not by produce(): the delivery callback gets
    MSG_SIZE_TOO_LARGE (the broker's MESSAGE_TOO_LARGE), the next record goes on."""
    topic = create_topic(bootstrap, 1, config={"max.message.bytes": "10000"})
    reports = Reports()
    p = Producer({"bootstrap.servers": bootstrap, "on_delivery": reports})
    p.produce(topic, os.urandom(20_000))  # random bytes: compression cannot shrink them
    assert p.flush(30) == 0
    p.produce(topic, b"small")
    assert p.flush(30) == 0
    [(err, msg), (ok, small)] = reports.items
    assert err is not None and err.code() == KafkaError.MSG_SIZE_TOO_LARGE
    assert msg.error() == err and not err.retriable() and not err.fatal()
    assert ok is None and small.offset() == 0
    assert [r.value for r in read_back(bootstrap, topic, 1)] == [b"small"]


def test_message_timed_out_and_purge(topic: str) -> None:
    dead = f"127.0.0.1:{closed_port()}"
    reports = Reports()
    p = Producer({"bootstrap.servers": dead, "message.timeout.ms": 200})
    p.produce(topic, b"x", callback=reports)
    assert p.flush(30) == 0
    assert reports.items[0][0] is not None
    assert reports.items[0][0].code() == KafkaError._MSG_TIMED_OUT

    purged = Reports()
    p2 = Producer({"bootstrap.servers": dead})
    p2.produce(topic, b"y", callback=purged)
    p2.purge()
    assert p2.flush(30) == 0
    assert purged.items[0][0] is not None
    assert purged.items[0][0].code() == KafkaError._PURGE_QUEUE


def test_closed_producer_and_bad_config(bootstrap: str, topic: str) -> None:
    with pytest.raises(KafkaException) as info:
        Producer({"bootstrap.servers": bootstrap, "no.such.property": 1})
    assert info.value.args[0].code() == KafkaError._INVALID_ARG
    with pytest.raises(KafkaException):
        Producer({"bootstrap.servers": bootstrap, "oauth_cb": lambda _: None})
    with pytest.warns(IgnoredOptionWarning, match="throttle_cb"):
        p = Producer({"bootstrap.servers": bootstrap, "throttle_cb": lambda event: None})
    p.close()
    with pytest.raises(RuntimeError):
        p.produce(topic, b"x")
    assert p.close() is True  # a second close() does nothing, as in confluent-kafka


def test_produce_batch(bootstrap: str, topic: str) -> None:
    reports = Reports()
    p = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 1000})
    messages: list[dict[str, Any]] = [
        {"value": b"a", "key": b"1"},
        {"value": b"b" * 5000},
        {"value": "c", "partition": 1},
    ]
    assert p.produce_batch(topic, messages, on_delivery=reports) == 2
    assert messages[1]["_error"].code() == KafkaError.MSG_SIZE_TOO_LARGE
    assert p.flush(30) == 0
    assert len(reports.items) == 2
    values = {r.value: r for r in read_back(bootstrap, topic, 2)}
    assert set(values) == {b"a", b"c"} and values[b"c"].partition == 1


def test_list_topics(bootstrap: str, topic: str) -> None:
    p = Producer({"bootstrap.servers": bootstrap})
    md = p.list_topics(topic, timeout=10)
    assert sorted(md.topics[topic].partitions) == [0, 1, 2]
    assert md.topics[topic].error is None and md.brokers
    p.close()


def test_eos_transactions_example(bootstrap: str, topic: str) -> None:
    group = f"eos-{uuid.uuid4().hex[:8]}"
    # As in confluent-kafka's EOS example: the transactions commit the group's
    # offsets, so the consumer must not commit its own.
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False}
    )
    consumer.assign([RealTopicPartition(topic, 0, OFFSET_BEGINNING)])
    producer = Producer(
        {"bootstrap.servers": bootstrap, "transactional.id": f"eos-{uuid.uuid4().hex[:8]}"}
    )
    producer.init_transactions()
    producer.begin_transaction()
    producer.produce(topic, b"in-txn", partition=0)
    producer.send_offsets_to_transaction(
        [TopicPartition(topic, 0, 1)], consumer.consumer_group_metadata()
    )
    producer.commit_transaction()
    assert committed_offsets(bootstrap, group, topic, 3) == {0: 1}

    producer.begin_transaction()
    producer.produce(topic, b"aborted", partition=0)
    producer.send_offsets_to_transaction(
        [TopicPartition(topic, 0, 2)], consumer.consumer_group_metadata()
    )
    producer.abort_transaction()
    with pytest.raises(KafkaException) as info:
        producer.commit_transaction()  # no transaction open
    assert info.value.args[0].code() == KafkaError._STATE
    producer.flush()
    consumer.close()
    # read_committed: the commit only; the abort left the group's offsets alone
    assert [r.value for r in read_back(bootstrap, topic, 1)] == [b"in-txn"]
    assert committed_offsets(bootstrap, group, topic, 3) == {0: 1}


def test_error_cb_and_stats_cb_are_served_from_poll(bootstrap: str) -> None:
    errors: list[tuple[KafkaError, str]] = []
    dead = Producer(
        {
            "bootstrap.servers": f"127.0.0.1:{closed_port()}",
            "error_cb": lambda err: errors.append((err, threading.current_thread().name)),
        }
    )
    deadline = time.monotonic() + 30
    while not errors and time.monotonic() < deadline:
        dead.poll(0.2)
    err, thread = errors[0]
    assert err.code() in (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN)
    assert thread == threading.current_thread().name  # served by poll(), on our thread
    dead.close()

    stats: list[dict[str, Any]] = []
    p = Producer(
        {
            "bootstrap.servers": bootstrap,
            "statistics.interval.ms": 100,
            "stats_cb": lambda text: stats.append(json.loads(text)),
        }
    )
    deadline = time.monotonic() + 30
    while not stats and time.monotonic() < deadline:
        p.poll(0.2)
    assert stats[0]["type"] == "producer" and "brokers" in stats[0]
    p.close()
