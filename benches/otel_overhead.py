"""What OpenTelemetry costs a producer (issue 13): the same records with tracing and
metrics off, with spans sampled out, sampled in, with metrics, and with both.

    python benches/otel_overhead.py --bootstrap HOST:PORT [--rounds 3] [--quick] [--json F]
    python benches/otel_overhead.py --mock ...      # librdkafka's in-process mock cluster

APIs: ``produce`` (fire-and-forget ~100 B JSON dicts, then flush) and ``send_async``
(100 asyncio tasks, each awaiting its sends). Configurations:
  off          tracing=False, otel_metrics=False: the baseline
  sampled_out  an SDK TracerProvider with ALWAYS_OFF: spans started, context injected,
               nothing recorded
  sampled_in   ALWAYS_ON, a BatchSpanProcessor over an exporter that drops the spans
  metrics      an SDK MeterProvider (an InMemoryMetricReader, never read in the run)
  both         sampled_in + metrics
Each run is a fresh process (``child``) on a fresh 6-partition topic, best wall time
of --rounds, rounds interleaved. Every run is checked: on Kafka the records are read
back with confluent-kafka's Consumer (benches/workload.py's ``verify``), and a traced
run's sample record must carry a ``traceparent``; on the mock, by probe offsets. A
sampled_in child also counts the spans its exporter got: one per record.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "scripts"))

import contenders  # noqa: E402  (benches/ modules, found through the script's directory)
import workload as w  # noqa: E402

CONFIGS = ("off", "sampled_out", "sampled_in", "metrics", "both")
APIS = {"produce": 100_000, "send_async": 20_000}  # records per run
QUICK_RECORDS = 2_000
PARTITIONS = 6


class Exported:
    """A span exporter that keeps only a count: what is measured is kafkify's and the
    SDK's work per span, not an exporter's."""

    def __init__(self) -> None:
        from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

        outer = self

        class Counting(SpanExporter):
            def export(self, spans: Any) -> SpanExportResult:
                outer.count += len(spans)
                return SpanExportResult.SUCCESS

        self.count = 0
        self.exporter = Counting()


def providers(config: str) -> tuple[dict[str, Any], Any]:
    """The producer's tracing/otel_metrics options for ``config``, and the span
    processor to flush (or None)."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

    options: dict[str, Any] = {"tracing": False, "otel_metrics": False}
    processor = None
    if config == "sampled_out":
        options["tracing"] = TracerProvider(sampler=ALWAYS_OFF)
    if config in ("sampled_in", "both"):
        exported = Exported()
        processor = BatchSpanProcessor(exported.exporter, max_queue_size=1 << 20)
        processor.exported = exported  # type: ignore[attr-defined]
        tracer_provider = TracerProvider(sampler=ALWAYS_ON)
        tracer_provider.add_span_processor(processor)
        options["tracing"] = tracer_provider
    if config in ("metrics", "both"):
        options["otel_metrics"] = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return options, processor


def child(args: argparse.Namespace) -> dict[str, Any]:
    """One measured run, in this process."""
    options, processor = providers(args.config)
    values, keys = w.json_records(args.records)
    p = contenders.kafkify_producer(args, **options)
    p.send(f"{args.topic}-warmup", values[0], key=keys[0])
    if args.api == "produce":

        def body() -> None:
            for v, k in zip(values, keys, strict=True):
                p.produce(args.topic, v, key=k)
            p.flush()

        result = contenders.timed(body)
    else:

        async def main() -> dict[str, Any]:
            send = lambda i: p.send_async(args.topic, values[i], key=keys[i])  # noqa: E731
            return await contenders.run_tasks(send, len(values))

        result = asyncio.run(main())
        p.flush()  # the span ends of the last reports, before the count below
    if processor is not None:
        processor.force_flush()
        result["spans"] = processor.exported.count - 1  # the warm-up record's too
    if contenders.on_mock(args):
        result["broker_count"] = contenders.kafkify_count_by_probe(p, args.topic)
    p.close()
    return result


def run_one(args: argparse.Namespace, config: str, api: str, records: int) -> dict[str, Any]:
    topic = f"otel-{api}-{config}-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, __file__, "child", "--config", config, "--api", api]
    command += ["--topic", topic, "--records", str(records)]
    if args.bootstrap:
        import kafka_cluster

        kafka_cluster.create_topic(args.bootstrap, topic, PARTITIONS)
        command += ["--bootstrap", args.bootstrap]
    out = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise SystemExit(f"{config}/{api} failed:\n{out.stdout[-2000:]}{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    problems = []
    if args.bootstrap:
        check = w.verify(args.bootstrap, topic, records, "json")
        if not check.ok:
            problems.append(check.describe())
        if config != "off" and config != "metrics" and not has_traceparent(args.bootstrap, topic):
            problems.append("a record without traceparent")
    elif result.get("broker_count") != records:
        problems.append(f"the mock holds {result.get('broker_count')} of {records} records")
    if "spans" in result and result["spans"] != records:
        problems.append(f"{result['spans']} spans for {records} records")
    if problems:
        raise SystemExit(f"{config}/{api}: check failed: {'; '.join(problems)}")
    result["check"] = "ok"
    return result


def has_traceparent(bootstrap: str, topic: str) -> bool:
    """The first record of partition 0 carries a W3C traceparent header."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"otel-{uuid.uuid4().hex}"})
    try:
        consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        msg = consumer.poll(30)
        headers = dict(msg.headers() or []) if msg is not None and not msg.error() else {}
        return headers.get("traceparent", b"").startswith(b"00-")
    finally:
        consumer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    kid = sub.add_parser("child")
    kid.add_argument("--config", choices=CONFIGS, required=True)
    kid.add_argument("--api", choices=APIS, required=True)
    kid.add_argument("--topic", required=True)
    kid.add_argument("--records", type=int, required=True)
    kid.add_argument("--bootstrap")
    parser.add_argument("--bootstrap", help="a running Kafka (host:port)")
    parser.add_argument("--mock", action="store_true", help="librdkafka's mock cluster")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_RECORDS} records, 1 round")
    parser.add_argument("--json", type=Path, help="save the report here")
    args = parser.parse_args()
    if args.command == "child":
        json.dump(child(args), sys.stdout)
        return
    if bool(args.bootstrap) == args.mock:
        parser.error("give --bootstrap HOST:PORT or --mock")
    rounds = 1 if args.quick else args.rounds
    best: dict[str, dict[str, dict[str, Any]]] = {api: {} for api in APIS}
    for _ in range(rounds):  # rounds interleaved: a slow moment hits every configuration
        for api, records in APIS.items():
            n = QUICK_RECORDS if args.quick else records
            for config in CONFIGS:
                r = run_one(args, config, api, n)
                r["records"] = n
                kept = best[api].get(config)
                if kept is None or r["wall"] < kept["wall"]:
                    best[api][config] = r
    report = summarize(best)
    print("\n".join(report))
    if args.json:
        saved = {
            "when": dt.datetime.now().isoformat(timespec="seconds"),
            "broker": "mock" if args.mock else f"kafka at {args.bootstrap}",
            "rounds": rounds,
            "results": best,
            "report": report,
        }
        args.json.write_text(json.dumps(saved, indent=1))


def summarize(best: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """records/s, client CPU µs per record (the mock broker's thread left out), and
    each configuration against ``off``."""
    lines = [f"{'api':<11}{'config':<13}{'records/s':>11}{'CPU µs/rec':>12}{'x off':>8}{'+µs':>8}"]
    for api, rows in best.items():
        off = rows["off"]
        off_rate = off["records"] / off["wall"]
        off_cpu = (off["cpu"] - off["broker_cpu"]) / off["records"] * 1e6
        for config, r in rows.items():
            rate = r["records"] / r["wall"]
            cpu = (r["cpu"] - r["broker_cpu"]) / r["records"] * 1e6
            r["records_per_s"], r["cpu_us_per_record"] = rate, cpu
            r["ratio_to_off"], r["extra_cpu_us"] = rate / off_rate, cpu - off_cpu
            lines.append(
                f"{api:<11}{config:<13}{rate:>11,.0f}{cpu:>12.1f}"
                f"{rate / off_rate:>8.2f}{cpu - off_cpu:>8.1f}"
            )
    return lines


if __name__ == "__main__":
    main()
