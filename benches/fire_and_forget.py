"""Fire-and-forget throughput: kafkify ``produce`` (JSON encoded in Rust) vs
confluent-kafka ``produce`` with ``json.dumps``, same broker, same run, same
records (~100-byte JSON dicts with keys), acks=all, idempotence, lz4, linger 5 ms.

    python benches/fire_and_forget.py [--records 200000] [--rounds 3] [--bootstrap host:port]

Starts a Tansu broker on 127.0.0.1 unless --bootstrap is given. Each round times
both clients back to back (enqueue everything, then flush) on fresh topics; the
best round per client is reported with its CPU time per 100k records and
kafkify's ratio to confluent-kafka. The full peer comparison (kafka-python,
aiokafka, confluent's AIOProducer) is issue 5's work.
"""

from __future__ import annotations

import argparse
import contextlib
import json
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

SETTINGS = {"acks": "all", "enable.idempotence": True, "compression.type": "lz4", "linger.ms": 5}


def kafkify_run(bootstrap: str, records: int) -> tuple[float, float]:
    topic = f"ff-{uuid.uuid4().hex[:8]}"
    doc = small()
    producer = kafkify.Producer(bootstrap_servers=bootstrap, config=SETTINGS)
    producer.send(topic, doc)  # warm up: metadata and the idempotent producer id

    def body() -> None:
        for i in range(records):
            producer.produce(topic, doc, key=str(i % 1000))
        producer.flush()

    result = timed(body)
    producer.close()
    return result


def confluent_run(bootstrap: str, records: int) -> tuple[float, float]:
    topic = f"ff-{uuid.uuid4().hex[:8]}"
    doc = small()
    producer = ConfluentProducer({"bootstrap.servers": bootstrap, **SETTINGS})
    producer.produce(topic, json.dumps(doc).encode())
    producer.flush()

    def body() -> None:
        for i in range(records):
            value = json.dumps(doc).encode()
            while True:
                try:
                    producer.produce(topic, value, key=str(i % 1000))
                    break
                except BufferError:  # local queue full: serve deliveries, retry
                    producer.poll(0.001)
            if i % 1000 == 0:
                producer.poll(0)
        producer.flush()

    return timed(body)


def timed(body: Callable[[], None]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    body()
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bootstrap")
    args = parser.parse_args()
    best: dict[str, tuple[float, float]] = {}
    with contextlib.ExitStack() as stack:
        bootstrap = args.bootstrap or stack.enter_context(tansu_broker.running()).bootstrap_servers
        for _ in range(args.rounds):
            for name, run in [
                ("kafkify produce", kafkify_run),
                ("confluent + json.dumps", confluent_run),
            ]:
                wall, cpu = run(bootstrap, args.records)
                if name not in best or wall < best[name][0]:
                    best[name] = (wall, cpu)
    n = args.records
    print(f"fire-and-forget, {n} JSON dicts with keys, best of {args.rounds} rounds")
    print(f"{'client':<26}{'records/s':>12}{'MB/s':>8}{'CPU s/100k':>12}")
    size = len(kafkify.dumps(small()))
    for name, (wall, cpu) in best.items():
        print(f"{name:<26}{n / wall:>12,.0f}{n * size / wall / 1e6:>8.1f}{cpu / n * 1e5:>12.2f}")
    ours, peer = best["kafkify produce"], best["confluent + json.dumps"]
    print(f"kafkify / confluent: {peer[0] / ours[0]:.2f}x the throughput")


if __name__ == "__main__":
    main()
