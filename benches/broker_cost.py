"""What one produce request costs the test broker (Tansu), by records per request.

    .venv-bench/bin/python benches/broker_cost.py      (after bash benches/run.sh)

Workload (c) of compare.py is a closed loop: 100 tasks each await their record,
so a wave of ~100 records goes out, and the next wave only once it is answered.
librdkafka (2.12, what kafkify and confluent-kafka ship) puts one partition in a
ProduceRequest, so a wave over the benchmark topic's 4 partitions is at least 4
requests. This measures, with confluent-kafka (not kafkify: it is the broker being
measured), what a request costs: batch.num.messages=N with a long linger makes
every request exactly N records; acks=all, idempotence on (5 requests in flight),
one partition, on a fresh Tansu. ms/request = wall time / requests.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from confluent_kafka import Producer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import tansu_broker

REQUESTS = 2_000
VALUE = b"x" * 100


def cost(bootstrap: str, per_request: int) -> tuple[float, float]:
    """(ms per request, records/s) for requests of `per_request` records."""
    topic = f"cost-{per_request}"
    tansu_broker.create_topic(bootstrap, topic, 1)
    p = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 1000,
            "batch.num.messages": per_request,
        }
    )
    p.produce(f"{topic}-warmup", VALUE)
    p.flush()
    records = REQUESTS * per_request if per_request <= 10 else 20_000
    started = time.perf_counter()
    for _ in range(records):
        while True:
            try:
                p.produce(topic, VALUE, key=b"user-1", partition=0)
                break
            except BufferError:
                p.poll(0.001)
    p.flush()
    wall = time.perf_counter() - started
    return wall / (records / per_request) * 1e3, records / wall


def main() -> int:
    with tansu_broker.running() as broker:
        print(f"Tansu on {broker.bootstrap_servers}; one partition, acks=all, idempotence")
        print(f"{'records/request':>16} {'ms/request':>11} {'records/s':>10}")
        for n in (1, 10, 25, 100, 500):
            ms, rate = cost(broker.bootstrap_servers, n)
            print(f"{n:>16} {ms:>11.3f} {rate:>10,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
