"""One point of benches/scaling.py, run in a fresh process (as benches/contenders.py
runs one contender of benches/compare.py), so no earlier point's threads, buffers
or garbage slow it down.

    python benches/scaling_point.py API KIND --size BYTES --threads T --partitions P
        --topic TOPIC --warmup-topic TOPIC --records N --bootstrap HOST:PORT

API is produce (fire-and-forget, then one flush), send_async (100 asyncio tasks
awaiting their sends, contenders.run_tasks) or send_batch; KIND is json or bytes
(the records of workload.json_records / bytes_records at SIZE, sent with that
value_serializer). With T threads the records are split into T contiguous shares,
each thread sends its share (produce: then one flush). Prints one JSON object: wall
and CPU seconds of the timed part (process CPU: every thread, librdkafka's too).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import contenders
import workload as w

APIS = ("produce", "send_async", "send_batch")
KINDS = ("json", "bytes")
# A queue that holds a whole point (at most 100k records, ~50 MB: benches/scaling.py),
# so every API measures its sending path rather than how it waits for room.
# message.max.bytes, the largest request, stays at librdkafka's 1,000,000: below
# the broker's ~1 MB limit, and ~9 of the largest (100 KB) records per request.
LIMITS: dict[str, Any] = {
    "queue.buffering.max.messages": 1_000_000,
    "queue.buffering.max.kbytes": 262_144,
    "message.max.bytes": 1_000_000,
}
BATCH_TIMEOUT_S = 300


def shares(n: int, threads: int) -> list[range]:
    """Contiguous, near-equal shares of records 0..n-1, one per thread."""
    return [range(n * t // threads, n * (t + 1) // threads) for t in range(threads)]


def in_threads(threads: int, work: Callable[[Any], object], parts: Sequence[Any]) -> None:
    """work(part) for each part, each on a thread of its own (one: the calling
    thread); the first exception of any thread is raised here."""
    if threads == 1:
        work(parts[0])
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in pool.map(work, parts):
            pass


def measure(args: argparse.Namespace) -> dict[str, Any]:
    make = w.json_records if args.kind == "json" else w.bytes_records
    values, keys = make(args.records, args.size)
    p = contenders.kafkify_producer(args, value_serializer=args.kind, config=LIMITS)
    # Warm-up: connection, idempotent producer id, and the measured topic's metadata.
    p.send(args.warmup_topic, values[0], key=keys[0])
    found = len(p.partitions_for(args.topic))
    if found != args.partitions:
        raise RuntimeError(f"{args.topic} has {found} partitions, expected {args.partitions}")
    topic = args.topic
    parts = [
        (values[r.start : r.stop], keys[r.start : r.stop])
        for r in shares(len(values), args.threads)
    ]

    if args.api == "send_async":
        if args.threads != 1:
            raise ValueError("send_async runs on one event loop: --threads 1")

        async def main() -> dict[str, Any]:
            await p.send_async(args.warmup_topic, values[0], key=keys[0])
            return await contenders.run_tasks(
                lambda i: p.send_async(topic, values[i], key=keys[i]), len(values)
            )

        result = asyncio.run(main())
    elif args.api == "produce":

        def produce_share(part: tuple[list[Any], list[Any]]) -> None:
            for v, k in zip(*part, strict=True):
                p.produce(topic, v, key=k)

        def produce_all() -> None:
            in_threads(args.threads, produce_share, parts)
            p.flush()

        result = contenders.timed(produce_all)
    else:

        def batch_share(part: tuple[list[Any], list[Any]]) -> None:
            # A failed record raises (and fails the point) without a Python pass
            # over the results, as in contenders.kafkify_batch_bytes.
            p.send_batch(topic, part[0], keys=part[1], timeout=BATCH_TIMEOUT_S, raise_on_error=True)

        result = contenders.timed(lambda: in_threads(args.threads, batch_share, parts))
    p.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("api", choices=APIS)
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--size", type=int, required=True, help="record value bytes")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--partitions", type=int, required=True, help="the topic's, checked")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--warmup-topic", required=True)
    parser.add_argument("--records", type=int, required=True)
    parser.add_argument("--bootstrap", required=True)
    json.dump(measure(parser.parse_args()), sys.stdout)


if __name__ == "__main__":
    main()
