"""Blocking send-and-wait latency: kafkify ``send`` vs confluent-kafka ``produce`` +
``flush`` (its idiom for a synchronous send), one record at a time, same broker,
same run, same payload (a ~100-byte JSON dict with a key), acks=all.

    python benches/blocking_latency.py [--records 2000] [--bootstrap host:port]

Starts a Tansu broker on 127.0.0.1 unless --bootstrap is given. Prints p50/p90/p99
per client and kafkify's ratio to confluent-kafka. Both clients run with librdkafka's
default linger.ms (5 ms): a blocking wait must not pay it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from confluent_kafka import Producer as ConfluentProducer

import kafkify

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from serialization import small

import tansu_broker

PAYLOAD = small()  # the same ~100-byte order event serialization.py uses


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def measure(send_one: Callable[[int], None], records: int, warmup: int = 50) -> list[float]:
    for i in range(warmup):
        send_one(i)
    latencies = []
    for i in range(records):
        started = time.perf_counter()
        send_one(i)
        latencies.append(time.perf_counter() - started)
    return sorted(latencies)


def kafkify_send(bootstrap: str, topic: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    producer = kafkify.Producer(bootstrap_servers=bootstrap)

    def send_one(i: int) -> None:
        producer.send(topic, PAYLOAD, key=f"user-{i % 100}")

    return send_one, producer.close


def confluent_produce_flush(
    bootstrap: str, topic: str
) -> tuple[Callable[[int], None], Callable[[], None]]:
    producer = ConfluentProducer(
        {"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True}
    )

    def send_one(i: int) -> None:
        producer.produce(topic, json.dumps(PAYLOAD).encode(), key=f"user-{i % 100}")
        producer.flush()

    return send_one, lambda: producer.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--bootstrap")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        bootstrap = args.bootstrap or stack.enter_context(tansu_broker.running()).bootstrap_servers
        rows = []
        for name, make in [
            ("kafkify send", kafkify_send),
            ("confluent produce+flush", confluent_produce_flush),
        ]:
            topic = f"bench-latency-{uuid.uuid4().hex[:8]}"
            send_one, close = make(bootstrap, topic)
            lat = measure(send_one, args.records)
            close()
            del send_one, close  # drop each client before the broker stops
            rows.append(
                (
                    name,
                    percentile(lat, 0.5) * 1e6,
                    percentile(lat, 0.9) * 1e6,
                    percentile(lat, 0.99) * 1e6,
                    statistics.fmean(lat) * 1e6,
                )
            )
    print(f"blocking send latency, {args.records} records one at a time, acks=all, linger 5 ms")
    print(f"{'client':<26}{'p50 µs':>10}{'p90 µs':>10}{'p99 µs':>10}{'mean µs':>10}")
    for name, p50, p90, p99, mean in rows:
        print(f"{name:<26}{p50:>10.0f}{p90:>10.0f}{p99:>10.0f}{mean:>10.0f}")
    ours, peer = rows[0], rows[1]
    print(
        f"kafkify / confluent: p50 {ours[1] / peer[1]:.2f}x, p99 {ours[3] / peer[3]:.2f}x "
        "(lower is better)"
    )


if __name__ == "__main__":
    main()
