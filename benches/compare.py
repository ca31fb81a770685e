"""kafkify against every peer, on the same broker, in one run (issue 5).

    bash benches/run.sh [--rounds 3] [--quick] [--only fire_and_forget,asyncio]

(run.sh builds what is needed, then runs this file; --bootstrap host:port uses a
running broker instead of starting Tansu on 127.0.0.1.)

Workloads (records are ~100 bytes with keys; acks=all, idempotence, no
compression, linger 5 ms unless the workload says otherwise):
  a. fire_and_forget  200k JSON dicts: kafkify produce; confluent-kafka produce with
                      json.dumps; confluent's AIOProducer; aiokafka; kafka-python.
  b. blocking         2k sends one at a time, each waited for (kafka-python and
                      aiokafka at linger 0, their default: they would pay 5 ms).
  c. asyncio          100 tasks each awaiting its sends, 50k records (linger 5 for all).
     asyncio_linger0  (c) with linger 0 for all: each client at its lowest latency.
  d. batch_bytes      200k bytes records: kafkify send_batch vs a Rust program over the
                      same rdkafka crate (the ceiling of our stack) and kcat.
  e. mock             (a) against librdkafka's in-process mock cluster: the
                      client-side ceiling (checked by per-partition probe offsets).
     asyncio_mock     (c) against the mock cluster: what the asyncio path does when
                      broker round trips are not the limit.
  memory              1M fire-and-forget records with a 64 MB queue buffer: RSS growth.

Each contender runs in a fresh process (benches/contenders.py), against a fresh
Tansu (its in-memory storage slows down as it fills), on a fresh topic,
best wall time of --rounds (1 round for the blocking and memory workloads). Every
run is checked: the broker must hold exactly the records sent, read back with
confluent-kafka's Consumer (workload e: probe offsets). A failed check fails the
benchmark. The table is printed and saved as JSON under benches/results/.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "scripts"))

import contenders  # noqa: E402  (benches/ and scripts/ modules, found through the path)
import workload as w  # noqa: E402

import tansu_broker  # noqa: E402

RECORDS = {
    "fire_and_forget": 200_000,
    "blocking": 2_000,
    "asyncio": 50_000,
    "asyncio_linger0": 50_000,
    "batch_bytes": 200_000,
    "mock": 200_000,
    "asyncio_mock": 50_000,
    "memory": 1_000_000,
}
# Against librdkafka's in-process mock cluster (no broker round trips to wait for).
MOCK = {"mock", "asyncio_mock"}
SINGLE_ROUND = {"blocking", "memory"}
KIND = {"batch_bytes": "bytes"}
# kafkify's row, and the peers the targets compare it with.
OURS = {
    "fire_and_forget": "kafkify produce",
    "blocking": "kafkify send",
    "asyncio": "kafkify send_async",
    "asyncio_linger0": "kafkify send_async",
    "batch_bytes": "kafkify send_batch",
    "mock": "kafkify produce",
    "asyncio_mock": "kafkify send_async",
    "memory": "kafkify produce",
}
TARGETS = [  # (workload, peer, minimum throughput ratio), from issue 5's "done when"
    ("fire_and_forget", "confluent produce + json.dumps", 2.0),
    ("fire_and_forget", "kafka-python send", 10.0),
    ("asyncio", "aiokafka send_and_wait", 5.0),
    ("asyncio", "confluent AIOProducer (tuned, poll task)", 2.0),
    ("asyncio_linger0", "aiokafka send_and_wait", 5.0),
    ("asyncio_linger0", "confluent AIOProducer (tuned, poll task)", 2.0),
    ("batch_bytes", "rust rdkafka (ceiling)", 0.7),
]


def run_one(workload: str, client: str, args: argparse.Namespace, bootstrap: str) -> dict[str, Any]:
    records = args.records or RECORDS[workload]
    if args.quick:
        records = max(1000, records // 10)
    topic = w.unique_topic(workload.replace("_", "-"))
    command = [sys.executable, str(HERE / "contenders.py"), workload, client]
    command += ["--topic", topic, "--records", str(records)]
    if workload not in MOCK:
        command += ["--bootstrap", bootstrap]
    if args.kcat:
        command += ["--kcat", args.kcat]
    if args.rust_ceiling:
        command += ["--rust-ceiling", args.rust_ceiling]
    out = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"{workload} / {client} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout)
    result["records"] = records
    if workload in MOCK:
        count = result.pop("broker_count")
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


def table(workload: str, rows: dict[str, dict[str, Any]]) -> list[str]:
    ours = rows.get(OURS[workload])
    size = payload_bytes(workload)
    lines = [
        f"{'client':<32}{'records/s':>11}{'MB/s':>7}{'p50 µs':>9}{'p99 µs':>9}"
        f"{'CPU s/100k':>11}{'kafkify x':>11}  check"
    ]
    for name, r in rows.items():
        rate = r["records"] / r["wall"]
        if ours is None or name == OURS[workload]:
            ratio = ""
        elif workload == "blocking":  # latency: peer p50 / ours (higher = we are faster)
            ratio = f"{r['p50_us'] / ours['p50_us']:.2f} p50"
        else:
            ratio = f"{(ours['records'] / ours['wall']) / rate:.2f}"
        p50 = f"{r['p50_us']:.0f}" if "p50_us" in r else "-"
        p99 = f"{r['p99_us']:.0f}" if "p99_us" in r else "-"
        lines.append(
            f"{name:<32}{rate:>11,.0f}{rate * size / 1e6:>7.1f}{p50:>9}{p99:>9}"
            f"{r['cpu'] / r['records'] * 1e5:>11.2f}{ratio:>11}  {r['check']}"
        )
    return lines


def target_lines(results: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    lines = []
    for workload, peer, minimum in TARGETS:
        rows = results.get(workload, {})
        if peer not in rows or OURS[workload] not in rows:
            continue
        ours, theirs = rows[OURS[workload]], rows[peer]
        ratio = (ours["records"] / ours["wall"]) / (theirs["records"] / theirs["wall"])
        verdict = "met" if ratio >= minimum else "NOT met"
        lines.append(f"  {workload}: kafkify / {peer} = {ratio:.2f} (target ≥ {minimum}) {verdict}")
    blocking = results.get("blocking", {})
    if "kafkify send" in blocking and "confluent produce + flush" in blocking:
        ours = blocking["kafkify send"]["p50_us"]
        theirs = blocking["confluent produce + flush"]["p50_us"]
        verdict = "met" if ours <= theirs else "NOT met"
        lines.append(
            f"  blocking: p50 {ours:.0f} µs vs confluent produce+flush {theirs:.0f} µs "
            f"(target ≤) {verdict}"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--records", type=int, help="override every workload's record count")
    parser.add_argument("--quick", action="store_true", help="a tenth of the records (a smoke run)")
    parser.add_argument("--only", help="comma-separated workloads (default: all)")
    parser.add_argument("--bootstrap", help="a running broker (default: start Tansu)")
    parser.add_argument("--kcat", help="kcat binary (run.sh provides it)")
    parser.add_argument("--rust-ceiling", help="benches/rust_ceiling binary (run.sh builds it)")
    parser.add_argument("--out", default=str(HERE / "results"))
    args = parser.parse_args()
    workloads = args.only.split(",") if args.only else list(RECORDS)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for workload in workloads:
        names = [
            n
            for n in contenders.CONTENDERS[workload]
            if (n != "kcat (librdkafka C)" or args.kcat)
            and (n != "rust rdkafka (ceiling)" or args.rust_ceiling)
        ]
        rounds = 1 if workload in SINGLE_ROUND else args.rounds
        best: dict[str, dict[str, Any]] = {}
        for _ in range(rounds):  # interleaved: every contender once per round
            for name in names:
                with contextlib.ExitStack() as stack:
                    # A fresh Tansu for every run: its in-memory storage grows with
                    # every record kept, and slows down, so a shared broker would
                    # favour whoever runs first.
                    bootstrap = args.bootstrap or (
                        ""
                        if workload in MOCK
                        else stack.enter_context(tansu_broker.running()).bootstrap_servers
                    )
                    r = run_one(workload, name, args, bootstrap)
                rate = r["records"] / r["wall"]
                print(f"  {workload} / {name}: {rate:,.0f} records/s, {r['check']}", flush=True)
                if name not in best or r["wall"] < best[name]["wall"]:
                    best[name] = r
        results[workload] = best
    report = [
        f"kafkify vs peers — {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} cores, Tansu broker on 127.0.0.1, best of {args.rounds} rounds"
    ]
    for workload, rows in results.items():
        count = next(iter(rows.values()))["records"]
        report += ["", f"[{workload}] {count} records", *table(workload, rows)]
        if workload == "memory":
            m = rows[OURS["memory"]]
            report.append(
                f"RSS: baseline {m['rss_baseline_mb']:.0f} MB, "
                f"peak growth {m['rss_peak_growth_mb']:.0f} MB, "
                f"after flush {m['rss_after_flush_growth_mb']:.0f} MB; "
                f"queue buffer {m['queue_buffer_mb']:.0f} MB"
            )
    report += ["", "targets (issue 5):", *target_lines(results)]
    print("\n".join(report))
    Path(args.out).mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    saved = Path(args.out) / f"{stamp}.json"
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
    checks = [r["check"] for rows in results.values() for r in rows.values()]
    return 0 if all(c.startswith("ok") for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
