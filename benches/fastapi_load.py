"""FastAPI end to end (issue 12, item 3): examples/fastapi_app.py served by uvicorn,
driven over HTTP by wrk, against the same app written with aiokafka and with
confluent-kafka's AIOProducer (benches/apps/), on one Kafka.

    python benches/fastapi_load.py --bootstrap HOST:PORT [--quick] [--rounds N] [--seconds S]

Needs wrk on the PATH (Debian: apt-get install wrk). Starts no broker: it uses the
one given (benches/compare.py passes its own).

For each connection count (50, 200), round and app in turn: a fresh topic with 6
partitions (created before the app starts, so every app sees the same layout), one
uvicorn worker on a free 127.0.0.1 port, a wrk warm-up at the same connection count,
then the timed wrk run (benches/fastapi_orders.lua: POST /orders, a different user,
so key, each request; prints a JSON summary). Measured: 201 responses per second,
p50/p99 request latency (wrk's), CPU seconds per response of the uvicorn process
(/proc/PID/stat over the timed run: all its threads, the client's included),
non-2xx responses and socket errors. Then the server is interrupted (uvicorn
finishes what is in flight, the lifespan flushes the producer) and the topic is read
back with confluent-kafka's Consumer: every record must be the app's order event for
what wrk sent, keyed by its user, order ids unique, and the count between the 201
responses (warm-up and timed) and that plus the requests wrk may have left in flight
(one per connection per wrk run). A failed check, a non-2xx response or a socket
error fails the run. Best of --rounds by requests/s.

Producer settings, the same for the three apps: benches/workload.py's
RDKAFKA_SETTINGS (acks=all, idempotence, linger 5 ms, no compression). AIOProducer is
tuned as benches/contenders.py's aio_producer_asyncio is: batch_size = the number of
concurrent senders (here wrk's connections), a 5 ms buffer_timeout and a poll task
(see benches/apps/aio_producer_app.py).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "scripts"))

import kafka_cluster  # noqa: E402  (benches/ and scripts/ modules, found through the path)
import workload as w  # noqa: E402

CONNECTIONS = (50, 200)
PARTITIONS = 6
WRK_THREADS = 2
# Generous, so a slow app shows up as latency rather than as wrk's timeout errors.
WRK_TIMEOUT = "30s"
LUA_SCRIPT = HERE / "fastapi_orders.lua"
APPS_DIR = HERE / "apps"
# Report name -> uvicorn app (benches/apps/). kafkify's is examples/fastapi_app.py
# itself, its lifespan given the common producer settings (see kafkify_app.py).
# The same route with no producer: the most one uvicorn worker serves (nothing to read back).
CEILING = "no producer (HTTP ceiling)"
APPS = {
    "kafkify (kafkify.fastapi)": "kafkify_app:app",
    "aiokafka send_and_wait": "aiokafka_app:app",
    "confluent AIOProducer (tuned, poll task)": "aio_producer_app:app",
    CEILING: "no_producer_app:app",
}
OURS, TARGET_PEER, TARGET_RATIO = "kafkify (kafkify.fastapi)", "aiokafka send_and_wait", 2.0
# What benches/fastapi_orders.lua sends besides the user: every event must carry it.
SENT_ORDER = {"amount": 12.5, "items": ["sku-1", "sku-2"]}
EVENT_FIELDS = {"type", "order_id", "user_id", "amount", "items"}
USER = re.compile(r"user-\d+")
ORDER_ID = re.compile(r"[0-9a-f]{32}")


@dataclass
class Timing:
    timed_s: float
    warmup_s: float


def timing(quick: bool, seconds: float | None) -> Timing:
    timed = seconds or (3.0 if quick else 10.0)
    return Timing(timed, 1.0 if quick else 3.0)


# --- the server ----------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: IO[bytes]

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def stop(self) -> None:
        """SIGINT (Ctrl+C): uvicorn finishes the requests in flight, then runs the
        lifespan's shutdown, which flushes and closes the producer."""
        self.process.send_signal(signal.SIGINT)
        try:
            code = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"uvicorn did not stop within 60 s:\n{self.output()}") from None
        if code != 0:
            raise RuntimeError(f"uvicorn exited with {code}:\n{self.output()}")


@contextlib.contextmanager
def serving(app: str, bootstrap: str, topic: str, connections: int) -> Iterator[Server]:
    """One uvicorn worker serving ``app`` on a free 127.0.0.1 port, started by us and
    killed by its PID if still running at the end."""
    port = kafka_cluster.free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--app-dir", str(APPS_DIR)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    # No access log: a line per request would be measured as well, for every app.
    command += ["--no-access-log", "--log-level", "warning", "--timeout-graceful-shutdown", "30"]
    env = {
        **os.environ,
        # examples/ for the shared models (fastapi_app.py), benches/ for workload.py.
        "PYTHONPATH": os.pathsep.join([str(ROOT / "examples"), str(HERE)]),
        "KAFKA_BOOTSTRAP": bootstrap,
        "ORDERS_TOPIC": topic,
        # Read by benches/apps/aio_producer_app.py alone (its batch_size, see there).
        "AIO_PRODUCER_BATCH_SIZE": str(connections),
    }
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        server = Server(process, f"http://127.0.0.1:{port}", log)
        try:
            wait_healthy(server)
            yield server
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)


def wait_healthy(server: Server, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"uvicorn exited at start:\n{server.output()}")
        try:
            with urllib.request.urlopen(f"{server.url}/health", timeout=1) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not answer within {timeout} s:\n{server.output()}")
        time.sleep(0.05)


def cpu_seconds(pid: int) -> float:
    """utime + stime of process ``pid``, all its threads (proc(5): fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        after_name = f.read().rsplit(")", 1)[1].split()
    return (int(after_name[11]) + int(after_name[12])) / os.sysconf("SC_CLK_TCK")


# --- the load --------------------------------------------------------------------------


def wrk(url: str, connections: int, seconds: float) -> dict[str, Any]:
    """One wrk run; the summary benches/fastapi_orders.lua prints in done()."""
    command = ["wrk", "-t", str(min(WRK_THREADS, connections)), "-c", str(connections)]
    command += ["-d", f"{seconds:g}s", "--timeout", WRK_TIMEOUT, "--latency"]
    command += ["-s", str(LUA_SCRIPT), f"{url}/orders"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    lines = [line for line in out.stdout.splitlines() if line.startswith("WRK_RESULT ")]
    if out.returncode != 0 or len(lines) != 1:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    summary: dict[str, Any] = json.loads(lines[0].removeprefix("WRK_RESULT "))
    return summary


def errors(summary: dict[str, Any]) -> int:
    keys = ("connect_errors", "read_errors", "write_errors", "timeouts")
    return sum(int(summary[k]) for k in keys)


# --- the broker --------------------------------------------------------------------------


def event_problem(key: bytes | None, value: bytes) -> str | None:
    """Why a record is not an order event of examples/fastapi_app.py for an order
    benches/fastapi_orders.lua sent (None: it is one)."""
    try:
        event = json.loads(value)
    except ValueError:
        return "not JSON"
    if not isinstance(event, dict) or event.keys() != EVENT_FIELDS:
        return f"fields {sorted(event) if isinstance(event, dict) else type(event).__name__}"
    if event["type"] != "order_placed" or not ORDER_ID.fullmatch(str(event["order_id"])):
        return f"type/order_id {event['type']!r} {event['order_id']!r}"
    if not USER.fullmatch(str(event["user_id"])) or key != str(event["user_id"]).encode():
        return f"user {event['user_id']!r} keyed {key!r}"
    if {k: event[k] for k in SENT_ORDER} != SENT_ORDER:
        return f"order {event}"
    return None


def check_records(bootstrap: str, topic: str, created: int, in_flight: int) -> tuple[int, str]:
    """(records read back, "ok ..." or "MISMATCH: ...")."""
    order_ids: Counter[str] = Counter()
    problems: list[str] = []
    received = 0
    for key, value in w.consume(bootstrap, topic, created, timeout=60):
        received += 1
        problem = event_problem(key, value)
        if problem:
            problems.append(problem)
        else:
            order_ids[json.loads(value)["order_id"]] += 1
    duplicated = sum(c - 1 for c in order_ids.values() if c > 1)
    if problems or duplicated or not created <= received <= created + in_flight:
        return received, (
            f"MISMATCH: {received} records for {created} responses 201 (+ ≤ {in_flight} in "
            f"flight), {duplicated} duplicated order ids, {len(problems)} bad records "
            f"{problems[:3]}"
        )
    return received, (
        f"ok ({received} order events for {created} responses 201, ids unique, "
        f"{received - created} from requests in flight)"
    )


# --- one run, and the whole benchmark ------------------------------------------------------


def run_one(app: str, bootstrap: str, connections: int, t: Timing) -> dict[str, Any]:
    topic = w.unique_topic("fastapi-orders")
    kafka_cluster.create_topic(bootstrap, topic, PARTITIONS)
    with serving(app, bootstrap, topic, connections) as server:
        warmup = wrk(server.url, connections, t.warmup_s)
        time.sleep(0.5)  # the requests wrk left in flight finish before the timed run
        cpu_before = cpu_seconds(server.process.pid)
        timed = wrk(server.url, connections, t.timed_s)
        cpu = cpu_seconds(server.process.pid) - cpu_before
        server.stop()
    created = warmup["created"] + timed["created"]
    if app == APPS[CEILING]:
        records = sum(1 for _ in w.consume(bootstrap, topic, 0, timeout=10))
        check = "ok (no producer, no records)" if records == 0 else f"MISMATCH: {records} records"
    else:
        records, check = check_records(bootstrap, topic, created, in_flight=2 * connections)
    non_2xx = warmup["other_status"] + timed["other_status"]
    socket_errors = errors(warmup) + errors(timed)
    if check.startswith("ok") and (non_2xx or socket_errors):
        check = f"FAILED: {non_2xx} non-2xx responses, {socket_errors} socket errors"
    seconds = timed["duration_us"] / 1e6
    return {
        "app": app,
        "connections": connections,
        "seconds": seconds,
        "requests_per_s": timed["created"] / seconds,
        "p50_ms": timed["p50_us"] / 1e3,
        "p99_ms": timed["p99_us"] / 1e3,
        "max_ms": timed["max_us"] / 1e3,
        "cpu_s": cpu,
        "cpu_s_per_request": cpu / max(1, timed["responses"]),
        "responses": timed["responses"],
        "created": timed["created"],
        "warmup_created": warmup["created"],
        "non_2xx": non_2xx,
        "socket_errors": socket_errors,
        "records": records,
        "topic": topic,
        "check": check,
    }


def table(rows: dict[str, dict[str, Any]]) -> list[str]:
    ours = rows.get(OURS)
    lines = [
        f"{'app':<42}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'CPU ms/req':>11}"
        f"{'non-2xx':>8}{'sock err':>9}{'kafkify x':>10}  check"
    ]
    for name, r in rows.items():
        ratio = (
            ""
            if ours is None or name == OURS
            else f"{ours['requests_per_s'] / r['requests_per_s']:.2f}"
        )
        lines.append(
            f"{name:<42}{r['requests_per_s']:>8,.0f}{r['p50_ms']:>8.1f}{r['p99_ms']:>8.1f}"
            f"{r['cpu_s_per_request'] * 1e3:>11.2f}{r['non_2xx']:>8}{r['socket_errors']:>9}"
            f"{ratio:>10}  {r['check']}"
        )
    return lines


def target(connections: int, rows: dict[str, dict[str, Any]]) -> tuple[bool, str]:
    ours, peer = rows[OURS], rows[TARGET_PEER]
    ratio = ours["requests_per_s"] / peer["requests_per_s"]
    met = ratio >= TARGET_RATIO and ours["p99_ms"] <= peer["p99_ms"]
    goal = f"kafkify ≥ {TARGET_RATIO:g}× aiokafka requests/s at equal or lower p99"  # noqa: RUF001
    return met, (
        f"  (f) {connections} connections: {goal}: {'met' if met else 'NOT met'} "
        f"({ratio:.2f}x, p99 {ours['p99_ms']:.1f} vs {peer['p99_ms']:.1f} ms)"
    )


def server_stack() -> str:
    """What uvicorn's "auto" picks here: uvloop and httptools when installed."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"{loop} + {http}"


def run(
    bootstrap: str, *, quick: bool, rounds: int, seconds: float | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The whole benchmark: (a JSON-able results dict, the report's lines)."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
    t = timing(quick, seconds)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    all_rounds: dict[str, dict[str, list[float]]] = {}
    for connections in CONNECTIONS:
        best: dict[str, dict[str, Any]] = {}
        rates: dict[str, list[float]] = {name: [] for name in APPS}
        for _ in range(rounds):  # interleaved: every app once per round
            for name, app in APPS.items():
                r = run_one(app, bootstrap, connections, t)
                rates[name].append(r["requests_per_s"])
                print(
                    f"  fastapi {connections} conns / {name}: {r['requests_per_s']:,.0f} req/s, "
                    f"p99 {r['p99_ms']:.1f} ms, {r['check']}",
                    flush=True,
                )
                if not r["check"].startswith("ok"):
                    best[name] = r  # a failed run is reported, whatever its speed
                elif name not in best or (
                    best[name]["check"].startswith("ok")
                    and r["requests_per_s"] > best[name]["requests_per_s"]
                ):
                    best[name] = r
        results[str(connections)] = best
        all_rounds[str(connections)] = rates
    lines = [
        f"[fastapi] examples/fastapi_app.py and its aiokafka and AIOProducer twins "
        f"(benches/apps/), one uvicorn worker ({server_stack()}), wrk -t{WRK_THREADS} over "
        f"127.0.0.1, {t.timed_s:g} s after a {t.warmup_s:g} s warm-up, {PARTITIONS} partitions, "
        f"best of {rounds}"
    ]
    targets: dict[str, dict[str, Any]] = {}
    target_lines: list[str] = []
    for connections in CONNECTIONS:
        rows = results[str(connections)]
        lines += ["", f"{connections} connections", *table(rows)]
        met, line = target(connections, rows)
        targets[str(connections)] = {"met": met}
        target_lines.append(line)
    lines += ["", "target (issue 12):", *target_lines]
    checks = [r["check"] for rows in results.values() for r in rows.values()]
    data = {
        "connections": list(CONNECTIONS),
        "timed_s": t.timed_s,
        "warmup_s": t.warmup_s,
        "rounds": rounds,
        "server": server_stack(),
        "results": results,
        "requests_per_s_by_round": all_rounds,
        "targets": targets,
        "ok": all(c.startswith("ok") for c in checks),
    }
    return data, lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True, help="a running Kafka (HOST:PORT)")
    parser.add_argument("--quick", action="store_true", help="3 s timed runs (a smoke run)")
    parser.add_argument("--rounds", type=int, default=1, help="best of N (default 1)")
    parser.add_argument("--seconds", type=float, help="timed window (default 10, --quick 3)")
    parser.add_argument("--json", help="also write the results dict to this file")
    args = parser.parse_args()
    started = dt.datetime.now(dt.timezone.utc)
    data, lines = run(args.bootstrap, quick=args.quick, rounds=args.rounds, seconds=args.seconds)
    print(f"FastAPI end to end — {started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores")
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=1))
    return 0 if data["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
