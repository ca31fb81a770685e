"""Transactions in the core producer, against Apache Kafka.

What a transaction promises is checked where it matters, on the broker: records are
read back with confluent-kafka's Consumer, read_committed (what every consumer of an
exactly-once pipeline uses) must see exactly the committed records and nothing of an
abort, and read_uncommitted shows that the aborted records did reach the log, so it
is the broker's transaction markers that hide them, not a client that never sent
them. Fencing (two producers on one ``transactional_id``) and consumer offsets sent
with ``send_offsets_to_transaction`` are checked against a real transaction
coordinator and a real consumer group.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from confluent_kafka import Consumer, Message

import kafkify

from helpers import committed_offsets, create_topic, read_back


def transactional(bootstrap: str, transactional_id: str | None = None) -> kafkify.Producer:
    return kafkify.Producer(
        bootstrap,
        transactional_id=transactional_id or f"txn-{uuid.uuid4().hex[:8]}",
        value_serializer="bytes",
    )


def test_commit_delivers_the_records(bootstrap: str, topic: str) -> None:
    """Committed records are visible to read_committed consumers, in order."""
    with transactional(bootstrap) as producer:
        producer.init_transactions(30)
        producer.begin_transaction()
        for i in range(5):
            producer.produce(topic, b"v%d" % i, key=b"k")  # one key: one partition
        producer.commit_transaction(30)
    records = read_back(bootstrap, topic, 5)
    assert [r.value for r in records] == [b"v%d" % i for i in range(5)]


def test_abort_hides_the_records_from_read_committed_consumers(bootstrap: str) -> None:
    """Records acknowledged inside a transaction that is then aborted stay in the
    log (read_uncommitted sees them) but a read_committed consumer never sees them;
    the producer goes on to commit the next transaction."""
    topic = create_topic(bootstrap, 1)
    with transactional(bootstrap) as producer:
        producer.init_transactions(30)
        producer.begin_transaction()
        aborted = [producer.send(topic, b"aborted-%d" % i) for i in range(3)]  # acked
        producer.abort_transaction(30)
        producer.begin_transaction()
        committed = producer.send(topic, b"committed")
        producer.commit_transaction(30)
    assert [m.offset for m in aborted] == [0, 1, 2]
    # offset 3 holds the abort marker
    assert committed.offset == 4
    visible = read_back(bootstrap, topic, 1)
    assert [(r.offset, r.value) for r in visible] == [(4, b"committed")]
    in_log = read_back(bootstrap, topic, 4, isolation_level="read_uncommitted")
    assert [r.value for r in in_log] == [b"aborted-0", b"aborted-1", b"aborted-2", b"committed"]


def test_with_transaction_initializes_commits_and_aborts_on_error(
    bootstrap: str, topic: str
) -> None:
    """``with producer.transaction()`` initializes once, commits a clean block and
    aborts one that raises (the exception propagates): only the committed blocks'
    records are visible."""
    outcomes: list[kafkify.KafkaError | None] = []
    done = threading.Event()

    def on_delivery(err: kafkify.KafkaError | None, _meta: kafkify.RecordMetadata) -> None:
        outcomes.append(err)
        done.set()

    with transactional(bootstrap) as producer:
        with producer.transaction():  # runs init_transactions the first time
            producer.produce(topic, b"committed-1")
        with pytest.raises(ZeroDivisionError), producer.transaction():
            producer.produce(topic, b"aborted", on_delivery=on_delivery)
            raise ZeroDivisionError
        with producer.transaction():
            producer.produce(topic, b"committed-2")
    assert sorted(r.value for r in read_back(bootstrap, topic, 2)) == [
        b"committed-1",
        b"committed-2",
    ]
    # The aborted record either never left (purged by the abort, reported failed) or
    # reached the log before the abort marker (reported delivered); either way
    # librdkafka reported it exactly once.
    assert done.wait(10)
    assert len(outcomes) == 1
    assert outcomes[0] is None or isinstance(outcomes[0], kafkify.RecordPurgedError)


def assert_fenced(err: BaseException) -> None:
    """``err`` is kafkify's ProducerFencedError, fatal: the producer cannot go on."""
    assert isinstance(err, kafkify.KafkaError), repr(err)
    what = f"{type(err).__name__}(name={err.name!r}, fatal={err.fatal}): {err}"
    assert err.fatal, what
    assert not err.retriable and not err.txn_requires_abort, what
    fenced = getattr(kafkify.errors, "ProducerFencedError", None)
    assert fenced is not None, f"kafkify.errors has no ProducerFencedError; raised {what}"
    assert isinstance(err, fenced), what


def test_a_newer_producer_fences_the_older_at_its_commit(bootstrap: str) -> None:
    """A second producer with the same ``transactional_id`` fences the first: the
    coordinator aborts the older one's open transaction, and the older producer's
    ``commit_transaction`` (its first call to reach the coordinator after that)
    raises ProducerFencedError, fatal; so does every later transactional call."""
    topic = create_topic(bootstrap, 1)
    transactional_id = f"fenced-{uuid.uuid4().hex[:8]}"
    with transactional(bootstrap, transactional_id) as older:
        older.init_transactions(30)
        older.begin_transaction()
        older.send(topic, b"older")  # acknowledged: in the log, in an open transaction
        newer = transactional(bootstrap, transactional_id)
        newer.init_transactions(30)
        with pytest.raises(kafkify.KafkaError) as commit:
            older.commit_transaction(30)
        with pytest.raises(kafkify.KafkaError) as abort:
            older.abort_transaction(30)
        with pytest.raises(kafkify.KafkaError) as begin:
            older.begin_transaction()
    with newer:
        with newer.transaction():
            newer.send(topic, b"newer")
    assert [r.value for r in read_back(bootstrap, topic, 1)] == [b"newer"]
    in_log = read_back(bootstrap, topic, 2, isolation_level="read_uncommitted")
    assert [r.value for r in in_log] == [b"older", b"newer"]
    for err in (commit.value, abort.value, begin.value):
        assert_fenced(err)


def test_a_newer_producer_fences_the_older_at_its_next_send(bootstrap: str) -> None:
    """The older producer's next record after the fencing is refused by the broker
    (its epoch is old): librdkafka raises the fatal fencing error while handling
    that record's ProduceResponse, so that ``send()`` raises ProducerFencedError,
    fatal, as do the next ``produce()`` (refused at once) and ``commit_transaction``."""
    topic = create_topic(bootstrap, 1)
    transactional_id = f"fenced-{uuid.uuid4().hex[:8]}"
    with transactional(bootstrap, transactional_id) as older:
        older.init_transactions(30)
        older.begin_transaction()
        older.send(topic, b"older-1")
        newer = transactional(bootstrap, transactional_id)
        newer.init_transactions(30)
        with pytest.raises(kafkify.KafkaError) as sent:
            older.send(topic, b"older-2")
        with pytest.raises(kafkify.KafkaError) as produced:
            older.produce(topic, b"older-3")
        with pytest.raises(kafkify.KafkaError) as commit:
            older.commit_transaction(30)
    with newer:
        with newer.transaction():
            newer.send(topic, b"newer")
    assert [r.value for r in read_back(bootstrap, topic, 1)] == [b"newer"]
    for err in (sent.value, produced.value, commit.value):
        assert_fenced(err)


def consume(consumer: Consumer, count: int, timeout: float = 60.0) -> list[Message]:
    """The next ``count`` records of the consumer's subscription."""
    got: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        for msg in consumer.consume(num_messages=count - len(got), timeout=1.0):
            assert msg.error() is None, msg.error()
            got.append(msg)
    assert len(got) == count, f"{len(got)} of {count} records within {timeout} s"
    return got


def positions(consumer: Consumer) -> dict[int, int]:
    """The consumer's position (next offset to read) per assigned partition it read."""
    return {tp.partition: tp.offset for tp in consumer.position(consumer.assignment())}


def group_consumer(bootstrap: str, group: str, topic: str) -> Consumer:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([topic])
    return consumer


def process(
    producer: kafkify.Producer, consumer: Consumer, batch: list[Message], source: str, sink: str
) -> dict[int, int]:
    """One consume-transform-produce step inside the open transaction: a result per
    input record, plus the consumer's positions and group metadata; returns the
    offsets sent."""
    for msg in batch:
        producer.produce(sink, b"out-" + (msg.value() or b""), key=msg.key())
    sent = {p: offset for p, offset in positions(consumer).items() if offset >= 0}
    producer.send_offsets_to_transaction(
        [(source, p, offset) for p, offset in sent.items()],
        consumer.consumer_group_metadata(),
        30,
    )
    return sent


def test_send_offsets_to_transaction_commits_a_groups_offsets_atomically(
    bootstrap: str,
) -> None:
    """Consume-transform-produce with a real consumer group: the results and the
    consumer's offsets are committed in one transaction. After a commit the group's
    committed offsets are the ones sent; after an abort they are unchanged (and the
    results are invisible), so a consumer that joins the group afterwards resumes
    where the last commit left off and each input is processed exactly once."""
    source = create_topic(bootstrap, 2, "in")
    sink = create_topic(bootstrap, 1, "out")
    group = f"eos-{uuid.uuid4().hex[:8]}"
    with kafkify.Producer(bootstrap, value_serializer="bytes") as plain:
        for p in (0, 1):
            plain.send_batch(
                source, [b"p%d-%d" % (p, i) for i in range(10)], partition=p, raise_on_error=True
            )
    inputs = {b"p%d-%d" % (p, i) for p in (0, 1) for i in range(10)}

    with transactional(bootstrap) as producer:
        producer.init_transactions(30)
        consumer = group_consumer(bootstrap, group, source)
        try:
            first = consume(consumer, 10)
            producer.begin_transaction()
            committed = process(producer, consumer, first, source, sink)
            producer.commit_transaction(30)
            assert sum(committed.values()) == 10
            assert committed_offsets(bootstrap, group, source, 2) == committed

            rest = consume(consumer, 10)
            producer.begin_transaction()
            aborted = process(producer, consumer, rest, source, sink)
            producer.flush(30)  # the results reach the log before the abort
            producer.abort_transaction(30)
            assert aborted == {0: 10, 1: 10}
            assert committed_offsets(bootstrap, group, source, 2) == committed
        finally:
            consumer.close()  # leaves the group

        # A new member resumes at the committed offsets: the aborted step's inputs again.
        consumer = group_consumer(bootstrap, group, source)
        try:
            again = consume(consumer, 10)
            assert {m.value() for m in again} == {m.value() for m in rest}
            producer.begin_transaction()
            final = process(producer, consumer, again, source, sink)
            producer.commit_transaction(30)
        finally:
            consumer.close()
    # (the new member's positions name only the partitions it read from)
    assert {**committed, **final} == {0: 10, 1: 10}
    assert committed_offsets(bootstrap, group, source, 2) == {0: 10, 1: 10}

    visible = [r.value for r in read_back(bootstrap, sink, 20)]
    assert sorted(visible) == sorted(b"out-" + v for v in inputs)  # each input once
    in_log = read_back(bootstrap, sink, 30, isolation_level="read_uncommitted")
    assert len(in_log) == 30  # the aborted step's 10 results are in the log, hidden


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
        with pytest.raises(kafkify.ConfigError, match=r"offset\[, metadata\[, leader_epoch"):
            producer.send_offsets_to_transaction([("t", 0)], "group")
        with pytest.raises(kafkify.ConfigError, match="tuples"):
            producer.send_offsets_to_transaction([("t\0", 0, 1, "m")], "group")
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


def test_an_abort_right_after_a_commit_does_not_fail_the_producer(
    bootstrap: str, topic: str
) -> None:
    """librdkafka's issue #4849: an abort sent while the new transaction's first
    partition registration is unanswered fails, fatally, with INVALID_TXN_STATE
    (confluent-kafka 2.16: 8 of 40 such aborts here; kafkify before the fix: 38 of
    60). kafkify's abort waits for the next report first (transactions.rs,
    `settle_before_abort`). Each round commits a record, then sends one and aborts
    within 0 to 9 ms."""
    with transactional(bootstrap) as producer:
        producer.init_transactions(30)
        for i in range(20):
            producer.begin_transaction()
            producer.send(topic, b"committed-%d" % i, partition=i % 3)
            producer.commit_transaction(30)
            producer.begin_transaction()
            producer.produce(topic, b"aborted-%d" % i, partition=i % 3)
            time.sleep((i % 10) / 1000)
            producer.abort_transaction(30)
    committed = read_back(bootstrap, topic, 20)
    assert sorted(r.value for r in committed) == sorted(b"committed-%d" % i for i in range(20))
