"""Helpers shared by the tests: topics, reading records back with an independent
client (confluent-kafka's Consumer), and running code in a fresh interpreter."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import kafka_cluster  # noqa: E402  (a script module, found through the path above)

#: Figures a test wants in the run's output (printed by conftest's
#: ``pytest_terminal_summary``, so CI's log has them too): section -> lines.
FIGURES: dict[str, list[str]] = {}


def unique_topic(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def create_topic(
    bootstrap: str,
    partitions: int,
    prefix: str = "t",
    config: dict[str, str] | None = None,
    replication_factor: int = -1,
) -> str:
    """Create a fresh topic and wait until every partition has a leader."""
    name = unique_topic(prefix)
    kafka_cluster.create_topic(
        bootstrap, name, partitions, replication_factor=replication_factor, config=config
    )
    return name


@dataclass(frozen=True)
class Consumed:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    timestamp: int


def read_back(
    bootstrap: str,
    topic: str,
    expected: int,
    timeout: float = 60.0,
    isolation_level: str = "read_committed",
) -> list[Consumed]:
    """Every record of ``topic``, as a consumer with ``isolation_level`` sees it,
    sorted by (partition, offset); fail on a consumer error.

    Each partition is consumed from its first offset to its end: the high watermark
    Kafka's ListOffsets reports when the call starts (the log end, including aborted
    records and transaction markers). Reading stops once every partition has
    reported EOF at or past that offset and at least ``expected`` records arrived,
    or at ``timeout``; so records beyond ``expected`` (duplicates, records that
    should not be there) are returned too, for the caller to see. A read_committed
    consumer (the default, as in librdkafka) stops at the last stable offset, so it
    also waits for the markers of transactions that just committed or aborted, and
    never returns aborted records; ``"read_uncommitted"`` returns them as well.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"readback-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": isolation_level,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=30)
        partitions = sorted(metadata.topics[topic].partitions)
        ends = {p: log_end(consumer, TopicPartition(topic, p)) for p in partitions}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        records: list[Consumed] = []
        at_eof: dict[int, int] = {}  # partition -> the offset of its latest EOF
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(records) >= expected and all(at_eof.get(p, -1) >= ends[p] for p in partitions):
                break
            for msg in consumer.consume(num_messages=1000, timeout=0.5):
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        at_eof[msg.partition()] = msg.offset()
                        continue
                    raise AssertionError(f"consumer error: {error}")
                at_eof.pop(msg.partition(), None)
                records.append(
                    Consumed(
                        topic=msg.topic(),
                        partition=msg.partition(),
                        offset=msg.offset(),
                        key=msg.key(),
                        value=msg.value(),
                        headers=list(msg.headers() or []),
                        timestamp=msg.timestamp()[1],
                    )
                )
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()


def log_end(consumer: Consumer, partition: TopicPartition, timeout: float = 30.0) -> int:
    """``partition``'s high watermark, asked of its leader. Kafka answers
    NOT_LEADER_OR_FOLLOWER (or LEADER_NOT_AVAILABLE) while leadership is still
    settling after the topic was made, or moving between brokers: ask again then,
    until ``timeout``. (Seen in CI: a fresh topic's partition that no record went to.)"""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return consumer.get_watermark_offsets(partition, timeout=timeout, cached=False)[1]
        except KafkaException as e:
            settling = (KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE)
            if e.args[0].code() not in settling or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def committed_offsets(
    bootstrap: str, group: str, topic: str, partitions: int, timeout: float = 60.0
) -> dict[int, int]:
    """The offsets ``group`` has committed for ``topic`` (partition -> next offset
    to read; partitions without a committed offset are left out), asked of the
    group coordinator with ``require_stable``: while a transaction that commits
    offsets for the group is still being completed, the broker answers
    UNSTABLE_OFFSET_COMMIT and this asks again, until ``timeout``."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    request = ConsumerGroupTopicPartitions(
        group, [TopicPartition(topic, p) for p in range(partitions)]
    )
    deadline = time.monotonic() + timeout
    while True:
        future = admin.list_consumer_group_offsets([request], require_stable=True)[group]
        result = future.result(timeout=30)
        errors = [tp.error for tp in result.topic_partitions if tp.error is not None]
        if not errors:
            return {tp.partition: tp.offset for tp in result.topic_partitions if tp.offset >= 0}
        if time.monotonic() > deadline:
            raise AssertionError(f"group {group}: offsets not stable after {timeout} s: {errors}")
        time.sleep(0.1)


def run_script(code: str, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (the same one, so the installed wheel)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(ROOT / "tests"),
    )


def spawn(code: str, *args: str) -> subprocess.Popen[str]:
    """Start ``code`` in a fresh interpreter with pipes, to signal it while it runs."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(ROOT / "tests"),
    )


def closed_port() -> int:
    """A loopback port nobody listens on (a dead broker)."""
    return kafka_cluster.free_port()


@contextlib.contextmanager
def only_alice_writes(bootstrap: str, topic: str) -> Iterator[None]:
    """An ACL allowing alice WRITE on ``topic`` (so, with the ACL present, nobody
    else may use it), in effect on the broker before the block runs."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    binding = AclBinding(
        ResourceType.TOPIC,
        topic,
        ResourcePatternType.LITERAL,
        "User:alice",
        "*",
        AclOperation.WRITE,
        AclPermissionType.ALLOW,
    )
    match = AclBindingFilter(
        ResourceType.TOPIC,
        topic,
        ResourcePatternType.LITERAL,
        None,
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    for future in admin.create_acls([binding]).values():
        future.result(timeout=30)
    try:
        # DescribeAcls answers from the broker's authorizer: once it lists the
        # binding, the broker enforces it.
        deadline = time.monotonic() + 30
        while binding not in admin.describe_acls(match).result(timeout=10):
            assert time.monotonic() < deadline, f"ACL on {topic} not in effect after 30 s"
            time.sleep(0.1)
        yield
    finally:
        for future in admin.delete_acls([match]).values():
            future.result(timeout=30)
