"""Test fixtures: real Apache Kafka clusters, started once per session.

``scripts/kafka_cluster.py`` starts them on 127.0.0.1 and stops them by their PIDs:
- ``kafka``: one KRaft node with every listener (PLAINTEXT, SSL, mTLS, SASL_PLAINTEXT,
  SASL_SSL with PLAIN/SCRAM-SHA-256/SCRAM-SHA-512, a wrong-hostname cert) and
  StandardAuthorizer; most tests use its PLAINTEXT listener through ``bootstrap``;
- ``kafka3``: three nodes (replication factor 3, ``min.insync.replicas=2``) for the
  failure tests, started the first time a test asks for it.

``KAFKA_BOOTSTRAP=host:port`` points ``bootstrap`` at an existing broker instead;
``KAFKA_CLUSTER=cluster.json`` points ``kafka`` (the security tests, and ``bootstrap``)
at an existing cluster with its listeners, PKI and users. The failure tests always
start their own 3 nodes: they kill them by PID. Records are read back with
confluent-kafka's Consumer (``helpers.read_back``) and compared byte for byte.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import FIGURES, create_topic, kafka_cluster


@pytest.fixture(scope="session")
def kafka() -> Iterator[kafka_cluster.Listeners]:
    """A 1-node Kafka cluster with every security listener, or the existing cluster
    that ``KAFKA_CLUSTER`` describes (a JSON file, see ``kafka_cluster.ExternalCluster``;
    ``scripts/kafka_cluster.py run --describe FILE`` writes one)."""
    described = os.environ.get("KAFKA_CLUSTER")
    if described:
        yield kafka_cluster.ExternalCluster.load(described)
        return
    with kafka_cluster.running(1, security=True) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def kafka3() -> Iterator[kafka_cluster.Cluster]:
    """A 3-node Kafka cluster (RF 3, min.insync.replicas 2), PLAINTEXT only."""
    with kafka_cluster.running(3, security=False) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def bootstrap(request: pytest.FixtureRequest) -> str:
    """``host:port`` of the test broker's PLAINTEXT listener."""
    external = os.environ.get("KAFKA_BOOTSTRAP")
    if external:
        return external
    cluster: kafka_cluster.Listeners = request.getfixturevalue("kafka")
    return cluster.bootstrap_servers


@pytest.fixture
def topic(bootstrap: str) -> str:
    """A fresh 3-partition topic."""
    return create_topic(bootstrap, 3)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the figures tests collected in ``helpers.FIGURES`` (failover counts)."""
    for section, lines in FIGURES.items():
        if lines:
            terminalreporter.section(section)
            for line in lines:
                terminalreporter.write_line(line)
