"""The hook the native core calls for each traced or timed record.

- ``start(topic, key, tombstone, batch)``, on the caller's thread at the call:
  starts the record's PRODUCER span (its parent is the caller's current
  context) and returns ``(span or None, [(header, bytes)] or None)``: the span
  if it records (a sampled-out one needs no end), and what the configured
  propagator injects (W3C ``traceparent``/``tracestate``, baggage), which the
  core adds to the record's headers unless the caller set them.
- ``finish(items)``, on the producer's dispatcher thread, once for a batch of
  reports: each item is ``(span, started_ns, ended_ns, topic, partition,
  offset, error, batch)``; the span ends at ``ended_ns`` (when the report came),
  and the metrics are recorded.

The attribute names are the table in ``semconv.py``.
"""

from __future__ import annotations

import weakref
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from kafkify._otel import semconv as sc


def _server(bootstrap: str | None) -> dict[str, Any]:
    """server.address/port of the first bootstrap server (``host:port``)."""
    first = (bootstrap or "").split(",")[0].strip()
    first = first.split("://", 1)[-1]
    host, sep, port = first.rpartition(":")
    if not sep:
        host, port = first, ""
    host = host.strip("[]")
    out: dict[str, Any] = {}
    if host:
        out[sc.SERVER_ADDRESS] = host
    if port.isdigit():
        out[sc.SERVER_PORT] = int(port)
    return out


def error_type(error: BaseException) -> str:
    """error.type: the Kafka error's name (``MSG_SIZE_TOO_LARGE``, ...), else the
    exception's class: low-cardinality, as the conventions ask."""
    name = getattr(error, "name", None)
    return name if isinstance(name, str) and name else type(error).__qualname__


class _Instruments:
    """One meter provider's instruments, shared by its producers (creating an
    instrument twice under one name only logs a warning and returns the first)."""

    def __init__(self, provider: Any) -> None:
        from kafkify import __version__

        meter = provider.get_meter("kafkify", __version__, schema_url=sc.SCHEMA_URL)
        self.duration = meter.create_histogram(
            sc.CLIENT_OPERATION_DURATION,
            unit="s",
            description="Duration of messaging operation initiated by a producer or consumer "
            "client.",
            explicit_bucket_boundaries_advisory=sc.DURATION_BUCKETS,
        )
        self.sent = meter.create_counter(
            sc.CLIENT_SENT_MESSAGES,
            unit="{message}",
            description="Number of messages producer attempted to send to the broker.",
        )
        # (gauges reader, attributes) of each live producer.
        self.sources: list[tuple[Any, dict[str, Any]]] = []
        meter.create_observable_gauge(
            sc.PRODUCER_IN_FLIGHT,
            callbacks=[lambda _options: self._observe(0)],
            unit="{record}",
            description="Records handed to librdkafka and not yet reported delivered or failed.",
        )
        meter.create_observable_gauge(
            sc.PRODUCER_QUEUE_SIZE,
            callbacks=[lambda _options: self._observe(1)],
            unit="By",
            description="Key and value bytes of the records in librdkafka's queue.",
        )

    def _observe(self, which: int) -> list[Any]:
        from opentelemetry.metrics import Observation

        out, live = [], []
        for gauges, attributes in list(self.sources):
            reading = gauges.read()
            if reading is None:  # the producer is gone
                continue
            live.append((gauges, attributes))
            out.append(Observation(reading[which], attributes))
        self.sources[:] = live
        return out


_instruments: weakref.WeakKeyDictionary[Any, _Instruments] = weakref.WeakKeyDictionary()


def _instruments_of(provider: Any) -> _Instruments:
    try:
        found = _instruments.get(provider)
    except TypeError:  # a provider that cannot be weakly referenced
        return _Instruments(provider)
    if found is None:
        found = _instruments[provider] = _Instruments(provider)
    return found


class Hook:
    """One producer's tracer and instruments."""

    def __init__(
        self,
        tracer: Any,
        meter_provider: Any,
        client_id: str | None,
        bootstrap: str | None,
        gauges: Any,
    ) -> None:
        self._tracer = tracer
        self.tracing = tracer is not None
        self.metrics = meter_provider is not None
        server = _server(bootstrap)
        self._span_attributes: dict[str, Any] = {
            sc.MESSAGING_SYSTEM: sc.SYSTEM_KAFKA,
            sc.MESSAGING_OPERATION_NAME: sc.OPERATION_SEND,
            sc.MESSAGING_OPERATION_TYPE: sc.OPERATION_SEND,
            **server,
        }
        if client_id:
            self._span_attributes[sc.MESSAGING_CLIENT_ID] = client_id
        self._metric_attributes: dict[str, Any] = {
            sc.MESSAGING_SYSTEM: sc.SYSTEM_KAFKA,
            sc.MESSAGING_OPERATION_NAME: sc.OPERATION_SEND,
            sc.MESSAGING_OPERATION_TYPE: sc.OPERATION_SEND,
            **server,
        }
        self._instruments = _instruments_of(meter_provider) if self.metrics else None
        if self._instruments is not None:
            gauge_attributes = {sc.MESSAGING_SYSTEM: sc.SYSTEM_KAFKA}
            if client_id:
                gauge_attributes[sc.MESSAGING_CLIENT_ID] = client_id
            self._instruments.sources.append((gauges, gauge_attributes))

    def start(
        self, topic: str, key: bytes | None, tombstone: bool, batch: int | None
    ) -> tuple[Any, list[tuple[str, bytes]] | None]:
        attributes = dict(self._span_attributes)
        attributes[sc.MESSAGING_DESTINATION_NAME] = topic
        if key is not None:
            attributes[sc.MESSAGING_KAFKA_MESSAGE_KEY] = key.decode("utf-8", "backslashreplace")
        if tombstone:
            attributes[sc.MESSAGING_KAFKA_MESSAGE_TOMBSTONE] = True
        if batch is not None:
            attributes[sc.MESSAGING_BATCH_MESSAGE_COUNT] = batch
        span = self._tracer.start_span(
            f"{sc.OPERATION_SEND} {topic}", kind=SpanKind.PRODUCER, attributes=attributes
        )
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        headers = [(name, value.encode()) for name, value in carrier.items()] or None
        return (span if span.is_recording() else None), headers

    def finish(self, items: list[tuple[Any, ...]]) -> None:
        instruments = self._instruments
        counts: dict[tuple[str, int, str | None], int] = {}
        attributes_of: dict[tuple[str, int, str | None], dict[str, Any]] = {}
        for span, started_ns, ended_ns, topic, partition, offset, error, _batch in items:
            etype = error_type(error) if error is not None else None
            if span is not None:
                if partition >= 0:
                    span.set_attribute(sc.MESSAGING_DESTINATION_PARTITION_ID, str(partition))
                if offset >= 0:
                    span.set_attribute(sc.MESSAGING_KAFKA_OFFSET, offset)
                if etype is not None:
                    span.set_attribute(sc.ERROR_TYPE, etype)
                    span.set_status(Status(StatusCode.ERROR, str(error)))
                span.end(end_time=ended_ns)
            if instruments is None:
                continue
            what = (topic, partition, etype)
            attributes = attributes_of.get(what)
            if attributes is None:
                attributes = attributes_of[what] = self._metric_attributes_for(*what)
                counts[what] = 0
            counts[what] += 1
            instruments.duration.record(max(ended_ns - started_ns, 0) / 1e9, attributes)
        if instruments is not None:
            for what, n in counts.items():
                instruments.sent.add(n, attributes_of[what])

    def _metric_attributes_for(
        self, topic: str, partition: int, etype: str | None
    ) -> dict[str, Any]:
        attributes = dict(self._metric_attributes)
        attributes[sc.MESSAGING_DESTINATION_NAME] = topic
        if partition >= 0:
            attributes[sc.MESSAGING_DESTINATION_PARTITION_ID] = str(partition)
        if etype is not None:
            attributes[sc.ERROR_TYPE] = etype
        return attributes
