"""Prometheus metrics for kafkify producers, for teams without OpenTelemetry.

    from prometheus_client import start_http_server
    from kafkify.prometheus import ProducerCollector

    producer = kafkify.Producer("localhost:9092", client_id="orders-api",
                                statistics_interval_ms=15000)
    ProducerCollector(producer)          # registers itself in prometheus_client.REGISTRY
    start_http_server(9100)

Every metric is labelled ``client_id``. kafkify's own counters (``metrics()["kafkify"]``)
are always there; librdkafka's statistics (queue depth, per-broker and per-topic metrics)
only when ``statistics_interval_ms`` > 0, as of its latest tick. :data:`METRICS` is the
whole table: statistic -> metric.

Needs ``prometheus-client`` (``pip install 'kafkify[prometheus]'``); ``import kafkify``
never imports this module.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

try:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
    from prometheus_client.registry import REGISTRY, CollectorRegistry
except ImportError as _missing:  # the extra is optional: say how to get it
    raise ImportError(
        "kafkify.prometheus needs the prometheus-client package, which is not installed "
        "(pip install 'kafkify[prometheus]')"
    ) from _missing

from kafkify._kafkify import Producer

__all__ = ["METRICS", "ProducerCollector", "Stat"]

#: librdkafka's client.id default: what its statistics say when none was set, so the
#: label is the same with statistics on or off.
_DEFAULT_CLIENT_ID = "rdkafka"


def _microseconds(value: Any) -> float:
    return float(value) / 1e6


def _is_up(value: Any) -> float:
    return 1.0 if value == "UP" else 0.0


@dataclass(frozen=True)
class Stat:
    """One row of :data:`METRICS`: where a value is in ``metrics()`` and what it becomes.

    ``scope`` says which dict ``path`` starts from: ``metrics()["kafkify"]``, the
    statistics' top level, one broker of ``brokers`` or one topic of ``topics``.
    ``window``, for librdkafka's rolling-window histograms (``rtt``, ``batchsize``,
    ``batchcnt``: reset at every statistics tick), is the path of the window's sample
    count: with none in the last interval the histogram reads 0, which is no
    measurement, so the sample is left out rather than reported as 0.
    """

    name: str  # without CounterMetricFamily's "_total"
    kind: Literal["counter", "gauge"]
    help: str
    scope: Literal["kafkify", "client", "broker", "topic"]
    path: tuple[str, ...]
    convert: Callable[[Any], float] = float
    window: tuple[str, ...] | None = None


#: statistic -> metric, the only place that says which is which.
METRICS: tuple[Stat, ...] = (
    # kafkify's own counters: always present, also after close().
    Stat("kafkify_records_sent", "counter", "Records accepted by librdkafka.", "kafkify",
         ("sent",)),
    Stat("kafkify_records_delivered", "counter", "Records the broker acknowledged.", "kafkify",
         ("delivered",)),
    Stat("kafkify_records_failed", "counter", "Records reported failed.", "kafkify",
         ("failed",)),
    Stat("kafkify_records_in_flight", "gauge", "Records sent and not yet reported.",
         "kafkify", ("in_flight",)),
    Stat("kafkify_queue_bytes", "gauge",
         "Key and value bytes of the records sent and not yet reported.", "kafkify",
         ("queue_bytes",)),
    # librdkafka's statistics (statistics_interval_ms > 0).
    Stat("kafkify_librdkafka_queue_messages", "gauge",
         "Messages in librdkafka's producer queue (msg_cnt).", "client", ("msg_cnt",)),
    Stat("kafkify_librdkafka_queue_bytes", "gauge",
         "Bytes of the messages in librdkafka's producer queue (msg_size).", "client",
         ("msg_size",)),
    Stat("kafkify_broker_rtt_avg_seconds", "gauge",
         "Average request round-trip time over the last statistics interval.", "broker",
         ("rtt", "avg"), _microseconds, ("rtt", "cnt")),
    Stat("kafkify_broker_rtt_p99_seconds", "gauge",
         "99th percentile request round-trip time over the last statistics interval.",
         "broker", ("rtt", "p99"), _microseconds, ("rtt", "cnt")),
    Stat("kafkify_broker_requests", "counter", "Requests sent to the broker (tx).", "broker",
         ("tx",)),
    Stat("kafkify_broker_produce_requests", "counter", "Produce requests sent to the broker.",
         "broker", ("req", "Produce")),
    Stat("kafkify_broker_request_errors", "counter", "Request transmission errors (txerrs).",
         "broker", ("txerrs",)),
    Stat("kafkify_broker_request_retries", "counter", "Requests retried (txretries).",
         "broker", ("txretries",)),
    Stat("kafkify_broker_sent_bytes", "counter", "Bytes sent to the broker (txbytes).",
         "broker", ("txbytes",)),
    Stat("kafkify_broker_requests_in_flight", "gauge",
         "Requests sent and awaiting a response (waitresp_cnt).", "broker", ("waitresp_cnt",)),
    Stat("kafkify_broker_output_buffer_messages", "gauge",
         "Messages waiting to be sent to the broker (outbuf_msg_cnt).", "broker",
         ("outbuf_msg_cnt",)),
    Stat("kafkify_broker_up", "gauge", "1 if the connection to the broker is up, else 0.",
         "broker", ("state",), _is_up),
    Stat("kafkify_topic_batch_size_avg_bytes", "gauge",
         "Average batch size over the last statistics interval.", "topic",
         ("batchsize", "avg"), window=("batchsize", "cnt")),
    Stat("kafkify_topic_batch_size_p99_bytes", "gauge",
         "99th percentile batch size over the last statistics interval.", "topic",
         ("batchsize", "p99"), window=("batchsize", "cnt")),
    Stat("kafkify_topic_batch_records_avg", "gauge",
         "Average records per batch over the last statistics interval.", "topic",
         ("batchcnt", "avg"), window=("batchcnt", "cnt")),
    Stat("kafkify_topic_batch_records_p99", "gauge",
         "99th percentile records per batch over the last statistics interval.", "topic",
         ("batchcnt", "p99"), window=("batchcnt", "cnt")),
)  # fmt: skip

_LABELS: dict[str, tuple[str, ...]] = {
    "kafkify": ("client_id",),
    "client": ("client_id",),
    "broker": ("client_id", "broker", "node_id"),
    "topic": ("client_id", "topic"),
}


def _lookup(source: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path``, or None where a key is missing (an older librdkafka)."""
    value: Any = source
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _core(producer: object) -> Producer:
    """The core producer: ``producer`` itself, or the one a compat shim wraps."""
    if isinstance(producer, Producer):
        return producer
    # Each shim (kafka-python's KafkaProducer, aiokafka's AIOKafkaProducer,
    # confluent-kafka's Producer) keeps its core producer in ``_producer``.
    core = getattr(producer, "_producer", None)
    if isinstance(core, Producer):
        return core
    raise TypeError(
        f"expected a kafkify.Producer or a kafkify.compat producer, got {type(producer).__name__}"
    )


class ProducerCollector:
    """Exposes producers' metrics (:data:`METRICS`) to ``prometheus_client``.

    Holds each producer weakly: a producer that is garbage-collected drops out of the
    next scrape (with none left, ``collect()`` yields nothing). A closed producer keeps
    reporting kafkify's counters, final by then, but not librdkafka's statistics,
    which stopped at the close. Accepts a ``kafkify.Producer`` or a
    ``kafkify.compat`` producer (its core producer is the one measured).

    Args:
        producer: the producer to measure; :meth:`add` adds more.
        registry: where to register, as ``prometheus_client``'s own collectors do;
            None registers nowhere.

    Raises:
        TypeError: ``producer`` is neither a kafkify producer nor a shim's.
        ValueError: ``registry`` already has a collector with these metric names (a
            second ``ProducerCollector``: measure several producers with :meth:`add`).
    """

    def __init__(self, producer: object, registry: CollectorRegistry | None = REGISTRY) -> None:
        self._lock = threading.Lock()
        self._producers: list[tuple[weakref.ref[Producer], str]] = []
        self.add(producer)
        if registry is not None:
            registry.register(self)

    def add(self, producer: object) -> None:
        """Measure one more producer too. Producers of one collector need distinct
        client ids: their series differ only by the ``client_id`` label.

        Raises:
            TypeError: ``producer`` is neither a kafkify producer nor a shim's.
        """
        core = _core(producer)
        # client.id cannot change after creation: read once, not per scrape.
        client_id = core.config.get("client.id") or _DEFAULT_CLIENT_ID
        with self._lock:
            self._producers.append((weakref.ref(core), client_id))

    def describe(self) -> Iterable[Metric]:
        """Every metric this collector may report (the registry checks names with it,
        so its answer does not depend on whether statistics are on yet)."""
        return [_family(stat) for stat in METRICS]

    def collect(self) -> Iterator[Metric]:
        """The metrics of every producer still alive; the families that have samples.

        Raises nothing of its own: ``metrics()`` works on closed producers too.
        """
        with self._lock:
            self._producers = [(ref, cid) for ref, cid in self._producers if ref() is not None]
            alive = [(ref(), cid) for ref, cid in self._producers]
        families = {stat.name: _family(stat) for stat in METRICS}
        for producer, client_id in alive:
            if producer is None:  # collected since the line above
                continue
            metrics = producer.metrics()
            stats = {} if producer.closed else metrics
            for stat in METRICS:
                family = families[stat.name]
                for labels, source in _sources(stat.scope, client_id, metrics, stats):
                    _add(family, stat, labels, source)
        for family in families.values():
            if family.samples:
                yield family


def _family(stat: Stat) -> CounterMetricFamily | GaugeMetricFamily:
    labels = _LABELS[stat.scope]
    if stat.kind == "counter":
        return CounterMetricFamily(stat.name, stat.help, labels=labels)
    return GaugeMetricFamily(stat.name, stat.help, labels=labels)


def _sources(
    scope: str, client_id: str, metrics: Mapping[str, Any], stats: Mapping[str, Any]
) -> Iterator[tuple[list[str], Mapping[str, Any]]]:
    """(label values, the dict the stat's path starts from) for each series of ``scope``."""
    if scope == "kafkify":
        yield [client_id], metrics.get("kafkify") or {}
    elif scope == "client":
        if stats.get("brokers") is not None:  # the statistics are on and have ticked
            yield [client_id], stats
    elif scope == "broker":
        for name, broker in (stats.get("brokers") or {}).items():
            node_id = broker.get("nodeid", -1)
            # Node id -1 is a connection, not a broker of the cluster: a bootstrap
            # server (".../bootstrap", before the cluster's brokers are learned) or a
            # logical broker (a coordinator's); left out, so that each series is one
            # broker's under a stable name.
            if node_id < 0:
                continue
            yield [client_id, name, str(node_id)], broker
    elif scope == "topic":
        for name, topic in (stats.get("topics") or {}).items():
            yield [client_id, name], topic


def _add(
    family: CounterMetricFamily | GaugeMetricFamily,
    stat: Stat,
    labels: list[str],
    source: Mapping[str, Any],
) -> None:
    if stat.window is not None and not _lookup(source, stat.window):
        return  # no measurement in the last interval
    value = _lookup(source, stat.path)
    if value is None:
        return
    family.add_metric(labels, stat.convert(value))
