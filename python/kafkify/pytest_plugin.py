"""pytest plugin (registered through the ``pytest11`` entry point): fixtures for
testing code that produces to Kafka, without a broker.

``kafka_cluster``: a fresh :class:`kafkify.testing.MockCluster` with three brokers
per test, closed afterwards::

    def test_publishes_order(kafka_cluster):
        publish_order(kafka_cluster.bootstrap_servers, order_id=7)
        [record] = kafka_cluster.records("orders")
        assert json.loads(record.value) == {"order_id": 7}
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kafkify.testing import MockCluster


@pytest.fixture
def kafka_cluster() -> Iterator[MockCluster]:
    """A three-broker in-process Kafka cluster, closed when the test ends."""
    with MockCluster(num_brokers=3) as cluster:
        yield cluster
