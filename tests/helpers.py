"""Helpers shared by the tests: topics, reading records back with an independent
client (confluent-kafka's Consumer), and running code in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import kafka_cluster  # noqa: E402  (a script module, found through the path above)


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
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topic = NewTopic(
        name,
        num_partitions=partitions,
        replication_factor=replication_factor,
        config=config or {},
    )
    admin.create_topics([topic])[name].result(timeout=30)
    # CreateTopics returns once the controller has the topic; the broker serving it
    # may learn of it a moment later. Wait so the first send does not race it.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        meta = admin.list_topics(name, timeout=10).topics.get(name)
        if (
            meta is not None
            and meta.error is None
            and len(meta.partitions) == partitions
            and all(p.leader >= 0 for p in meta.partitions.values())
        ):
            return name
        time.sleep(0.05)
    raise AssertionError(f"topic {name}: partitions without a leader after 30 s")


@dataclass(frozen=True)
class Consumed:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    timestamp: int


def read_back(bootstrap: str, topic: str, expected: int, timeout: float = 60.0) -> list[Consumed]:
    """Consume ``topic`` from the beginning of every partition until ``expected``
    records arrived (or ``timeout``); fail on a consumer error."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"readback-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=30)
        partitions = sorted(metadata.topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        records: list[Consumed] = []
        deadline = time.monotonic() + timeout
        while len(records) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=1000, timeout=0.5):
                if msg.error():
                    raise AssertionError(f"consumer error: {msg.error()}")
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
        return records
    finally:
        consumer.close()


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
