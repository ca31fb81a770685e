"""An in-process Kafka cluster for tests: no broker, no Docker, no network.

:class:`MockCluster` runs librdkafka's mock brokers inside the test process (on
127.0.0.1), so code that uses a :class:`kafkify.Producer` is tested against a real
Kafka protocol implementation, with faults injected on demand::

    from kafkify.testing import MockCluster

    with MockCluster(num_brokers=3) as cluster:
        cluster.create_topic("orders", partitions=3)
        with cluster.producer() as producer:
            producer.send("orders", {"id": 1}, key="user-1")
        [record] = cluster.records("orders")
        assert record.value == b'{"id":1}'

With pytest, the ``kafka_cluster`` fixture (registered by installing kafkify)
hands each test a fresh three-broker cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from kafkify._kafkify import Producer, _MockCluster

__all__ = ["MockCluster", "Record"]


@dataclass(frozen=True)
class Record:
    """One record as the cluster stores it."""

    partition: int
    offset: int
    timestamp: int
    """Milliseconds since the epoch."""
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)


class MockCluster:
    """librdkafka's mock Kafka cluster, running in this process.

    Brokers are numbered ``1`` to ``num_brokers``. Topics are created on first use
    (4 partitions) unless created with :meth:`create_topic`. Supports producing
    (idempotent and transactional too) and reading back. Safe to use from any thread.

    Raises:
        InvalidArgumentError: ``num_brokers`` is not between 1 and 64.
    """

    def __init__(self, num_brokers: int = 3) -> None:
        self._cluster = _MockCluster(num_brokers)

    @property
    def bootstrap_servers(self) -> str:
        """``host:port,...`` of the brokers, for ``Producer(bootstrap_servers=...)``."""
        return self._cluster.bootstrap_servers

    @property
    def num_brokers(self) -> int:
        return self._cluster.num_brokers

    def producer(self, **options: Any) -> Producer:
        """A :class:`kafkify.Producer` connected to this cluster (options as usual)."""
        return Producer(self.bootstrap_servers, **options)

    def create_topic(self, name: str, partitions: int = 1, replication_factor: int = 1) -> None:
        """Create ``name`` with ``partitions`` partitions.

        Raises:
            InvalidArgumentError: ``partitions`` < 1, or a replication factor that
                is not between 1 and the number of brokers.
            KafkaError: the cluster refused (e.g. the topic exists).
        """
        self._cluster.create_topic(name, partitions, replication_factor)

    def set_leader(self, topic: str, partition: int, broker_id: int) -> None:
        """Make broker ``broker_id`` the leader of ``topic``'s ``partition`` (the
        topic is created if needed). Clients learn it from their next metadata.

        Raises:
            InvalidArgumentError: no such broker.
        """
        self._cluster.set_leader(topic, partition, broker_id)

    def broker_down(self, broker_id: int) -> None:
        """Disconnect broker ``broker_id`` and refuse new connections until
        :meth:`broker_up`. Partition leadership does not move.

        Raises:
            InvalidArgumentError: no such broker.
        """
        self._cluster.broker_down(broker_id)

    def broker_up(self, broker_id: int) -> None:
        """Let broker ``broker_id`` accept connections again.

        Raises:
            InvalidArgumentError: no such broker.
        """
        self._cluster.broker_up(broker_id)

    def set_rtt(self, broker_id: int, ms: int) -> None:
        """Delay every response of broker ``broker_id`` by ``ms`` milliseconds
        (0 removes the delay).

        Raises:
            InvalidArgumentError: no such broker, or a negative delay.
        """
        self._cluster.set_rtt(broker_id, ms)

    def push_request_errors(self, api: str, errors: Sequence[str | int]) -> None:
        """Fail the next ``len(errors)`` requests of type ``api`` (e.g. ``"Produce"``,
        ``"InitProducerId"``, ``"Metadata"``), one error each, in order.

        Errors are Kafka error names (``"NOT_LEADER_OR_FOLLOWER"``,
        ``"TOPIC_AUTHORIZATION_FAILED"``; case and underscores do not matter, so
        kafkify's exception names such as ``"NotLeaderForPartition"`` work too) or
        numeric codes. ``"_TRANSPORT"`` makes the broker drop the connection instead.

        Raises:
            InvalidArgumentError: an unknown request type or error name (with a
                suggestion).
        """
        self._cluster.push_request_errors(api, list(errors))

    def clear_request_errors(self, api: str) -> None:
        """Forget the errors still pushed for ``api``.

        Raises:
            InvalidArgumentError: an unknown request type.
        """
        self._cluster.clear_request_errors(api)

    def records(self, topic: str, timeout: float | None = 30.0) -> list[Record]:
        """Everything ``topic`` holds, sorted by (partition, offset): committed
        records only (aborted transactions are skipped). ``timeout`` in seconds;
        ``math.inf`` or None: no limit.

        Raises:
            UnknownTopicOrPartitionError: the cluster has no such topic.
            KafkaTimeoutError: not every partition was read to its end within
                ``timeout`` seconds (a broker that is down, say).
            ConfigError: ``timeout`` is NaN or negative.
        """
        return [
            Record(partition, offset, timestamp, key, value, headers)
            for partition, offset, timestamp, key, value, headers in self._cluster.read_topic(
                topic, timeout
            )
        ]

    @property
    def closed(self) -> bool:
        return self._cluster.closed

    def close(self) -> None:
        """Stop the brokers (idempotent). Producers still connected see them vanish."""
        self._cluster.close()

    def __enter__(self) -> MockCluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<kafkify.testing.MockCluster {self.bootstrap_servers!r}{state}>"
