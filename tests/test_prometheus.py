"""kafkify.prometheus: a real producer's metrics, served over HTTP by prometheus_client
from a dedicated registry, scraped and parsed as Prometheus would."""

from __future__ import annotations

import contextlib
import gc
import secrets
import threading
import urllib.request
import uuid
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.parser import text_string_to_metric_families

import kafkify
from kafkify.compat.confluent_kafka import Producer as ConfluentProducer
from kafkify.compat.kafka import KafkaProducer
from kafkify.prometheus import METRICS, ProducerCollector
from kafkify.testing import MockCluster

from helpers import create_topic, run_script

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@contextlib.contextmanager
def served(registry: CollectorRegistry) -> Iterator[str]:
    """``registry`` on an HTTP server of its own (a free port on 127.0.0.1): its URL."""
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        yield f"http://127.0.0.1:{server.server_port}/metrics"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def scrape(url: str) -> Samples:
    """Every sample at ``url``: (name, labels) -> value."""
    with urllib.request.urlopen(url, timeout=30) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def values(samples: Samples, name: str, **labels: str) -> list[float]:
    """The values of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return [v for (n, ls), v in samples.items() if n == name and wanted <= ls]


def one(samples: Samples, name: str, **labels: str) -> float:
    [value] = values(samples, name, **labels)
    return value


class Ticks:
    """``on_stats``: lets a test wait for librdkafka's next statistics tick."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.count = 0

    def __call__(self, metrics: dict[str, Any]) -> None:
        with self.cond:
            self.count += 1
            self.cond.notify_all()

    def wait_next(self) -> None:
        with self.cond:
            seen = self.count
            # A bound against hanging only: ticks come every 100 ms.
            assert self.cond.wait_for(lambda: self.count > seen, timeout=60)


def test_a_real_producers_metrics_scraped_over_http(bootstrap: str) -> None:
    topic = create_topic(bootstrap, 3, prefix="prom")
    small = create_topic(bootstrap, 1, prefix="prom-small", config={"max.message.bytes": "1024"})
    client_id = f"prom-{uuid.uuid4().hex[:8]}"
    ticks = Ticks()
    registry = CollectorRegistry()
    with kafkify.Producer(
        bootstrap, client_id=client_id, statistics_interval_ms=100, on_stats=ticks
    ) as producer:
        ProducerCollector(producer, registry=registry)
        sent = 0
        for i in range(50):
            producer.produce(topic, {"i": i}, key=str(i))
            sent += 1
        failed = 0
        for _ in range(2):
            # Hex, so that lz4 (the default compression) keeps it over the limit.
            with pytest.raises(kafkify.MessageSizeTooLargeError):
                producer.send(small, secrets.token_hex(4096))
            sent += 1
            failed += 1
        producer.flush()
        with served(registry) as url:
            # rtt and batch sizes are librdkafka's rolling windows, reset at every tick:
            # send one more record, and scrape right after the tick that covers it
            # (again if that scrape came after the next tick, a window without traffic).
            for _ in range(20):
                producer.send(topic, "probe")
                sent += 1
                ticks.wait_next()
                samples = scrape(url)
                if values(samples, "kafkify_broker_rtt_avg_seconds") and values(
                    samples, "kafkify_topic_batch_size_avg_bytes", topic=topic
                ):
                    break
            else:
                raise AssertionError(f"no tick with rtt and batch metrics: {samples}")

    assert one(samples, "kafkify_records_sent_total", client_id=client_id) == sent
    assert one(samples, "kafkify_records_delivered_total", client_id=client_id) == sent - failed
    assert one(samples, "kafkify_records_failed_total", client_id=client_id) == failed
    assert one(samples, "kafkify_records_in_flight", client_id=client_id) == 0
    assert one(samples, "kafkify_queue_bytes", client_id=client_id) == 0
    assert one(samples, "kafkify_librdkafka_queue_messages", client_id=client_id) == 0

    # One real broker (node 1); the bootstrap connection (node id -1) is left out.
    [(_, broker_labels)] = [k for k in samples if k[0] == "kafkify_broker_up"]
    broker = dict(broker_labels)
    assert broker["client_id"] == client_id
    assert broker["node_id"] != "-1"
    assert not broker["broker"].endswith("/bootstrap")
    assert one(samples, "kafkify_broker_up") == 1
    assert 0 < one(samples, "kafkify_broker_rtt_avg_seconds") < 60  # seconds, not µs
    assert one(samples, "kafkify_broker_rtt_p99_seconds") > 0
    assert one(samples, "kafkify_broker_requests_total") > 0
    assert one(samples, "kafkify_broker_produce_requests_total") > 0
    assert one(samples, "kafkify_broker_sent_bytes_total") > 0
    assert one(samples, "kafkify_broker_requests_in_flight") == 0
    for name in ("kafkify_broker_request_errors_total", "kafkify_broker_request_retries_total"):
        assert one(samples, name) >= 0

    assert one(samples, "kafkify_topic_batch_size_avg_bytes", topic=topic) > 0
    assert one(samples, "kafkify_topic_batch_size_p99_bytes", topic=topic) > 0
    assert one(samples, "kafkify_topic_batch_records_avg", topic=topic) >= 1
    assert one(samples, "kafkify_topic_batch_records_p99", topic=topic) >= 1

    # Every metric the table names carries client_id, and nothing else is reported.
    reported = {name for name, _ in samples}
    table = {s.name + ("_total" if s.kind == "counter" else "") for s in METRICS}
    assert reported <= table
    assert all(dict(labels)["client_id"] == client_id for _, labels in samples)


def test_a_garbage_collected_producer_drops_out_of_the_scrape(bootstrap: str) -> None:
    registry = CollectorRegistry()
    producer = kafkify.Producer(bootstrap, client_id="prom-gone", statistics_interval_ms=100)
    collector = ProducerCollector(producer, registry=registry)
    producer.send(create_topic(bootstrap, 1, prefix="prom"), "one")
    with served(registry) as url:
        assert one(scrape(url), "kafkify_records_delivered_total", client_id="prom-gone") == 1
        gone = weakref.ref(producer)
        del producer
        gc.collect()
        assert gone() is None  # the collector did not keep it alive
        assert list(collector.collect()) == []
        assert not [name for name, _ in scrape(url) if name.startswith("kafkify_")]


def test_statistics_off_still_gives_kafkifys_counters(bootstrap: str) -> None:
    topic = create_topic(bootstrap, 1, prefix="prom")
    registry = CollectorRegistry()
    with kafkify.Producer(bootstrap, client_id="prom-nostats") as producer:
        ProducerCollector(producer, registry=registry)
        for i in range(3):
            producer.send(topic, i)
        with served(registry) as url:
            samples = scrape(url)
    assert one(samples, "kafkify_records_sent_total", client_id="prom-nostats") == 3
    assert one(samples, "kafkify_records_delivered_total") == 3
    assert one(samples, "kafkify_records_failed_total") == 0
    assert one(samples, "kafkify_records_in_flight") == 0
    assert one(samples, "kafkify_queue_bytes") == 0
    assert {name for name, _ in samples if name.startswith("kafkify_")} == {
        "kafkify_records_sent_total",
        "kafkify_records_delivered_total",
        "kafkify_records_failed_total",
        "kafkify_records_in_flight",
        "kafkify_queue_bytes",
    }


def test_several_producers_and_the_shims_in_one_collector() -> None:
    registry = CollectorRegistry()
    with MockCluster(num_brokers=1) as cluster:
        core = cluster.producer(client_id="prom-core")
        shim = KafkaProducer(bootstrap_servers=cluster.bootstrap_servers, client_id="prom-kp")
        confluent = ConfluentProducer(
            {"bootstrap.servers": cluster.bootstrap_servers, "client.id": "prom-ck"}
        )
        unnamed = cluster.producer()
        collector = ProducerCollector(core, registry=registry)
        for producer in (shim, confluent, unnamed):
            collector.add(producer)
        with pytest.raises(ValueError, match="Duplicated timeseries"):
            ProducerCollector(core, registry=registry)  # one collector per registry
        with pytest.raises(TypeError, match=r"kafkify\.Producer"):
            collector.add(object())
        core.send("t", 1)
        shim.send("t", b"2").get(timeout=30)
        confluent.produce("t", b"3")
        confluent.flush(30)
        with served(registry) as url:
            samples = scrape(url)
        core.close()
        shim.close()
        unnamed.close()
    sent = {
        dict(labels)["client_id"]: v
        for (n, labels), v in samples.items()
        if n.endswith("sent_total")
    }
    # librdkafka's default client.id labels the producer that set none.
    assert sent == {"prom-core": 1, "prom-kp": 1, "prom-ck": 1, "rdkafka": 0}


def test_without_prometheus_client_the_import_error_says_what_to_install() -> None:
    result = run_script(
        """
        import sys
        sys.modules["prometheus_client"] = None  # as if not installed
        import kafkify  # never needs it
        try:
            import kafkify.prometheus
        except ImportError as e:
            print(e)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'kafkify[prometheus]'" in result.stdout
