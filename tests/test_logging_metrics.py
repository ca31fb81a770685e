"""Logging (logger ``kafkify.<client_id>``), global errors (``on_error``), statistics
(``metrics()``, ``on_stats``) and kafkify's own counters."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator

import pytest

import kafkify
from kafkify.testing import MockCluster

from helpers import closed_port

SECRET = "S3cr3t-hunter2-value"


class Collect(logging.Handler):
    """Every record reaching the ``kafkify`` logger tree, whatever the level."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lock_ = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self.lock_:
            self.records.append(record)

    def texts(self) -> list[str]:
        with self.lock_:
            return [self.format(r) for r in self.records]


@pytest.fixture
def collected() -> Iterator[Collect]:
    handler = Collect()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    logger = logging.getLogger("kafkify")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def test_a_failure_without_callback_is_logged_once_at_error_on_the_producer_logger(
    kafka_cluster: MockCluster, collected: Collect
) -> None:
    kafka_cluster.create_topic("audit", partitions=1)
    with kafka_cluster.producer(client_id="audit-svc", linger_ms=0) as producer:
        producer.send("audit", "warm-up")
        kafka_cluster.push_request_errors("Produce", ["TOPIC_AUTHORIZATION_FAILED"])
        producer.produce("audit", "lost")
        producer.flush()
    errors = [
        r for r in collected.records if r.levelno >= logging.ERROR and "audit" in r.getMessage()
    ]
    assert len(errors) == 1
    assert errors[0].name == "kafkify.audit-svc"
    assert "TopicAuthorizationFailed" in errors[0].getMessage()


def test_successful_deliveries_are_logged_at_debug_when_asked(
    kafka_cluster: MockCluster, collected: Collect
) -> None:
    with kafka_cluster.producer(client_id="chatty", log_deliveries=True) as producer:
        metas = [producer.send("chatty-topic", i) for i in range(3)]
    lines = [
        r.getMessage()
        for r in collected.records
        if r.name == "kafkify.chatty"
        and r.levelno == logging.DEBUG
        and r.getMessage().startswith("delivered")
    ]
    assert [line.split(" in ")[0] for line in lines] == [
        f"delivered to chatty-topic [{m.partition}] at offset {m.offset}" for m in metas
    ]


def test_global_errors_reach_on_error_and_the_log(collected: Collect) -> None:
    errors: queue.Queue[kafkify.KafkaError] = queue.Queue()
    producer = kafkify.Producer(
        f"127.0.0.1:{closed_port()}", client_id="lonely", on_error=errors.put
    )
    try:
        first = errors.get(timeout=30)  # librdkafka reports the refused connection
        assert isinstance(first, kafkify.KafkaError)
        seen = [first]
        while not any(isinstance(e, kafkify.NoBrokersAvailable) for e in seen):
            seen.append(errors.get(timeout=30))
    finally:
        producer.close()
    logged = [r for r in collected.records if r.name == "kafkify.lonely"]
    assert any(r.levelno == logging.ERROR and "AllBrokersDown" in r.getMessage() for r in logged)


def test_no_secret_in_any_log_record_or_error(collected: Collect) -> None:
    errors: queue.Queue[kafkify.KafkaError] = queue.Queue()
    with MockCluster(num_brokers=1) as cluster:
        producer = cluster.producer(
            client_id="secretive",
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism="PLAIN",
            sasl_plain_username="alice",
            sasl_plain_password=SECRET,
            config={"debug": "all"},  # librdkafka's most talkative setting, config dump included
            delivery_timeout_ms=1500,
            on_error=errors.put,
        )
        with producer:
            # The mock brokers do not speak SASL: they refuse the client, and the
            # record fails at once with the refusal (src/refusal.rs).
            with pytest.raises(kafkify.AuthenticationError) as refused:
                producer.send("t", "x", timeout=None)
            assert SECRET not in str(refused.value)
            assert SECRET not in repr(producer) and SECRET not in str(producer.config)
    texts = collected.texts()
    assert len(texts) > 100, "debug=all should have produced plenty of log lines"
    assert any("secretive" in t for t in texts)
    leaked = [t for t in texts if SECRET in t]
    assert leaked == []
    while not errors.empty():
        assert SECRET not in str(errors.get())


def test_counters_work_with_statistics_off(kafka_cluster: MockCluster) -> None:
    with kafka_cluster.producer() as producer:
        assert producer.metrics() == {
            "kafkify": {
                "sent": 0,
                "delivered": 0,
                "failed": 0,
                "in_flight": 0,
                "queue_bytes": 0,
                "avg_delivery_latency_ms": None,
            }
        }
        for i in range(10):
            producer.send("counted", i)
        kafka_cluster.push_request_errors("Produce", ["TOPIC_AUTHORIZATION_FAILED"])
        with pytest.raises(kafkify.AuthorizationError):
            producer.send("counted", "refused")
    metrics = producer.metrics()  # still answers after close()
    assert set(metrics) == {"kafkify"}
    own = metrics["kafkify"]
    assert {k: own[k] for k in ("sent", "delivered", "failed", "in_flight", "queue_bytes")} == {
        "sent": 11,
        "delivered": 10,
        "failed": 1,
        "in_flight": 0,
        "queue_bytes": 0,
    }
    assert own["avg_delivery_latency_ms"] > 0


def test_statistics_are_refreshed_and_passed_to_on_stats(kafka_cluster: MockCluster) -> None:
    reports: queue.Queue[dict[str, object]] = queue.Queue()
    with kafka_cluster.producer(statistics_interval_ms=100, on_stats=reports.put) as producer:
        producer.send("stats-topic", "x")
        first = reports.get(timeout=30)
        second = reports.get(timeout=30)
        latest = producer.metrics()
    assert first["type"] == "producer" and "brokers" in first and "topics" in first
    assert second["ts"] > first["ts"], "refreshed every statistics_interval_ms"
    assert latest["ts"] >= second["ts"]
    assert latest["kafkify"]["delivered"] == 1
    assert "stats-topic" in latest["topics"]


def test_observability_options_are_checked() -> None:
    with pytest.raises(kafkify.ConfigError, match="statistics_interval_ms"):
        kafkify.Producer("127.0.0.1:9", on_stats=print)
    with pytest.raises(kafkify.ConfigError, match=r"on_error.*callable"):
        kafkify.Producer("127.0.0.1:9", on_error="print")
    with pytest.raises(kafkify.ConfigError, match="log_deliveries"):
        kafkify.Producer("127.0.0.1:9", log_deliveries="yes")
    with pytest.raises(kafkify.ConfigError, match="keyword argument"):
        kafkify.Producer("127.0.0.1:9", config={"on_error": print})
    # Taken from the options without touching the caller's mappings.
    options = {"on_error": print, "log_deliveries": True}
    kafkify.Producer("127.0.0.1:9", **options).close()
    mapping = {"bootstrap_servers": "127.0.0.1:9", "on_stats": print, "statistics_interval_ms": 50}
    kafkify.Producer.from_config(mapping).close()
    assert options == {"on_error": print, "log_deliveries": True}
    assert set(mapping) == {"bootstrap_servers", "on_stats", "statistics_interval_ms"}


def test_a_fatal_idempotence_error_reaches_on_error_and_the_log(collected: Collect) -> None:
    errors: queue.Queue[kafkify.KafkaError] = queue.Queue()
    with MockCluster(num_brokers=1) as cluster:
        # No producer id, ever: an idempotent producer cannot go on.
        cluster.push_request_errors("InitProducerId", ["CLUSTER_AUTHORIZATION_FAILED"])
        with cluster.producer(client_id="doomed", on_error=errors.put) as producer:
            # The queued record, and each one sent after, fails with the fatal error
            # itself (librdkafka says "purged" and "Fatal"): class, reason, .fatal.
            with pytest.raises(kafkify.AuthorizationError) as queued:
                producer.send("t", "x")
            with pytest.raises(kafkify.AuthorizationError) as refused:
                producer.send("t", "y")
            results = producer.send_batch("t", ["a", "b"])
            fatal = errors.get(timeout=30)
            while not fatal.fatal:
                fatal = errors.get(timeout=30)
    for failed in [queued.value, refused.value, *results]:
        assert isinstance(failed, kafkify.AuthorizationError) and failed.fatal
        assert "fatal error" in str(failed) and "ClusterAuthorizationFailed" in str(failed)
    assert 'delivery to topic "t" failed' in str(queued.value)
    assert 'could not queue a record for topic "t"' in str(refused.value)
    assert isinstance(fatal, kafkify.AuthorizationError) and not fatal.retriable
    assert "fatal error" in str(fatal) and "ClusterAuthorizationFailed" in str(fatal)
    logged = [r for r in collected.records if r.name == "kafkify.doomed"]
    assert any(r.levelno == logging.ERROR and "fatal error" in r.getMessage() for r in logged)
