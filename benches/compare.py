"""kafkify against every peer, on the same brokers, in one run (issues 5 and 12).

    bash benches/run.sh [--rounds 3] [--quick] [--brokers kafka-1,mock] [--only asyncio,blocking]

(run.sh builds what is needed, then runs this file, which starts the brokers of
benches/brokers.py one after the other: Apache Kafka with 1 node and with 3,
Tansu, librdkafka's mock cluster. --bootstrap host:port measures a running Kafka
instead, as kafka-1.)

Workloads, run on every broker (records are ~100 bytes with keys; acks=all,
idempotence, no compression, linger 5 ms unless the workload says otherwise):
  a. fire_and_forget  200k JSON dicts: kafkify produce; confluent-kafka produce with
                      json.dumps, and with the records encoded beforehand; confluent's
                      AIOProducer; aiokafka; kafka-python.
  b. blocking         2k sends one at a time, each waited for (kafka-python and
                      aiokafka at linger 0, their default: they would pay 5 ms).
  c. asyncio          100 tasks each awaiting its sends, 50k records (linger 5 for all).
     asyncio_linger0  (c) with linger 0 for all: each client at its lowest latency.
  d. batch_bytes      200k bytes records: kafkify send_batch vs a Rust program over the
                      same rdkafka crate (the ceiling of our stack) and kcat.
  memory              1M fire-and-forget records with a 64 MB queue buffer: RSS growth.
  h. first_record     30 new producers, one after the other: construction + first send
                      (not on the mock: each producer would get a cluster of its own).
  e. shim_*           each drop-in shim against its peer, with the peer's idiom
                      (benches/shim_contenders.py; Kafka brokers only).
On the mock cluster only librdkafka clients run (the others cannot reach it).
Then, on kafka-1: the FastAPI app under load (benches/fastapi_load.py, target f)
and how cost grows with record size, partitions and threads (benches/scaling.py,
plotted); and JSON encoding by instruction count (benches/serialization.py, g).

Each contender runs in a fresh process (benches/contenders.py) on a fresh topic,
best wall time of --rounds (1 round for blocking, memory and first_record), rounds
interleaved. Every run is checked: the broker must hold exactly the records sent,
read back with confluent-kafka's Consumer (mock: probe offsets). A failed check
fails the benchmark. The table is printed and saved as JSON under benches/results/,
with the plots beside it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

import brokers  # noqa: E402  (benches/ modules, found through the script's directory)
import contenders  # noqa: E402
import fastapi_load  # noqa: E402
import scaling  # noqa: E402
import serialization  # noqa: E402
import shim_contenders  # noqa: E402
import workload as w  # noqa: E402

RECORDS = {
    "fire_and_forget": 200_000,
    "blocking": 2_000,
    "asyncio": 50_000,
    "asyncio_linger0": 50_000,
    "batch_bytes": 200_000,
    "memory": 1_000_000,
    "first_record": 30,
    **{name: spec["records"] for name, spec in shim_contenders.SHIM_WORKLOADS.items()},
}
SINGLE_ROUND = {"blocking", "memory", "first_record"}
KAFKA_ONLY = set(shim_contenders.SHIM_WORKLOADS)
# Each new producer on the mock cluster gets a cluster of its own: nothing to count.
NOT_ON_MOCK = {"first_record"}
KIND = {"batch_bytes": "bytes"}
# kafkify's row, and the peers the targets compare it with.
OURS = {
    "fire_and_forget": "kafkify produce",
    "blocking": "kafkify send",
    "asyncio": "kafkify send_async",
    "asyncio_linger0": "kafkify send_async",
    "batch_bytes": "kafkify send_batch",
    "memory": "kafkify produce",
    "first_record": "kafkify Producer() + send",
    **{name: spec["ours"] for name, spec in shim_contenders.SHIM_WORKLOADS.items()},
}
# (workload, peer, minimum throughput ratio), from issue 12's targets.
TARGETS = [
    ("fire_and_forget", "confluent produce + json.dumps", 3.0),
    ("fire_and_forget", "kafka-python send", 20.0),
    ("fire_and_forget", "confluent produce (pre-encoded bytes)", 1.0),
    ("asyncio", "aiokafka send_and_wait", 5.0),
    ("asyncio", "confluent AIOProducer (tuned, poll task)", 3.0),
    ("asyncio_linger0", "aiokafka send_and_wait", 2.0),
    ("asyncio_linger0", "confluent AIOProducer (tuned, poll task)", 2.0),
    *[
        (name, spec["peer"], spec["target"])
        for name, spec in shim_contenders.SHIM_WORKLOADS.items()
    ],
]
CEILING = ("batch_bytes", "rust rdkafka (ceiling)", 0.8)  # (d): median of per-round ratios
AWAITED_CPU_US = 10.0  # (c'): client CPU per awaited record on the mock cluster
FIRST_RECORD_MS = 50.0  # (h)
# Only librdkafka clients can reach the in-process mock cluster.
MOCK_CLIENTS = ("kafkify", "confluent")


def run_one(workload: str, client: str, args: argparse.Namespace, broker: brokers.Broker) -> dict:
    records = args.records or RECORDS[workload]
    if args.quick:
        records = max(10 if workload == "first_record" else 1000, records // 10)
    topic = w.unique_topic(workload.replace("_", "-"))
    with broker.run(topic) as bootstrap:
        command = [sys.executable, str(HERE / "contenders.py"), workload, client]
        command += ["--topic", topic, "--records", str(records), "--broker", broker.kind]
        if bootstrap:
            command += ["--bootstrap", bootstrap]
        if args.kcat:
            command += ["--kcat", args.kcat]
        if args.rust_ceiling:
            command += ["--rust-ceiling", args.rust_ceiling]
        out = subprocess.run(command, capture_output=True, text=True, timeout=900)
        if out.returncode != 0:
            what = f"{broker.name} / {workload} / {client}"
            raise RuntimeError(f"{what} failed:\n{out.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(out.stdout)
        result["records"] = records
        if broker.kind == "mock":
            count = result.pop("broker_count", None)
            result["check"] = "ok" if count == records else f"MISMATCH: broker holds {count}"
        else:
            check = w.verify(bootstrap, topic, records, KIND.get(workload, "json"))
            result["check"] = check.describe()
    if result.get("failed"):
        result["check"] = f"MISMATCH: {result['failed']} delivery failures"
    return result


def payload_bytes(workload: str) -> int:
    if KIND.get(workload) == "bytes":
        return len(w.bytes_value(0)) + len(w.key(0))
    return len(json.dumps(w.json_value(0), separators=(",", ":"))) + len(w.key(0))


def rate(r: dict[str, Any]) -> float:
    return float(r["records"] / r["wall"])


def table(workload: str, rows: dict[str, dict[str, Any]]) -> list[str]:
    ours = rows.get(OURS[workload])
    size = payload_bytes(workload)
    lines = [
        f"{'client':<40}{'records/s':>11}{'MB/s':>7}{'p50 µs':>9}{'p99 µs':>9}"
        f"{'CPU s/100k':>11}{'kafkify x':>11}  check"
    ]
    for name, r in rows.items():
        if ours is None or name == OURS[workload]:
            ratio = ""
        elif "p50_us" in r and workload in ("blocking", "first_record"):
            ratio = f"{r['p50_us'] / ours['p50_us']:.2f} p50"  # latency: peer / ours
        else:
            ratio = f"{rate(ours) / rate(r):.2f}"
        p50 = f"{r['p50_us']:.0f}" if "p50_us" in r else "-"
        p99 = f"{r['p99_us']:.0f}" if "p99_us" in r else "-"
        lines.append(
            f"{name:<40}{rate(r):>11,.0f}{rate(r) * size / 1e6:>7.1f}{p50:>9}{p99:>9}"
            f"{r['cpu'] / r['records'] * 1e5:>11.2f}{ratio:>11}  {r['check']}"
        )
    return lines


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def target_lines(results: dict[str, dict[str, dict[str, Any]]], kind: str) -> list[str]:
    """Every target that the rows of one broker's run can answer."""
    lines = []
    for workload, peer, minimum in TARGETS:
        rows = results.get(workload, {})
        if peer in rows and OURS[workload] in rows:
            ratio = rate(rows[OURS[workload]]) / rate(rows[peer])
            met = verdict(ratio >= minimum)
            lines.append(f"  {workload}: kafkify / {peer} = {ratio:.2f} (≥ {minimum}) {met}")
    blocking = results.get("blocking", {})
    if "kafkify send" in blocking and "confluent produce + flush" in blocking:
        ours, theirs = blocking["kafkify send"], blocking["confluent produce + flush"]
        for q in ("p50_us", "p99_us"):
            lines.append(
                f"  blocking {q[:3]}: kafkify {ours[q]:.0f} µs vs confluent produce+flush "
                f"{theirs[q]:.0f} µs (≤) {verdict(ours[q] <= theirs[q])}"
            )
    workload, peer, minimum = CEILING
    rows = results.get(workload, {})
    if peer in rows and OURS[workload] in rows:
        per_round = [
            b / a for a, b in zip(rows[OURS[workload]]["walls"], rows[peer]["walls"], strict=False)
        ]
        ratio = statistics.median(per_round)
        lines.append(
            f"  {workload}: kafkify / {peer} = {ratio:.2f}, median of {len(per_round)} rounds "
            f"(≥ {minimum}) {verdict(ratio >= minimum)}"
        )
    if kind == "mock":
        for workload in ("asyncio", "asyncio_linger0"):
            r = results.get(workload, {}).get(OURS[workload])
            if r:
                us = r["cpu"] / r["records"] * 1e6
                lines.append(
                    f"  {workload} (c'): client CPU per awaited record {us:.1f} µs "
                    f"(≤ {AWAITED_CPU_US:.0f}) {verdict(us <= AWAITED_CPU_US)}"
                )
    first = results.get("first_record", {})
    for name in ("kafkify Producer() + send", "kafkify send after await start()"):
        if name in first:
            ms = first[name]["p50_us"] / 1000
            theirs = first.get("confluent Producer() + produce + flush", {}).get("p50_us", 0) / 1000
            lines.append(
                f"  first_record (h): {name} p50 {ms:.1f} ms, confluent {theirs:.1f} ms "
                f"(≤ {FIRST_RECORD_MS:.0f} ms) {verdict(ms <= FIRST_RECORD_MS)}"
            )
    return lines


def memory_line(rows: dict[str, dict[str, Any]]) -> str:
    m = rows[OURS["memory"]]
    return (
        f"RSS: baseline {m['rss_baseline_mb']:.0f} MB, "
        f"peak growth {m['rss_peak_growth_mb']:.0f} MB, "
        f"after flush {m['rss_after_flush_growth_mb']:.0f} MB; "
        f"queue buffer {m['queue_buffer_mb']:.0f} MB"
    )


def contenders_for(workload: str, broker: brokers.Broker, args: argparse.Namespace) -> list[str]:
    names = list(contenders.CONTENDERS[workload])
    if broker.kind == "mock":
        names = [n for n in names if n.startswith(MOCK_CLIENTS)]
    return [
        n
        for n in names
        if (n != "kcat (librdkafka C)" or args.kcat)
        and (n != "rust rdkafka (ceiling)" or args.rust_ceiling)
    ]


def run_broker(broker: brokers.Broker, args: argparse.Namespace, workloads: list[str]) -> dict:
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for workload in workloads:
        if workload in KAFKA_ONLY and broker.kind != "kafka":
            continue
        if workload in NOT_ON_MOCK and broker.kind == "mock":
            continue
        names = contenders_for(workload, broker, args)
        rounds = 1 if workload in SINGLE_ROUND else args.rounds
        best: dict[str, dict[str, Any]] = {}
        for _ in range(rounds):  # interleaved: every contender once per round
            for name in names:
                r = run_one(workload, name, args, broker)
                what = f"{broker.name} / {workload} / {name}"
                print(f"  {what}: {rate(r):,.0f} records/s, {r['check']}", flush=True)
                walls = [*best.get(name, {}).get("walls", []), r["wall"]]
                if name not in best or r["wall"] < best[name]["wall"]:
                    best[name] = r
                best[name]["walls"] = walls
        results[workload] = best
    return results


def broker_report(name: str, results: dict[str, dict[str, dict[str, Any]]], kind: str) -> list[str]:
    report = [f"==== {name} ===="]
    for workload, rows in results.items():
        count = next(iter(rows.values()))["records"]
        report += ["", f"[{name} / {workload}] {count} records", *table(workload, rows)]
        if workload == "memory":
            report.append(memory_line(rows))
    return [*report, "", f"targets on {name}:", *target_lines(results, kind), ""]


def timed_section(title: str, run: Callable[[], tuple[dict, list[str]]]) -> tuple[dict, list[str]]:
    started = time.monotonic()
    print(f"== {title}", flush=True)
    data, lines = run()
    minutes = (time.monotonic() - started) / 60
    return data, [f"==== {title} ({minutes:.1f} min) ====", *lines, ""]


def extras_on_kafka(
    broker: brokers.Broker, args: argparse.Namespace, out: Path, stamp: str, results: dict
) -> list[str]:
    """The FastAPI load test and the scaling curves, on the 1-node Kafka."""
    bootstrap = broker.bootstrap
    assert bootstrap is not None
    sections: dict[str, Callable[[], tuple[dict, list[str]]]] = {
        "FastAPI end to end": lambda: fastapi_load.run(bootstrap, quick=args.quick, rounds=1),
        "how cost grows": lambda: scaling.run(
            bootstrap, quick=args.quick, out_dir=out, stamp=stamp
        ),
    }
    report: list[str] = []
    for title, section in sections.items():
        results[title], lines = timed_section(f"{title} ({broker.name})", section)
        report += lines
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--records", type=int, help="override every workload's record count")
    parser.add_argument("--quick", action="store_true", help="a tenth of the records (a smoke run)")
    parser.add_argument("--only", help="comma-separated workloads (default: all)")
    parser.add_argument("--brokers", default=",".join(brokers.BROKERS), help="comma-separated")
    parser.add_argument("--no-extras", action="store_true", help="skip FastAPI, scaling and JSON")
    parser.add_argument("--bootstrap", help="a running Kafka, measured as kafka-1")
    parser.add_argument("--kcat", help="kcat binary (run.sh provides it)")
    parser.add_argument("--rust-ceiling", help="benches/rust_ceiling binary (run.sh builds it)")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    workloads = args.only.split(",") if args.only else list(RECORDS)
    names = ["kafka-1"] if args.bootstrap else args.brokers.split(",")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results: dict[str, Any] = {}
    report = [
        f"kafkify vs peers — {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} cores, brokers on 127.0.0.1, best of {args.rounds} rounds"
    ]
    for name in names:
        with brokers.Broker(name, args.bootstrap) as broker:

            def measure(b: brokers.Broker = broker) -> tuple[dict, list[str]]:
                rows = run_broker(b, args, workloads)
                return rows, broker_report(b.name, rows, b.kind)

            results[name], lines = timed_section(name, measure)
            report += lines
            if name == "kafka-1" and not args.no_extras:
                report += extras_on_kafka(broker, args, out, stamp, results)
    if not args.no_extras:
        data, lines = timed_section("JSON encoding", lambda: serialization.run(quick=args.quick))
        results["JSON encoding"] = data
        report += lines
    report.append(f"whole run: {(time.monotonic() - started) / 60:.1f} min")
    print("\n".join(report))
    saved = out / f"{stamp}.json"
    saved.write_text(
        json.dumps(
            {
                "when": stamp,
                "machine": platform.platform(),
                "cpus": os.cpu_count(),
                "rounds": args.rounds,
                "quick": args.quick,
                "results": results,
                "report": report,
            },
            indent=1,
        )
    )
    print(f"saved {saved}")
    return 0 if all_checks_ok(results) else 1


def all_checks_ok(tree: Any) -> bool:
    """Every "check" field anywhere in the results says ok."""
    if isinstance(tree, dict):
        if isinstance(tree.get("check"), str) and not tree["check"].startswith("ok"):
            return False
        return all(all_checks_ok(v) for v in tree.values())
    if isinstance(tree, list):
        return all(all_checks_ok(v) for v in tree)
    return True


if __name__ == "__main__":
    sys.exit(main())
