"""conftest.py for kafka-python's own producer tests (from its sdist), run against
kafkify's broker: copied to the root of the unpacked test copy by
``scripts/kafka_python_conformance.py`` (the sdist's ``test/integration/conftest.py``,
which starts its own ZooKeeper/Kafka, is removed there).

Environment:
- ``KAFKIFY_CONFORMANCE_TARGET``: ``real`` (kafka-python itself) or ``shim``
  (``kafka.KafkaProducer``, ``kafka.serializer`` and ``kafka.future`` resolve to
  ``kafkify.compat.kafka``'s);
- ``KAFKA_BOOTSTRAP``: the broker's PLAINTEXT ``host:port``;
- ``KAFKA_VERSION``: the broker's version (the sdist's tests read it);
- ``KAFKIFY_CONFORMANCE_REPORT``: a JSON file that gets ``{nodeid: outcome}``.

Only the producer side is swapped: the consumers and the admin client the tests use
to check what was written stay kafka-python's own (the independent reader), so a
test passes through the shim only if kafka-python reads back what the shim wrote.
The structs (``TopicPartition``, ``OffsetAndMetadata``) stay kafka-python's too: they
are shared with the consumer, and the shim takes them as they are.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import kafka
import kafka.future
import kafka.producer
import kafka.serializer
import pytest

# The sdist's tests import their helpers as ``test.testutil``: make ``test`` the copied
# sdist tree, not the standard library's ``test`` package a plugin may have imported.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
for _mod in [m for m in sys.modules if m == "test" or m.startswith("test.")]:
    del sys.modules[_mod]

TARGET = os.environ.get("KAFKIFY_CONFORMANCE_TARGET", "real")
BOOTSTRAP = os.environ["KAFKA_BOOTSTRAP"]

if TARGET == "shim":
    from kafkify.compat import kafka as shim
    from kafkify.compat.kafka import future as shim_future
    from kafkify.compat.kafka import serializer as shim_serializer

    # The real consumer wraps anything that is not its own Deserializer as a plain
    # callable; the shim's DefaultSerializer (the tests pass one to both sides) is a
    # Deserializer object, so tell kafka-python's ABC about it.
    kafka.serializer.Deserializer.register(shim_serializer.Deserializer)
    kafka.KafkaProducer = shim.KafkaProducer  # type: ignore[misc,assignment]
    kafka.producer.KafkaProducer = shim.KafkaProducer  # type: ignore[misc,assignment]
    sys.modules["kafka.serializer"] = shim_serializer
    kafka.serializer = shim_serializer  # type: ignore[assignment]
    for _name in ("DefaultSerializer", "JsonSerializer", "Serializer", "Deserializer"):
        setattr(kafka, _name, getattr(shim_serializer, _name))
    sys.modules["kafka.future"] = shim_future
    kafka.future = shim_future  # type: ignore[assignment]
elif TARGET != "real":
    raise RuntimeError(f"KAFKIFY_CONFORMANCE_TARGET={TARGET!r}: expected real or shim")

_OUTCOMES: dict[str, str] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Record one outcome per test: failed/error beats skipped beats passed."""
    if report.when == "call" or report.outcome != "passed":
        outcome = report.outcome
        if report.when != "call" and report.outcome == "failed":
            outcome = "error"
        if _OUTCOMES.get(report.nodeid) not in ("failed", "error"):
            _OUTCOMES[report.nodeid] = outcome


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get("KAFKIFY_CONFORMANCE_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump(_OUTCOMES, f, indent=1, sort_keys=True)


def _params(request: pytest.FixtureRequest, **overrides: Any) -> dict[str, Any]:
    """What the sdist's ``client_params`` gives, for our broker."""
    from test.testutil import env_kafka_version, random_string

    params: dict[str, Any] = {
        "client_id": f"{request.node.name}_{random_string(4)}",
        "api_version": env_kafka_version(),
    }
    params.update(overrides)
    params["bootstrap_servers"] = BOOTSTRAP
    return params


def _factory(
    make: Callable[..., Any], request: pytest.FixtureRequest
) -> Iterator[Callable[..., contextlib.AbstractContextManager[Any]]]:
    clients: list[Any] = []

    @contextlib.contextmanager
    def factory(**overrides: Any) -> Iterator[Any]:
        client = make(**_params(request, **overrides))
        clients.append(client)
        try:
            yield client
        finally:
            client.close()

    yield factory
    for client in clients:
        with contextlib.suppress(Exception):
            client.close()


@pytest.fixture
def kafka_producer_factory(
    request: pytest.FixtureRequest,
) -> Iterator[Callable[..., contextlib.AbstractContextManager[Any]]]:
    """The sdist's factory: ``kafka.KafkaProducer`` (the shim's in shim mode)."""
    yield from _factory(lambda **p: kafka.KafkaProducer(**p), request)


@pytest.fixture
def producer(kafka_producer_factory: Callable[..., Any]) -> Iterator[Any]:
    with kafka_producer_factory() as p:
        yield p


@pytest.fixture
def kafka_consumer_factory(
    request: pytest.FixtureRequest,
) -> Iterator[Callable[..., contextlib.AbstractContextManager[Any]]]:
    """kafka-python's own KafkaConsumer, with the sdist's defaults."""

    def make(topics: tuple[str, ...] = (), **params: Any) -> Any:
        defaults = {"heartbeat_interval_ms": 500, "auto_offset_reset": "earliest"}
        return kafka.KafkaConsumer(*topics, **{**defaults, **params})

    # The sdist passes topics by keyword (topics=...): _factory hands it through.
    yield from _factory(make, request)


@pytest.fixture
def kafka_admin_client_factory(
    request: pytest.FixtureRequest,
) -> Iterator[Callable[..., contextlib.AbstractContextManager[Any]]]:
    """kafka-python's own KafkaAdminClient."""
    yield from _factory(lambda **p: kafka.KafkaAdminClient(**p), request)
