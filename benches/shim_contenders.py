"""The compat shims against the clients they stand in for (issue 12, item 2): each
workload runs the peer's own idiom twice, once on the peer and once on its shim
(the peer's import changed to ``kafkify.compat.*``), with the same records
(workload.json_records, JSON-encoded the peer's way) and the same settings.

- ``shim_kafka_python``: ``send()`` of every record, then ``flush()``
  (contenders.kafka_python_fire_and_forget);
- ``shim_aiokafka_send_and_wait``: 100 tasks each awaiting ``send_and_wait``
  (contenders.aiokafka_asyncio, linger 5 ms);
- ``shim_aiokafka_send``: ``await send()`` of every record, its future not awaited,
  then ``await flush()`` (contenders.aiokafka_fire_and_forget);
- ``shim_confluent_poll0``: ``produce(callback=)`` + ``poll(0)`` per record
  (confluent-kafka's README loop);
- ``shim_confluent_backpressure``: ``produce`` until ``BufferError``, then
  ``poll(0.1)``, with a 10,000-record queue so the loop keeps hitting it.

benches/contenders.py registers them (``contenders(module)``, which it calls with
itself: the rows are its functions, and the two modules never import each other),
so it runs one of them:

    python benches/contenders.py shim_kafka_python kafkify.compat.kafka --topic T \\
        --records N --bootstrap B

SHIM_WORKLOADS is the spec benches/compare.py takes: records, our row, the peer's
row, and the issue's minimum throughput ratio ours / peer.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import workload as w

Contender = Callable[[argparse.Namespace], dict[str, Any]]

CONFLUENT_LOOPS = ("poll0", "backpressure")
# The back-pressure loop's queue: small enough that 200k records keep filling it.
BACKPRESSURE_QUEUE = {"queue.buffering.max.messages": 10_000}


def confluent_callback_loop(
    c: ModuleType, args: argparse.Namespace, *, module: str, style: str
) -> dict[str, Any]:
    """confluent-kafka's producer loop with a delivery callback per record, on
    ``module``'s Producer (confluent_kafka or kafkify.compat.confluent_kafka);
    ``c``: benches/contenders.py, whose helpers it uses.
    ``poll0``: poll(0) after every record (a full queue: a short poll);
    ``backpressure``: poll(0.1) only when produce() says the queue is full."""
    producer_cls = importlib.import_module(module).Producer
    values, keys = w.json_records(args.records)
    queue = BACKPRESSURE_QUEUE if style == "backpressure" else {}
    p = producer_cls(c.rdkafka_conf(args, **queue))
    p.produce(f"{args.topic}-warmup", c.json_dumps_bytes(values[0]), key=keys[0])
    p.flush()
    failed = 0

    def on_delivery(err: Any, _msg: Any) -> None:
        nonlocal failed
        if err is not None:
            failed += 1

    poll_each = style == "poll0"
    when_full = 0.01 if poll_each else 0.1

    def body() -> dict[str, Any]:
        for v, k in zip(values, keys, strict=True):
            value = json.dumps(v).encode()
            while True:
                try:
                    p.produce(args.topic, value, key=k, callback=on_delivery)
                    break
                except BufferError:
                    p.poll(when_full)
            if poll_each:
                p.poll(0)
        p.flush()
        return {"failed": failed}

    result: dict[str, Any] = c.timed(body)
    return result


def peer_and_shim(
    contender: Callable[..., dict[str, Any]], peer: tuple[str, str], shim: str, **kwargs: Any
) -> dict[str, Contender]:
    """Two rows running ``contender``: on the peer's module (``(row name, module)``)
    and on ``shim``, the module that stands in for it (also the row's name)."""
    peer_row, peer_module = peer
    return {
        shim: functools.partial(contender, module=shim, **kwargs),
        peer_row: functools.partial(contender, module=peer_module, **kwargs),
    }


def contenders(c: ModuleType) -> dict[str, dict[str, Contender]]:
    """Workload -> {row name -> contender}; ``c``: benches/contenders.py, which calls
    this with itself (so the peer rows are its own contenders, with its settings,
    the aiokafka idempotence rule included)."""
    confluent_loop = functools.partial(confluent_callback_loop, c)
    return {
        "shim_kafka_python": peer_and_shim(
            c.kafka_python_fire_and_forget, ("kafka-python", "kafka"), "kafkify.compat.kafka"
        ),
        "shim_aiokafka_send_and_wait": peer_and_shim(
            c.aiokafka_asyncio, ("aiokafka", "aiokafka"), "kafkify.compat.aiokafka"
        ),
        "shim_aiokafka_send": peer_and_shim(
            c.aiokafka_fire_and_forget, ("aiokafka", "aiokafka"), "kafkify.compat.aiokafka"
        ),
        **{
            f"shim_confluent_{style}": peer_and_shim(
                confluent_loop,
                ("confluent-kafka", "confluent_kafka"),
                "kafkify.compat.confluent_kafka",
                style=style,
            )
            for style in CONFLUENT_LOOPS
        },
    }


def spec(records: int, ours: str, peer: str, target: float) -> dict[str, Any]:
    return {"records": records, "ours": ours, "peer": peer, "target": target}


# Targets (issue 12): the confluent shim at least level with confluent-kafka, the
# aiokafka shim 3x aiokafka, the kafka-python shim 20x kafka-python.
SHIM_WORKLOADS: dict[str, dict[str, Any]] = {
    "shim_kafka_python": spec(200_000, "kafkify.compat.kafka", "kafka-python", 20.0),
    "shim_aiokafka_send_and_wait": spec(50_000, "kafkify.compat.aiokafka", "aiokafka", 3.0),
    "shim_aiokafka_send": spec(200_000, "kafkify.compat.aiokafka", "aiokafka", 3.0),
    **{
        f"shim_confluent_{style}": spec(
            200_000, "kafkify.compat.confluent_kafka", "confluent-kafka", 1.0
        )
        for style in CONFLUENT_LOOPS
    },
}
