"""``kafkify bench``: fire-and-forget throughput and blocking-send latency.

Against an in-process mock cluster by default (no broker needed; its brokers share
this process's CPU, so figures are a client-side ceiling), or against
``--bootstrap-servers``. Prints a small table; every record is checked delivered.
"""

from __future__ import annotations

import argparse
import time
from contextlib import ExitStack
from statistics import quantiles

from kafkify import Producer, RecordMetadata
from kafkify._cli_args import CliError, config_pairs
from kafkify.errors import KafkaError
from kafkify.testing import MockCluster


def run(args: argparse.Namespace) -> int:
    """Run both measurements and print the table; returns the exit status.

    Raises:
        CliError: a non-positive record count or sample size, or failed deliveries.
    """
    if args.records < 1 or args.latency_samples < 1 or args.value_size < 1:
        raise CliError("--records, --latency-samples and --value-size must be positive")
    with ExitStack() as stack:
        servers = args.bootstrap_servers
        where = servers
        if not servers:
            cluster = stack.enter_context(MockCluster(num_brokers=1))
            servers, where = cluster.bootstrap_servers, "in-process mock cluster"
        producer = Producer(servers, config=config_pairs(args.config), client_id="kafkify-bench")
        stack.callback(producer.close)
        value = {"id": 0, "payload": "x" * max(0, args.value_size - 20)}
        producer.send(args.topic, value)  # connect and get a producer id first
        rate, mb_rate = _throughput(producer, args.topic, value, args.records)
        p50, p99 = _latency(producer, args.topic, value, args.latency_samples)
    rows = [
        ("broker", where),
        (
            "fire-and-forget",
            f"{rate:,.0f} records/s ({mb_rate:.1f} MB/s), {args.records:,} records",
        ),
        ("blocking send p50", f"{p50 * 1e3:.3f} ms"),
        ("blocking send p99", f"{p99 * 1e3:.3f} ms ({args.latency_samples:,} sends)"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, text in rows:
        print(f"{name:<{width}}  {text}")
    return 0


def _throughput(
    producer: Producer, topic: str, value: dict[str, object], count: int
) -> tuple[float, float]:
    failures: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, _meta: RecordMetadata) -> None:
        if err is not None:
            failures.append(err)

    size = len(str(value))
    started = time.perf_counter()
    for i in range(count):
        value["id"] = i
        producer.produce(topic, value, key=str(i), on_delivery=on_delivery)
    producer.flush()
    elapsed = time.perf_counter() - started
    if failures:
        raise CliError(f"{len(failures)} of {count} records failed; first: {failures[0]}")
    return count / elapsed, count * size / elapsed / 1e6


def _latency(
    producer: Producer, topic: str, value: dict[str, object], samples: int
) -> tuple[float, float]:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        producer.send(topic, value)
        times.append(time.perf_counter() - started)
    if len(times) == 1:
        return times[0], times[0]
    cuts = quantiles(times, n=100, method="inclusive")
    return cuts[49], cuts[98]
