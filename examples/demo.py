"""kafkify demo: start a local Tansu broker, produce records three ways, read them
back with an independent client (confluent-kafka), print them, stop the broker.

    bash scripts/demo.sh            # builds everything first
    python examples/demo.py         # with kafkify and confluent-kafka installed
    KAFKA_BOOTSTRAP=host:port python examples/demo.py   # use your own broker
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

import kafkify

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import tansu_broker


def read_all(bootstrap: str, topic: str, expected: int) -> list[tuple[int, int, bytes, bytes]]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "kafkify-demo"})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    rows: list[tuple[int, int, bytes, bytes]] = []
    deadline = time.monotonic() + 30
    while len(rows) < expected and time.monotonic() < deadline:
        for m in consumer.consume(100, timeout=0.5):
            if m.error() is None:
                rows.append((m.partition(), m.offset(), m.key(), m.value()))
    consumer.close()
    return sorted(rows)


async def send_concurrently(producer: kafkify.Producer, topic: str) -> list[kafkify.RecordMetadata]:
    orders = [{"order_id": f"ORD-{i}", "amount": 10.5 * i} for i in range(3, 6)]
    return await asyncio.gather(
        *(producer.send_async(topic, o, key=f"user-{i}") for i, o in enumerate(orders))
    )


def main() -> None:
    with contextlib.ExitStack() as stack:
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP")
        if not bootstrap:
            broker = stack.enter_context(tansu_broker.running())
            bootstrap = broker.bootstrap_servers
            print(f"started Tansu on {bootstrap} (pid {broker.process.pid})")
        topic = f"orders-demo-{int(time.time())}"
        print(f"kafkify {kafkify.__version__}, librdkafka {kafkify.librdkafka_version()}")

        with kafkify.Producer(bootstrap_servers=bootstrap, client_id="demo") as producer:
            # 1. blocking: returns once the broker has acknowledged the record
            t0 = time.perf_counter()
            meta = producer.send(topic, {"order_id": "ORD-1", "amount": 99.99}, key="user-1")
            print(f"send       -> {meta}  ({(time.perf_counter() - t0) * 1e3:.1f} ms)")
            meta = producer.send(
                topic,
                {"order_id": "ORD-2", "amount": 5},
                key="user-2",
                headers={"trace-id": b"abc123"},
            )
            print(f"send       -> {meta}")
            # 2. asyncio: awaitable, never blocks the loop
            for m in asyncio.run(send_concurrently(producer, topic)):
                print(f"send_async -> {m}")
            # 3. fire-and-forget with a delivery callback
            producer.produce(
                topic,
                {"event": "click"},
                key="user-1",
                on_delivery=lambda err, m: print(f"produce    -> {m} err={err}"),
            )
        # leaving the `with` block flushed and closed the producer

        print(f"\nread back from {topic} with confluent-kafka's Consumer:")
        for partition, offset, key, value in read_all(bootstrap, topic, expected=6):
            print(f"  partition {partition} offset {offset}  key={key!r}  value={value.decode()}")


if __name__ == "__main__":
    main()
