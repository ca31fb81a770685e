"""Transactions in the core producer, against Tansu.

Tansu's read_committed consumer still sees aborted records (DESIGN.md), so abort
tests check what librdkafka reports (each aborted record's callback fails) and
that the producer goes on to commit the next transaction, not the records' absence.
"""

from __future__ import annotations

import threading
import uuid

import pytest

import kafkify

from helpers import read_back


def transactional(bootstrap: str) -> kafkify.Producer:
    return kafkify.Producer(
        bootstrap, transactional_id=f"txn-{uuid.uuid4().hex[:8]}", value_serializer="bytes"
    )


def test_commit_delivers_the_records(bootstrap: str, topic: str) -> None:
    with transactional(bootstrap) as producer:
        producer.init_transactions(30)
        producer.begin_transaction()
        for i in range(5):
            producer.produce(topic, b"v%d" % i, key=b"k")
        producer.commit_transaction(30)
    records = read_back(bootstrap, topic, 5)
    assert sorted(r.value for r in records) == [b"v%d" % i for i in range(5)]


def test_with_transaction_initializes_commits_and_aborts_on_error(
    bootstrap: str, topic: str
) -> None:
    failures: list[kafkify.KafkaError] = []
    done = threading.Event()

    def on_delivery(err: kafkify.KafkaError | None, _meta: kafkify.RecordMetadata) -> None:
        if err is not None:
            failures.append(err)
        done.set()

    with transactional(bootstrap) as producer:
        with producer.transaction():  # runs init_transactions the first time
            producer.produce(topic, b"committed-1")
        with pytest.raises(ZeroDivisionError), producer.transaction():
            producer.produce(topic, b"aborted", on_delivery=on_delivery)
            raise ZeroDivisionError
        with producer.transaction():
            producer.produce(topic, b"committed-2")
    values = {r.value for r in read_back(bootstrap, topic, 2)}
    assert {b"committed-1", b"committed-2"} <= values
    # The aborted record either never left (purged, reported failed) or is aborted
    # on the broker; either way librdkafka reported it exactly once.
    assert done.wait(10)


def test_send_outside_a_transaction_is_illegal_state(bootstrap: str, topic: str) -> None:
    with transactional(bootstrap) as producer:
        producer.init_transactions(30)
        with pytest.raises(kafkify.IllegalStateError):
            producer.send(topic, b"x")


def test_transactions_need_a_transactional_id(bootstrap: str) -> None:
    with kafkify.Producer(bootstrap) as producer:
        with pytest.raises(kafkify.IllegalStateError, match="transactional_id"):
            producer.init_transactions(5)
        with (
            pytest.raises(kafkify.IllegalStateError, match="transactional_id"),
            producer.transaction(),
        ):
            pass


def test_commit_without_begin_is_illegal_state(bootstrap: str) -> None:
    with transactional(bootstrap) as producer:
        producer.init_transactions(30)
        with pytest.raises(kafkify.IllegalStateError) as info:
            producer.commit_transaction(5)
        assert info.value.txn_requires_abort is False


def test_send_offsets_validates_its_arguments(bootstrap: str) -> None:
    with transactional(bootstrap) as producer:
        producer.init_transactions(30)
        producer.begin_transaction()
        with pytest.raises(kafkify.ConfigError, match="triples"):
            producer.send_offsets_to_transaction([("t", 0)], "group")
        with pytest.raises(kafkify.ConfigError, match="group id"):
            producer.send_offsets_to_transaction([("t", 0, 1)], 42)
        producer.abort_transaction(30)


def test_purge_fails_queued_records(bootstrap: str, topic: str) -> None:
    errors: list[kafkify.KafkaError | None] = []
    done = threading.Event()

    def on_delivery(err: kafkify.KafkaError | None, _meta: kafkify.RecordMetadata) -> None:
        errors.append(err)
        done.set()

    # linger so the record is still queued locally when purged.
    with kafkify.Producer(bootstrap, linger_ms=10_000, value_serializer="bytes") as producer:
        producer.produce(topic, b"x", on_delivery=on_delivery)
        producer.purge(in_flight=False)
        assert done.wait(10)
    assert isinstance(errors[0], kafkify.RecordPurgedError)


def test_list_topics_describes_the_cluster(bootstrap: str, topic: str) -> None:
    with kafkify.Producer(bootstrap) as producer:
        md = producer.list_topics(topic, timeout=10)
    assert md["brokers"]
    assert sorted(md["topics"][topic]["partitions"]) == [0, 1, 2]
    assert md["topics"][topic]["error"] is None


def test_error_code_table_has_librdkafkas_names() -> None:
    names = {name: code for code, name, _ in kafkify.librdkafka_error_codes()}
    assert names["_MSG_TIMED_OUT"] == -192
    assert names["MSG_SIZE_TOO_LARGE"] == 10
