"""How kafkify's cost grows (issue 12, item 4): records/s and CPU seconds per 100k
records of produce (fire-and-forget, then flush), send_async (100 asyncio tasks)
and send_batch, as one thing grows at a time:

  size        the record: 100 B, 1 KB, 10 KB, 100 KB; JSON dicts and bytes
              (1 partition, 1 thread)
  partitions  the topic's: 1, 6, 48 (100 B JSON records, keyed)
  threads     Python threads sharing one Producer: 1, 2, 4, 8; produce (each thread
              its share, then one flush) and send_batch (each thread one batch),
              JSON and bytes 100 B records (1 partition)

    python benches/scaling.py --bootstrap HOST:PORT [--quick] [--rounds 1] [--out DIR]

Needs a running broker (benches/compare.py passes its Apache Kafka node; for a
manual run: scripts/kafka_cluster.py run --no-security). Each point runs in a fresh
process (benches/scaling_point.py) on a fresh topic created with its partition
count, after a warm-up to another topic, and moves a bounded volume: min(100k,
50 MB / size) records (--quick: a tenth); with --rounds, every point that many
times, the fastest kept. Every run of a point is read back with confluent-kafka's
Consumer and checked record by record (workload.verify); a failed check fails the
run. Two unrecorded points warm the broker up first. Prints a table per
dimension, saves one PNG per dimension and (from the command line) the results as
JSON: <out>/<stamp>-scaling*.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import scaling_plot
import workload as w
from confluent_kafka.admin import AdminClient

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "scripts"))
import kafka_cluster  # noqa: E402  (scripts/, found through the path above)

SIZES = (100, 1_000, 10_000, 100_000)
PARTITIONS = (1, 6, 48)
THREADS = (1, 2, 4, 8)
MAX_RECORDS = 100_000
VOLUME_BYTES = 50_000_000  # per point: 100 KB records -> 500 of them
QUICK_DIVISOR = 10
DIMENSIONS = ("size", "partitions", "threads")
POINT_TIMEOUT_S = 600


@dataclasses.dataclass(frozen=True)
class Point:
    dimension: str  # which of the fields below grows: "size", "partitions" or "threads"
    api: str
    kind: str
    size: int = 100
    partitions: int = 1
    threads: int = 1

    @property
    def x(self) -> int:
        value: int = getattr(self, self.dimension)
        return value


# Run first and left out of the results: the broker's JVM compiles its produce path
# during the first seconds of traffic, which would slow whichever point came first.
BROKER_WARMUP = (
    Point("size", "produce", "json"),
    Point("size", "send_batch", "bytes", size=100_000),
)


def points() -> list[Point]:
    apis = ("produce", "send_async", "send_batch")
    kinds = ("json", "bytes")
    return [
        *(Point("size", a, k, size=s) for k in kinds for a in apis for s in SIZES),
        *(Point("partitions", a, "json", partitions=n) for a in apis for n in PARTITIONS),
        *(
            Point("threads", a, k, threads=t)
            for k in kinds
            for a in ("produce", "send_batch")
            for t in THREADS
        ),
    ]


def record_count(size: int, quick: bool) -> int:
    n = min(MAX_RECORDS, VOLUME_BYTES // size)
    return n // QUICK_DIVISOR if quick else n


def payload_bytes(kind: str, size: int) -> int:
    """Key plus value bytes of record 0."""
    value = w.json_size(w.json_value(0, size)) if kind == "json" else len(w.bytes_value(0, size))
    return value + len(w.key(0))


def run_point(
    bootstrap: str, admin: AdminClient, point: Point, records: int, warmup_topic: str
) -> dict[str, Any]:
    topic = w.unique_topic(f"scaling-{point.dimension}")
    kafka_cluster.create_topic(bootstrap, topic, point.partitions)
    command = [sys.executable, str(HERE / "scaling_point.py"), point.api, point.kind]
    command += ["--size", str(point.size), "--threads", str(point.threads)]
    command += ["--partitions", str(point.partitions), "--records", str(records)]
    command += ["--topic", topic, "--warmup-topic", warmup_topic, "--bootstrap", bootstrap]
    out = subprocess.run(command, capture_output=True, text=True, timeout=POINT_TIMEOUT_S)
    if out.returncode != 0:
        raise RuntimeError(f"{point} failed:\n{out.stderr[-3000:]}")
    measured: dict[str, Any] = json.loads(out.stdout)
    check = w.verify(bootstrap, topic, records, point.kind, size=point.size)
    # The topic is not needed once checked: the broker's disk holds one point at a time.
    admin.delete_topics([topic])[topic].result(timeout=30)
    rate = records / measured["wall"]
    return {
        **dataclasses.asdict(point),
        "records": records,
        "payload_bytes": payload_bytes(point.kind, point.size),
        **measured,
        "records_per_s": rate,
        "mb_per_s": rate * payload_bytes(point.kind, point.size) / 1e6,
        "cpu_s_per_100k": measured["cpu"] / records * 1e5,
        "check": check.describe(),
        "ok": check.ok,
    }


def human_size(size: int) -> str:
    return f"{size // 1000} KB" if size >= 1000 else f"{size} B"


def table(dimension: str, rows: list[dict[str, Any]]) -> list[str]:
    fixed = {
        "size": "1 partition, 1 thread",
        "partitions": "100 B JSON records, 1 thread",
        "threads": "100 B records, 1 partition",
    }[dimension]
    lines = [
        f"[{dimension}] {fixed}",
        f"{'api':<12}{'kind':<7}{dimension:>11}{'bytes':>8}{'records':>9}{'records/s':>11}{'MB/s':>8}"
        f"{'CPU s/100k':>12}  check",
    ]
    for r in rows:
        x = human_size(r["size"]) if dimension == "size" else str(r[dimension])
        lines.append(
            f"{r['api']:<12}{r['kind']:<7}{x:>11}{r['payload_bytes']:>8}{r['records']:>9}"
            f"{r['records_per_s']:>11,.0f}"
            f"{r['mb_per_s']:>8.1f}{r['cpu_s_per_100k']:>12.2f}  {r['check']}"
        )
    return lines


def reported(new: dict[str, Any], old: dict[str, Any] | None) -> bool:
    """Whether round ``new`` replaces ``old`` as a point's result: the faster of
    two good rounds; a failed round, once there, stays (its check fails the run)."""
    if old is None:
        return True
    if not old["ok"]:
        return False
    return not new["ok"] or new["wall"] < old["wall"]


def measure_all(bootstrap: str, quick: bool, rounds: int) -> tuple[list[dict[str, Any]], list[str]]:
    """Every point ``rounds`` times, interleaved (a noisy moment of this shared VM
    hits one round of many points, not every round of one): each point's fastest
    round (a failed one, if any round failed: its "check" says so), and every
    failed check."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    warmup_topic = w.unique_topic("scaling-warmup")
    kafka_cluster.create_topic(bootstrap, warmup_topic, 1)
    for point in BROKER_WARMUP:
        r = run_point(bootstrap, admin, point, record_count(point.size, quick), warmup_topic)
        print(f"  broker warm-up {point.api} {point.kind} {point.size} B: {r['check']}", flush=True)
        if not r["ok"]:
            raise RuntimeError(f"broker warm-up {point}: {r['check']}")
    best: dict[Point, dict[str, Any]] = {}
    failures: list[str] = []
    for _ in range(rounds):
        for point in points():
            r = run_point(bootstrap, admin, point, record_count(point.size, quick), warmup_topic)
            print(
                f"  {point.dimension} {point.api} {point.kind} x={point.x}: "
                f"{r['records_per_s']:,.0f} records/s, {r['check']}",
                flush=True,
            )
            if not r["ok"]:
                failures.append(f"{point}: {r['check']}")
            if reported(r, best.get(point)):
                best[point] = r
    admin.delete_topics([warmup_topic])[warmup_topic].result(timeout=30)
    return [best[p] for p in points()], failures


def run(
    bootstrap: str, *, quick: bool, out_dir: Path, stamp: str, rounds: int = 1
) -> tuple[dict[str, Any], list[str]]:
    """Every point against ``bootstrap`` (best of ``rounds``); the PNGs go to
    ``out_dir``. Returns the results (JSON-able, with the PNG paths; "ok" is False
    if any check of any round failed) and the report lines."""
    started = time.monotonic()
    rows, failures = measure_all(bootstrap, quick, rounds)
    out_dir.mkdir(parents=True, exist_ok=True)
    plots: dict[str, str] = {}
    report = [
        f"kafkify scaling — {stamp}, {os.cpu_count()} cores, broker {bootstrap}, "
        f"best of {rounds} round{'s' if rounds > 1 else ''}"
        + (", quick (a tenth of the records)" if quick else "")
    ]
    for dimension in DIMENSIONS:
        mine = [r for r in rows if r["dimension"] == dimension]
        path = out_dir / f"{stamp}-scaling-{dimension}.png"
        scaling_plot.plot(dimension, mine, path)
        plots[dimension] = str(path)
        report += ["", *table(dimension, mine), f"plot: {path}"]
    seconds = time.monotonic() - started
    report += ["", f"{len(rows)} points x {rounds} in {seconds:.0f} s"]
    report += [f"FAILED: {f}" for f in failures]
    results = {
        "quick": quick,
        "rounds": rounds,
        "seconds": seconds,
        "ok": not failures,
        "failures": failures,
        "plots": plots,
        "points": rows,
    }
    return results, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True, help="a running broker, host:port")
    parser.add_argument("--quick", action="store_true", help="a tenth of the records")
    parser.add_argument("--rounds", type=int, default=1, help="best of this many (default 1)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    results, report = run(
        args.bootstrap, quick=args.quick, out_dir=args.out, stamp=stamp, rounds=args.rounds
    )
    print("\n".join(report))
    saved = args.out / f"{stamp}-scaling.json"
    saved.write_text(
        json.dumps(
            {
                "when": stamp,
                "machine": platform.platform(),
                "cpus": os.cpu_count(),
                **results,
                "report": report,
            },
            indent=1,
        )
    )
    print(f"saved {saved}")
    return 0 if results["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
