"""confluent-kafka's two producer loops, through kafkify.compat.confluent_kafka and
on confluent-kafka itself, against one broker:

- ``poll0``: ``produce(..., callback=cb)`` + ``poll(0)`` per record (its README's loop);
- ``backpressure``: ``produce`` until ``BufferError``, then ``poll(0.1)`` (a 10,000-record
  queue, so the loop keeps hitting it).

    python benches/confluent_shim_loop.py BOOTSTRAP [--records N] [--rounds R] [--profile]

Prints records/s of each loop, alternating shim and real for R rounds, then each
one's best and the shim/real ratio of the bests; with ``--profile`` the shim's
cProfile top entries.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
import uuid
from typing import Any

LOOPS = ("poll0", "backpressure")


def loop(producer_cls: Any, bootstrap: str, topic: str, records: int, style: str) -> float:
    """Records/s of the loop, flush included."""
    conf = {"bootstrap.servers": bootstrap, "linger.ms": 500}
    if style == "backpressure":
        conf["queue.buffering.max.messages"] = 10_000
    p = producer_cls(conf)
    value = b"x" * 100
    delivered = 0

    def cb(err: Any, msg: Any) -> None:
        nonlocal delivered
        if err is None:
            delivered += 1

    # poll0: poll(0) after every record (a full queue: a short poll); backpressure:
    # poll only when produce() says the queue is full.
    poll_each = style == "poll0"
    when_full = 0.01 if poll_each else 0.1
    started = time.perf_counter()
    for _ in range(records):
        while True:
            try:
                p.produce(topic, value, callback=cb)
                break
            except BufferError:
                p.poll(when_full)
        if poll_each:
            p.poll(0)
    p.flush()
    elapsed = time.perf_counter() - started
    assert delivered == records, (delivered, records)
    return records / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("bootstrap")
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    import confluent_kafka

    from kafkify.compat import confluent_kafka as shim

    topic = f"shim-loop-{uuid.uuid4().hex[:8]}"
    # Warm-up: the topic is created (auto-create) and both clients have metadata.
    loop(confluent_kafka.Producer, args.bootstrap, topic, 1000, "poll0")
    loop(shim.Producer, args.bootstrap, topic, 1000, "poll0")
    clients = {"shim": shim.Producer, "real": confluent_kafka.Producer}
    for style in LOOPS:
        best = dict.fromkeys(clients, 0.0)
        for _ in range(args.rounds):
            for name, cls in clients.items():
                rate = loop(cls, args.bootstrap, topic, args.records, style)
                best[name] = max(best[name], rate)
                print(f"{style} {name}: {rate:,.0f} records/s", flush=True)
        print(
            f"{style}: best shim {best['shim']:,.0f}, best real {best['real']:,.0f} records/s;"
            f" shim/real {best['shim'] / best['real']:.2f}"
        )
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        loop(shim.Producer, args.bootstrap, topic, args.records // 4, "poll0")
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
