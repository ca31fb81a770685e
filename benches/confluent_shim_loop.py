"""confluent-kafka's ``produce(..., callback=cb)`` + ``poll(0)`` loop, through
kafkify.compat.confluent_kafka and on confluent-kafka itself, against one broker.

    python benches/confluent_shim_loop.py BOOTSTRAP [--records N] [--profile]

Prints records/s for each (the shim, then the real one, then the shim again), and
with ``--profile`` the shim's cProfile top entries.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
import uuid
from typing import Any


def loop(producer_cls: Any, bootstrap: str, topic: str, records: int) -> float:
    """Records/s of the loop, flush included."""
    p = producer_cls({"bootstrap.servers": bootstrap, "linger.ms": 500})
    value = b"x" * 100
    delivered = 0

    def cb(err: Any, msg: Any) -> None:
        nonlocal delivered
        if err is None:
            delivered += 1

    started = time.perf_counter()
    for _ in range(records):
        while True:
            try:
                p.produce(topic, value, callback=cb)
                break
            except BufferError:
                p.poll(0.01)
        p.poll(0)
    p.flush()
    elapsed = time.perf_counter() - started
    assert delivered == records, (delivered, records)
    return records / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("bootstrap")
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    import confluent_kafka

    from kafkify.compat import confluent_kafka as shim

    topic = f"shim-loop-{uuid.uuid4().hex[:8]}"
    # Warm-up: the topic is created (auto-create) and both clients have metadata.
    loop(confluent_kafka.Producer, args.bootstrap, topic, 1000)
    loop(shim.Producer, args.bootstrap, topic, 1000)
    for name, cls in [("shim", shim.Producer), ("real", confluent_kafka.Producer)] * 2:
        rate = loop(cls, args.bootstrap, topic, args.records)
        print(f"{name}: {rate:,.0f} records/s")
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        loop(shim.Producer, args.bootstrap, topic, args.records // 4)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
