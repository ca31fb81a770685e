"""The records every contender of benches/compare.py sends, and the checks that the
broker received exactly those records.

Records are made from their sequence number alone, so a contender's process and
the checking process build the same ones without passing them around:
- JSON workloads: a ~100-byte order event dict (serialization.small() plus "seq"),
  keyed ``user-{seq % 1000}``;
- bytes workloads: ``{"seq":N,...}`` padded to 100 bytes, the same keys.

With ``size`` (benches/scaling.py), a JSON record gets order lines until it encodes
to about ``size`` bytes, and a bytes record is padded to exactly ``size``.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from serialization import small

KEYS = 1000
BYTES_SIZE = 100

# The same for every contender unless a workload says otherwise: acks=all,
# idempotence on, no compression (so no client needs a codec package and every
# one puts the same bytes on the wire), linger 5 ms (librdkafka's default).
RDKAFKA_SETTINGS: dict[str, Any] = {
    "acks": "all",
    "enable.idempotence": True,
    "compression.type": "none",
    "linger.ms": 5,
}


def key(seq: int) -> str:
    return f"user-{seq % KEYS}"


def json_value(seq: int, size: int | None = None) -> dict[str, Any]:
    """The ~100 B order event; with ``size``, plus as many order lines (each
    different, from ``seq``) as bring its encoding to about ``size`` bytes."""
    doc = small()
    doc["seq"] = seq
    lines = order_line_count(size) if size else 0
    if lines:
        doc["lines"] = [order_line(seq, i) for i in range(lines)]
    return doc


def order_line(seq: int, i: int) -> dict[str, Any]:
    n = (seq + i) % 100_000  # fixed-width fields: every record's line is the same size
    return {
        "sku": f"SKU-{n:05d}",
        "name": f"Product number {n:05d}",
        "qty": n % 4 + 1,
        "unit_price": n % 100 + 0.99,
        "tags": ["new", "promo"],
    }


@functools.lru_cache
def order_line_count(size: int) -> int:
    """How many order lines bring the event to about ``size`` encoded bytes."""
    base = json_size({**json_value(0), "lines": []})
    return max(0, round((size - base) / (json_size(order_line(0, 0)) + 1)))


def json_size(doc: Any) -> int:
    """Bytes of ``doc`` as compact JSON (as kafkify writes it)."""
    return len(json.dumps(doc, separators=(",", ":")))


def bytes_value(seq: int, size: int | None = None) -> bytes:
    """``{"seq":N,"pad":"xx..."}``, exactly ``size`` bytes (default 100)."""
    head = b'{"seq":%d,"pad":"' % seq
    return head + b"x" * ((size or BYTES_SIZE) - len(head) - 2) + b'"}'


def json_records(n: int, size: int | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    return [json_value(i, size) for i in range(n)], [key(i) for i in range(n)]


def bytes_records(n: int, size: int | None = None) -> tuple[list[bytes], list[bytes]]:
    return [bytes_value(i, size) for i in range(n)], [key(i).encode() for i in range(n)]


def write_records_file(path: str, n: int) -> None:
    """``key<TAB>value`` lines: what kcat -K'\\t' -l and benches/rust_ceiling read."""
    with open(path, "wb") as f:
        for i in range(n):
            f.write(key(i).encode() + b"\t" + bytes_value(i) + b"\n")


def unique_topic(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Check:
    """What the broker held, compared with what was sent."""

    expected: int
    received: int
    missing: int
    duplicated: int
    wrong: int

    @property
    def ok(self) -> bool:
        clean = not (self.missing or self.duplicated or self.wrong)
        return clean and self.received == self.expected

    def describe(self) -> str:
        if self.ok:
            return f"ok ({self.received} records, each once, byte-checked)"
        return (
            f"MISMATCH: expected {self.expected}, received {self.received}, "
            f"missing {self.missing}, duplicated {self.duplicated}, wrong {self.wrong}"
        )


def verify(
    bootstrap: str, topic: str, n: int, kind: str, timeout: float = 120.0, size: int | None = None
) -> Check:
    """Consume ``topic`` from the beginning with confluent-kafka's Consumer (an
    independent client) and check that records 0..n-1 (of ``size``, as
    json_value/bytes_value make them) each arrived exactly once, with the right key
    and value. JSON values are compared decoded (clients format JSON differently);
    bytes values byte for byte."""
    seen: Counter[int] = Counter()
    wrong = received = 0
    for k, v in consume(bootstrap, topic, n, timeout):
        received += 1
        try:
            seq = json.loads(v)["seq"]
        except (TypeError, ValueError, KeyError):
            wrong += 1
            continue
        seen[seq] += 1
        if kind == "json":
            good_value = json.loads(v) == json_value(seq, size)
        else:
            good_value = v == bytes_value(seq, size)
        if not (0 <= seq < n and good_value and k == key(seq).encode()):
            wrong += 1
    missing = sum(1 for i in range(n) if i not in seen)
    duplicated = sum(c - 1 for c in seen.values() if c > 1)
    return Check(n, received, missing, duplicated, wrong)


def consume(
    bootstrap: str, topic: str, n: int, timeout: float
) -> Iterator[tuple[bytes | None, bytes]]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-check-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            "fetch.max.bytes": 52428800,
        }
    )
    try:
        partitions = sorted(consumer.list_topics(topic, timeout=30).topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        count, deadline, idle_until = 0, time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            batch = consumer.consume(num_messages=10000, timeout=0.5)
            for msg in batch:
                if msg.error():
                    raise RuntimeError(f"consumer error: {msg.error()}")
                count += 1
                yield msg.key(), msg.value()
            if count >= n:
                # Linger a moment to catch duplicates beyond the expected count.
                idle_until = idle_until or time.monotonic() + 1.0
                if not batch and time.monotonic() >= idle_until:
                    return
    finally:
        consumer.close()
