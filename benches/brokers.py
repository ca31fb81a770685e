"""The brokers benches/compare.py measures on, each started once for its part of
the run (issue 12):

  kafka-1  Apache Kafka, 1 KRaft node (scripts/kafka_cluster.py, the broker of record)
  kafka-3  Apache Kafka, 3 nodes: replication factor 3, min.insync.replicas=2, so
           acks=all waits for a follower too
  tansu    Tansu, fresh for every run: its in-memory storage slows down as it fills,
           so a shared one would favour whoever runs first
  mock     librdkafka's in-process mock cluster (3 brokers): no broker round trips,
           the client-side ceiling; only librdkafka clients can use it, and its
           records are counted by probe offsets (it cannot be read by another client)

Every measured topic is created before its run with PARTITIONS partitions (Kafka's
test cluster would auto-create 1), so every broker sees the same layout; the mock
cluster auto-creates its topics with its own default.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "scripts"))

# scripts/ modules, found through the path above
import kafka_cluster  # noqa: E402

import tansu_broker  # noqa: E402

BROKERS = ("kafka-1", "kafka-3", "tansu", "mock")
PARTITIONS = 6
# What a contender is told (contenders.py --broker): which protocol quirks apply.
KIND = {"kafka-1": "kafka", "kafka-3": "kafka", "tansu": "tansu", "mock": "mock"}


class Broker:
    """One of BROKERS for the length of a ``with`` block; ``run(topic)`` gives the
    bootstrap for one contender's run, with its topic created ("" for the mock)."""

    def __init__(self, name: str, bootstrap: str | None = None) -> None:
        if name not in BROKERS:
            raise ValueError(f"unknown broker {name!r}: choose from {', '.join(BROKERS)}")
        self.name, self.kind = name, KIND[name]
        self._bootstrap = bootstrap  # a running broker given with --bootstrap
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Broker:
        if self.kind == "kafka" and self._bootstrap is None:
            size = 3 if self.name == "kafka-3" else 1
            cluster = self._stack.enter_context(kafka_cluster.running(size, security=False))
            self._bootstrap = cluster.bootstrap_servers
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    @property
    def bootstrap(self) -> str | None:
        """The session's bootstrap (None for the mock, and for Tansu, which is per run)."""
        return self._bootstrap

    @contextlib.contextmanager
    def run(self, topic: str) -> Iterator[str]:
        if self.kind == "mock":
            yield ""
        elif self.kind == "tansu" and self._bootstrap is None:
            with tansu_broker.running() as tansu:
                tansu_broker.create_topic(tansu.bootstrap_servers, topic, PARTITIONS)
                yield tansu.bootstrap_servers
        else:
            assert self._bootstrap is not None
            kafka_cluster.create_topic(self._bootstrap, topic, PARTITIONS)
            yield self._bootstrap
