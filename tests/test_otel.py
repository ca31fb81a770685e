"""OpenTelemetry tracing and metrics (issue 13), on the real broker: every API and
every shim, spans from opentelemetry-sdk's in-memory exporter, the records read back
with confluent-kafka's Consumer, their ``traceparent`` matched to their spans."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry import baggage, context, metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.test.globals_test import reset_metrics_globals, reset_trace_globals
from opentelemetry.trace import SpanKind, StatusCode

import kafkify
from kafkify._otel import semconv as sc
from kafkify.testing import MockCluster

from helpers import Consumed, create_topic, read_back, run_script


@dataclass
class Traced:
    provider: TracerProvider
    exporter: InMemorySpanExporter

    def spans(self, name_prefix: str = "send ") -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans() if s.name.startswith(name_prefix)]


@pytest.fixture
def traced() -> Traced:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Traced(provider, exporter)


@pytest.fixture
def global_otel(traced: Traced) -> Iterator[tuple[Traced, InMemoryMetricReader]]:
    """The process-wide providers set, as an application sets them up: producers
    trace and meter by default. Reset afterwards (the API sets them only once)."""
    reader = InMemoryMetricReader()
    reset_trace_globals()
    reset_metrics_globals()
    trace.set_tracer_provider(traced.provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    try:
        yield traced, reader
    finally:
        reset_trace_globals()
        reset_metrics_globals()


def log_append_topic(bootstrap: str, **config: str) -> str:
    """A topic whose records carry the broker's append time: the moment each was
    acknowledged, to compare the spans' end times with."""
    return create_topic(
        bootstrap, 3, prefix="otel", config={"message.timestamp.type": "LogAppendTime", **config}
    )


def traceparent(span: ReadableSpan) -> bytes:
    ctx = span.get_span_context()
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}".encode()


def header(record: Consumed, name: str) -> list[bytes | None]:
    return [v for k, v in record.headers if k == name]


# Each API, used as its users do: (producer, topic, values, keys) -> each record's
# RecordMetadata or the exception it failed with, in order.
Outcome = Any
Runner = Callable[[Any, str, list[bytes], list[str]], list[Outcome]]


def via_send(p: Any, topic: str, values: list[bytes], keys: list[str]) -> list[Outcome]:
    out: list[Outcome] = []
    for v, k in zip(values, keys, strict=True):
        try:
            out.append(p.send(topic, v, key=k))
        except kafkify.KafkaError as e:
            out.append(e)
    return out


def via_send_async(p: Any, topic: str, values: list[bytes], keys: list[str]) -> list[Outcome]:
    async def main() -> list[Outcome]:
        sends = [p.send_async(topic, v, key=k) for v, k in zip(values, keys, strict=True)]
        return list(await asyncio.gather(*sends, return_exceptions=True))

    return asyncio.run(main())


def via_produce(p: Any, topic: str, values: list[bytes], keys: list[str]) -> list[Outcome]:
    out: list[Outcome] = [None] * len(values)
    for i, (v, k) in enumerate(zip(values, keys, strict=True)):

        def report(err: Any, meta: Any, i: int = i) -> None:
            out[i] = err if err is not None else meta

        p.produce(topic, v, key=k, on_delivery=report)
    p.flush()
    return out


def via_send_batch(p: Any, topic: str, values: list[bytes], keys: list[str]) -> list[Outcome]:
    return list(p.send_batch(topic, values, keys=keys))


def via_send_batch_async(p: Any, topic: str, values: list[bytes], keys: list[str]) -> list[Outcome]:
    async def main() -> list[Outcome]:
        return list(await p.send_batch_async(topic, values, keys=keys))

    return asyncio.run(main())


CORE_APIS: dict[str, Runner] = {
    "send": via_send,
    "send_async": via_send_async,
    "produce": via_produce,
    "send_batch": via_send_batch,
    "send_batch_async": via_send_batch_async,
}


def check_spans(
    spans: list[ReadableSpan],
    records: list[Consumed],
    topic: str,
    bootstrap: str,
    parent: trace.Span | None,
    client_id: str | None,
    batch: int | None,
) -> None:
    """One span per record read back, matched by its traceparent header: name,
    kind, attributes, parent, and an end after the broker appended the record."""
    assert len(spans) == len(records)
    by_traceparent = {traceparent(s): s for s in spans}
    host, port = bootstrap.rsplit(":", 1)
    for record in records:
        [tp] = header(record, "traceparent")
        span = by_traceparent[tp]
        assert span.name == f"send {topic}"
        assert span.kind is SpanKind.PRODUCER
        assert span.status.status_code is StatusCode.UNSET
        expected = {
            "messaging.system": "kafka",
            "messaging.operation.name": "send",
            "messaging.operation.type": "send",
            "messaging.destination.name": topic,
            "messaging.destination.partition.id": str(record.partition),
            "messaging.kafka.offset": record.offset,
            "messaging.kafka.message.key": record.key.decode() if record.key else None,
            "server.address": host,
            "server.port": int(port),
        }
        if client_id is not None:
            expected["messaging.client.id"] = client_id
        if batch is not None:
            expected["messaging.batch.message_count"] = batch
        assert dict(span.attributes or {}) == expected
        if parent is not None:
            assert span.parent is not None
            assert span.parent.span_id == parent.get_span_context().span_id
            assert span.context.trace_id == parent.get_span_context().trace_id
        # LogAppendTime: the broker's clock (this machine's) when it appended the
        # record, in ms. The span starts before and ends after (the report).
        appended_ns = record.timestamp * 1_000_000
        assert span.start_time is not None and span.end_time is not None
        assert span.start_time <= appended_ns + 1_000_000
        assert span.end_time >= appended_ns


@pytest.mark.parametrize("api", list(CORE_APIS))
def test_each_api_traces_each_record_to_its_delivery(
    api: str, bootstrap: str, traced: Traced
) -> None:
    topic = log_append_topic(bootstrap)
    values = [f"value-{i}".encode() for i in range(6)]
    keys = [f"key-{i}" for i in range(6)]
    tracer = traced.provider.get_tracer("test")
    with kafkify.Producer(
        bootstrap, value_serializer="bytes", client_id="orders-api", tracing=traced.provider
    ) as p:
        with tracer.start_as_current_span("request") as parent:
            outcomes = CORE_APIS[api](p, topic, values, keys)
        p.flush()
    assert all(isinstance(o, kafkify.RecordMetadata) for o in outcomes), outcomes
    records = read_back(bootstrap, topic, len(values))
    assert sorted(r.value for r in records if r.value) == sorted(values)
    batch = len(values) if api.startswith("send_batch") else None
    check_spans(traced.spans(), records, topic, bootstrap, parent, "orders-api", batch)


@pytest.mark.parametrize("api", list(CORE_APIS))
def test_each_api_marks_a_failed_record_s_span_with_its_error(
    api: str, bootstrap: str, traced: Traced
) -> None:
    """The broker refuses a record over the topic's max.message.bytes: its span
    ends with status ERROR and error.type, the error's name, as the caller got it."""
    topic = log_append_topic(bootstrap, **{"max.message.bytes": "10000"})
    big = os.urandom(20_000)  # random: compression cannot bring it under the limit
    with kafkify.Producer(bootstrap, value_serializer="bytes", tracing=traced.provider) as p:
        [outcome] = CORE_APIS[api](p, topic, [big], ["k"])
    assert isinstance(outcome, kafkify.MessageSizeTooLargeError), outcome
    [span] = traced.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == str(outcome)
    assert span.attributes is not None
    assert span.attributes["error.type"] == outcome.name == "MessageSizeTooLarge"
    assert "messaging.kafka.offset" not in span.attributes
    assert span.kind is SpanKind.PRODUCER and span.name == f"send {topic}"


def test_a_record_refused_at_the_call_ends_its_span_there(bootstrap: str, traced: Traced) -> None:
    """Over the client's own message.max.bytes: librdkafka refuses it before it is
    queued, the call raises, and the span ends with that error."""
    with kafkify.Producer(
        bootstrap,
        value_serializer="bytes",
        tracing=traced.provider,
        config={"message.max.bytes": 2000},
    ) as p:
        with pytest.raises(kafkify.MessageSizeTooLargeError) as raised:
            p.send("otel-refused", b"x" * 5000)
    [span] = traced.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["error.type"] == raised.value.name


# The shims, each in its peer's idiom; tracing is on because a provider is set
# globally (their peers have no tracing option).
def shim_kafka_python(bootstrap: str, topic: str, values: list[bytes], keys: list[str]) -> None:
    from kafkify.compat.kafka import KafkaProducer

    p = KafkaProducer(bootstrap_servers=bootstrap, client_id="shim")
    futures = [p.send(topic, v, key=k.encode()) for v, k in zip(values, keys, strict=True)]
    for f in futures:
        f.get(timeout=30)
    p.close()


def shim_aiokafka(bootstrap: str, topic: str, values: list[bytes], keys: list[str]) -> None:
    from kafkify.compat.aiokafka import AIOKafkaProducer

    async def main() -> None:
        p = AIOKafkaProducer(bootstrap_servers=bootstrap, client_id="shim")
        await p.start()
        try:
            for v, k in zip(values, keys, strict=True):
                await p.send_and_wait(topic, v, key=k.encode())
        finally:
            await p.stop()

    asyncio.run(main())


def shim_confluent(bootstrap: str, topic: str, values: list[bytes], keys: list[str]) -> None:
    from kafkify.compat.confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "client.id": "shim"})
    errors: list[Any] = []
    for v, k in zip(values, keys, strict=True):
        p.produce(topic, v, key=k, callback=lambda err, _msg: errors.append(err))
    assert p.flush(30) == 0
    assert errors == [None] * len(values)


SHIMS = {"kafka-python": shim_kafka_python, "aiokafka": shim_aiokafka, "confluent": shim_confluent}


@pytest.mark.parametrize("shim", list(SHIMS))
def test_each_shim_traces_with_the_globally_configured_provider(
    shim: str, bootstrap: str, global_otel: tuple[Traced, InMemoryMetricReader]
) -> None:
    traced, _ = global_otel
    topic = log_append_topic(bootstrap)
    values = [f"v-{i}".encode() for i in range(5)]
    keys = [f"k-{i}" for i in range(5)]
    with trace.get_tracer("test").start_as_current_span("job") as parent:
        SHIMS[shim](bootstrap, topic, values, keys)
    records = read_back(bootstrap, topic, len(values))
    assert sorted(r.value for r in records if r.value) == sorted(values)
    check_spans(traced.spans(), records, topic, bootstrap, parent, "shim", None)


@pytest.mark.parametrize("shim", list(SHIMS))
def test_each_shim_marks_a_failed_record_s_span(
    shim: str, bootstrap: str, global_otel: tuple[Traced, InMemoryMetricReader]
) -> None:
    traced, _ = global_otel
    topic = log_append_topic(bootstrap, **{"max.message.bytes": "10000"})
    with pytest.raises(Exception):  # noqa: B017 (each peer's own class; the span is the point)
        SHIMS[shim](bootstrap, topic, [os.urandom(20_000)], ["k"])
    [span] = traced.spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["error.type"] == "MessageSizeTooLarge"


def test_a_sampled_out_record_still_carries_its_context_and_records_no_span(
    bootstrap: str,
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    topic = create_topic(bootstrap, 1, prefix="otel")
    with kafkify.Producer(bootstrap, tracing=provider) as p:
        p.send(topic, {"n": 1})
    [record] = read_back(bootstrap, topic, 1)
    [tp] = header(record, "traceparent")
    assert tp is not None
    flags = int(tp.split(b"-")[3], 16)
    assert flags & 1 == 0  # the sampled bit is off: downstream does not sample either
    assert exporter.get_finished_spans() == ()


def test_headers_the_caller_set_win_and_baggage_travels(bootstrap: str, traced: Traced) -> None:
    topic = create_topic(bootstrap, 1, prefix="otel")
    token = context.attach(baggage.set_baggage("tenant", "acme"))
    try:
        with kafkify.Producer(bootstrap, tracing=traced.provider) as p:
            p.send(topic, {"n": 1}, headers=[("traceparent", b"mine"), ("x", b"1")])
            p.send(topic, {"n": 2}, headers={"x": b"2"})
    finally:
        context.detach(token)
    first, second = read_back(bootstrap, topic, 2)
    assert first.headers[:2] == [("traceparent", b"mine"), ("x", b"1")]
    assert header(first, "traceparent") == [b"mine"]
    assert header(first, "baggage") == [b"tenant=acme"]
    assert second.headers[0] == ("x", b"2")
    assert header(second, "traceparent") == [traceparent(traced.spans()[1])]


def test_tracing_false_and_no_provider_mean_no_spans_and_no_headers(
    bootstrap: str, global_otel: tuple[Traced, InMemoryMetricReader]
) -> None:
    traced, _ = global_otel
    topic = create_topic(bootstrap, 1, prefix="otel")
    with kafkify.Producer(bootstrap, tracing=False, otel_metrics=False) as p:
        p.send(topic, {"n": 1})
    reset_trace_globals()  # no provider configured: the default is off
    with kafkify.Producer(bootstrap) as p:
        p.send(topic, {"n": 2})
    records = read_back(bootstrap, topic, 2)
    assert [r.headers for r in records] == [[], []]
    assert traced.spans() == []


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("tracing", 5, "invalid value for 'tracing': int"),
        ("tracing", "yes", "invalid value for 'tracing': str"),
        ("otel_metrics", object(), "invalid value for 'otel_metrics': object"),
    ],
)
def test_invalid_options_raise_config_error_naming_them(
    option: str, value: Any, message: str
) -> None:
    with pytest.raises(kafkify.ConfigError, match=message):
        kafkify.Producer("127.0.0.1:1", **{option: value})


def metric_points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    data = reader.get_metrics_data()
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                out.setdefault(m.name, []).extend(m.data.data_points)
    return out


def test_metrics_count_what_was_sent_failed_and_how_long_it_took(bootstrap: str) -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    topic = create_topic(bootstrap, 1, prefix="otel", config={"max.message.bytes": "10000"})
    with kafkify.Producer(
        bootstrap, value_serializer="bytes", otel_metrics=provider, client_id="metered"
    ) as p:
        metas = p.send_batch(topic, [b"ok"] * 25)
        for _ in range(3):
            with pytest.raises(kafkify.MessageSizeTooLargeError):
                p.send(topic, os.urandom(20_000))
        p.flush()
        points = metric_points(reader)
        [gauge] = points[sc.PRODUCER_IN_FLIGHT]
        assert gauge.value == 0 and dict(gauge.attributes)["messaging.client.id"] == "metered"
    assert all(isinstance(m, kafkify.RecordMetadata) for m in metas)
    sent = {
        dict(pt.attributes).get("error.type"): pt.value for pt in points[sc.CLIENT_SENT_MESSAGES]
    }
    assert sent == {None: 25, "MessageSizeTooLarge": 3}
    durations = points[sc.CLIENT_OPERATION_DURATION]
    assert sum(pt.count for pt in durations) == 28
    [ok] = [pt for pt in durations if "error.type" not in pt.attributes]
    assert dict(ok.attributes)["messaging.destination.name"] == topic
    assert dict(ok.attributes)["messaging.destination.partition.id"] == "0"
    assert tuple(ok.explicit_bounds) == sc.DURATION_BUCKETS
    assert 0 < ok.min <= ok.max < 30


def test_in_flight_and_queue_bytes_gauges_follow_the_queue() -> None:
    """A broker that stops answering keeps records in flight: the gauges show them,
    and 0 once they are delivered."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    with MockCluster(num_brokers=1) as cluster:
        cluster.create_topic("held", partitions=1)
        with cluster.producer(value_serializer="bytes", otel_metrics=provider) as p:
            p.send("held", b"warm")  # the producer id and the leader are known
            cluster.broker_down(1)
            for _ in range(7):
                p.produce("held", b"x" * 100, key=b"key")
            gauges = metric_points(reader)
            assert gauges[sc.PRODUCER_IN_FLIGHT][0].value == 7
            assert gauges[sc.PRODUCER_QUEUE_SIZE][0].value == 7 * 103
            assert p.metrics()["kafkify"]["queue_bytes"] == 7 * 103
            cluster.broker_up(1)
            p.flush(30)
            gauges = metric_points(reader)
            assert gauges[sc.PRODUCER_IN_FLIGHT][0].value == 0
            assert gauges[sc.PRODUCER_QUEUE_SIZE][0].value == 0
            sent = metric_points(reader)[sc.CLIENT_SENT_MESSAGES]
            assert sum(pt.value for pt in sent) == 8


def test_a_gone_producer_leaves_the_gauges() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    with MockCluster() as cluster:
        p = cluster.producer(otel_metrics=provider, client_id="short-lived")
        p.close()
        assert len(metric_points(reader)[sc.PRODUCER_IN_FLIGHT]) == 1
        del p
        assert metric_points(reader).get(sc.PRODUCER_IN_FLIGHT, []) == []


def test_the_attribute_table_matches_opentelemetry_s_semantic_conventions() -> None:
    """Our names (one table, kafkify/_otel/semconv.py) against the pinned
    opentelemetry-semantic-conventions package's."""
    from opentelemetry.semconv._incubating.attributes import messaging_attributes as m
    from opentelemetry.semconv._incubating.metrics import messaging_metrics as mm
    from opentelemetry.semconv.attributes import error_attributes, server_attributes

    assert sc.MESSAGING_SYSTEM == m.MESSAGING_SYSTEM
    assert sc.MESSAGING_OPERATION_NAME == m.MESSAGING_OPERATION_NAME
    assert sc.MESSAGING_OPERATION_TYPE == m.MESSAGING_OPERATION_TYPE
    assert sc.MESSAGING_DESTINATION_NAME == m.MESSAGING_DESTINATION_NAME
    assert sc.MESSAGING_DESTINATION_PARTITION_ID == m.MESSAGING_DESTINATION_PARTITION_ID
    assert sc.MESSAGING_KAFKA_MESSAGE_KEY == m.MESSAGING_KAFKA_MESSAGE_KEY
    assert sc.MESSAGING_KAFKA_OFFSET == m.MESSAGING_KAFKA_OFFSET
    assert sc.MESSAGING_KAFKA_MESSAGE_TOMBSTONE == m.MESSAGING_KAFKA_MESSAGE_TOMBSTONE
    assert sc.MESSAGING_CLIENT_ID == m.MESSAGING_CLIENT_ID
    assert sc.MESSAGING_BATCH_MESSAGE_COUNT == m.MESSAGING_BATCH_MESSAGE_COUNT
    assert sc.SERVER_ADDRESS == server_attributes.SERVER_ADDRESS
    assert sc.SERVER_PORT == server_attributes.SERVER_PORT
    assert sc.ERROR_TYPE == error_attributes.ERROR_TYPE
    assert sc.SYSTEM_KAFKA == m.MessagingSystemValues.KAFKA.value
    assert sc.OPERATION_SEND == m.MessagingOperationTypeValues.SEND.value
    assert sc.CLIENT_OPERATION_DURATION == mm.MESSAGING_CLIENT_OPERATION_DURATION
    assert sc.CLIENT_SENT_MESSAGES == mm.MESSAGING_CLIENT_SENT_MESSAGES


def test_a_tombstone_s_span_says_so(bootstrap: str, traced: Traced) -> None:
    topic = create_topic(bootstrap, 1, prefix="otel")
    with kafkify.Producer(bootstrap, tracing=traced.provider) as p:
        p.send(topic, None, key="gone")
    [span] = traced.spans()
    assert span.attributes is not None
    assert span.attributes["messaging.kafka.message.tombstone"] is True
    [record] = read_back(bootstrap, topic, 1)
    assert record.value is None and header(record, "traceparent") == [traceparent(span)]


def test_twenty_thousand_fire_and_forget_records_each_get_their_span(
    bootstrap: str, traced: Traced
) -> None:
    """20k fire-and-forget records: every one gets its span, ended after flush()."""
    topic = create_topic(bootstrap, 3, prefix="otel")
    with kafkify.Producer(bootstrap, value_serializer="bytes", tracing=traced.provider) as p:
        for i in range(20_000):
            p.produce(topic, b"%d" % i)
        p.flush()
        assert len(traced.spans()) == 20_000
    records = read_back(bootstrap, topic, 20_000)
    assert len(records) == 20_000
    ids = {traceparent(s) for s in traced.spans()}
    assert {header(r, "traceparent")[0] for r in records} == ids


class BrokenTracer(trace.NoOpTracer):
    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        raise RuntimeError("the tracer is broken")


class BrokenTracerProvider(trace.NoOpTracerProvider):
    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return BrokenTracer()


def test_a_broken_tracer_is_logged_and_the_records_are_still_sent(
    bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    topic = create_topic(bootstrap, 1, prefix="otel")
    with kafkify.Producer(bootstrap, tracing=BrokenTracerProvider()) as p:
        meta = p.send(topic, {"n": 1})
        p.send_batch(topic, [{"n": 2}])
    assert meta.offset == 0
    records = read_back(bootstrap, topic, 2)
    assert [r.value for r in records] == [b'{"n":1}', b'{"n":2}']
    failures = [r for r in caplog.records if "starting a span failed" in r.getMessage()]
    assert len(failures) == 2 and failures[0].levelname == "ERROR"
    assert "the tracer is broken" in (failures[0].exc_text or str(failures[0].exc_info))


def test_without_opentelemetry_installed_the_default_is_off_and_true_says_what_to_install() -> None:
    result = run_script(
        """
import sys
sys.modules["opentelemetry"] = None  # as if opentelemetry-api were not installed
import kafkify
from kafkify.testing import MockCluster
with MockCluster() as cluster, cluster.producer() as p:
    p.send("t", {"n": 1})
    [record] = cluster.records("t")
    assert record.headers == [], record.headers
try:
    kafkify.Producer("127.0.0.1:1", tracing=True)
except kafkify.ConfigError as e:
    print("ConfigError:", e)
"""
    )
    assert result.returncode == 0, result.stderr
    assert "ConfigError: tracing needs the opentelemetry-api package" in result.stdout
    assert "pip install 'kafkify[opentelemetry]'" in result.stdout
