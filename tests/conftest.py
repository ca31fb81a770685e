"""Test fixtures: a real Kafka-protocol broker, shared by the whole session.

The broker is Tansu on 127.0.0.1, started once per session by
``scripts/tansu_broker.py`` (or ``KAFKA_BOOTSTRAP`` from the environment when set),
and stopped by its PID. Records are read back with confluent-kafka's Consumer
(``helpers.read_back``) and compared byte for byte.

Tansu's known gaps (see ../shared/DESIGN.md): never trust its ListOffsets "latest"
or lag; read back by consuming from the beginning.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import create_topic, tansu_broker


@pytest.fixture(scope="session")
def bootstrap() -> Iterator[str]:
    """``host:port`` of the test broker."""
    external = os.environ.get("KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    broker = tansu_broker.start()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture
def topic(bootstrap: str) -> str:
    """A fresh 3-partition topic."""
    return create_topic(bootstrap, 3)
