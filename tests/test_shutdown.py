"""Shutdown safety, in fresh interpreters: nothing queued is lost on close, on
garbage collection or at interpreter exit; no crash or traceback spam; Ctrl+C and
fork behave."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

import kafkify

from helpers import closed_port, create_topic, read_back, run_script, spawn


def exits_cleanly(
    code: str, *args: str, run: object = "", timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter; it must exit 0 without a traceback or a
    fatal error (SIGABRT, SIGSEGV)."""
    proc = run_script(code, *args, timeout=timeout)
    assert proc.returncode == 0, f"run {run}: exit {proc.returncode}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr and "Fatal" not in proc.stderr, proc.stderr
    return proc


PRODUCE_5000 = """
import sys, kafkify
bootstrap, topic, how = sys.argv[1:4]
p = kafkify.Producer(bootstrap_servers=bootstrap, linger_ms=2000)
for i in range(5000):
    p.produce(topic, {"i": i}, key=str(i))
assert len(p) == 5000, len(p)  # all still queued: linger is 2 s
if how == "close":
    p.close()
elif how == "del":
    del p
    print("deleted", flush=True)
# how == "exit": fall off the end; the atexit hook flushes
"""


@pytest.mark.parametrize("how", ["close", "del", "exit"])
def test_5000_lingering_records_all_arrive(bootstrap: str, how: str) -> None:
    topic = create_topic(bootstrap, 3)
    proc = run_script(PRODUCE_5000, bootstrap, topic, how)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    records = read_back(bootstrap, topic, expected=5000)
    assert sorted(json.loads(r.value)["i"] for r in records) == list(range(5000))


PENDING_ASYNC_AT_EXIT = """
import asyncio, sys, kafkify
bootstrap, topic = sys.argv[1:3]
producer = kafkify.Producer(bootstrap_servers=bootstrap, linger_ms=200)

async def main():
    futures = [producer.send_async(topic, {"i": i}) for i in range(20000)]
    await asyncio.sleep(0)  # leave the loop with every future still pending
    print(len(futures), flush=True)

asyncio.run(main())  # closes the loop; the futures' results have nowhere to go
"""


def test_exit_with_20000_pending_send_async_20_times(bootstrap: str) -> None:
    topic = create_topic(bootstrap, 3)
    for run in range(20):
        proc = exits_cleanly(PENDING_ASYNC_AT_EXIT, bootstrap, topic, run=run)
        assert proc.stdout.strip() == "20000"
    records = read_back(bootstrap, topic, expected=20 * 20000, timeout=120)
    assert len(records) == 20 * 20000


def test_sigint_ends_a_blocking_send_to_an_unreachable_broker() -> None:
    code = """
import sys, time, kafkify
p = kafkify.Producer(bootstrap_servers=sys.argv[1], delivery_timeout_ms=1000)
print("sending", flush=True)
started = time.monotonic()
try:
    p.send("t", {"x": 1}, timeout=60)
except KeyboardInterrupt:
    print(f"interrupted {time.monotonic() - started:.3f}", flush=True)
    sys.exit(0)
"""
    proc = spawn(code, f"127.0.0.1:{closed_port()}")
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "sending"
    time.sleep(0.5)
    signalled = time.monotonic()
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    ended = time.monotonic() - signalled
    assert proc.returncode == 0, err
    assert out.startswith("interrupted"), (out, err)
    # Interrupted, not timed out: the send's own timeout is 60 s (the wait checks for
    # signals every 100 ms; the bound only tells the two apart, it measures nothing).
    assert ended < 30, ended


def test_sigint_aborts_the_exit_flush_and_says_how_many_records_were_left() -> None:
    code = """
import sys, kafkify
p = kafkify.Producer(bootstrap_servers=sys.argv[1])  # delivery timeout: 300 s
for i in range(3):
    p.produce("t", {"i": i})
print("exiting", flush=True)
"""
    proc = spawn(code, f"127.0.0.1:{closed_port()}")
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().strip() == "exiting"
    for line in proc.stderr:  # the exit flush announces itself before waiting
        if "interpreter exit: flushing 3 undelivered record(s)" in line:
            break
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert "flush interrupted; 3 record(s) abandoned" in err, err
    assert "Fatal Python error" not in err


EXIT_WITH_UNDELIVERABLE = """
import sys, kafkify
options = {"exit_timeout_ms": float(sys.argv[2])} if sys.argv[2:] else {}
p = kafkify.Producer(bootstrap_servers=sys.argv[1], **options)  # delivery timeout: 300 s
def report(err, meta):
    print("failed", type(err).__name__, flush=True)
for i in range(3):
    p.produce("t", {"i": i}, on_delivery=report)
print("exiting", flush=True)
"""


@pytest.mark.parametrize("exit_timeout_ms", [None, "1500", "0"])
def test_exit_with_undeliverable_records_is_bounded_and_reports_them(
    exit_timeout_ms: str | None,
) -> None:
    # delivery.timeout.ms is 300 s: the subprocess timeout (60 s) is only a hang guard.
    extra = [exit_timeout_ms] if exit_timeout_ms else []
    proc = run_script(EXIT_WITH_UNDELIVERABLE, f"127.0.0.1:{closed_port()}", *extra, timeout=60)
    assert proc.returncode == 0, proc.stderr
    bound = {None: "5.0", "1500": "1.5", "0": "0.0"}[exit_timeout_ms]
    line = f"3 record(s) abandoned, not delivered within {bound} s (exit_timeout_ms)"
    assert f"interpreter exit: {line}" in proc.stderr, proc.stderr
    # Each record was reported to its callback, at exit (librdkafka's purge error).
    assert proc.stdout.splitlines() == ["exiting"] + ["failed RecordPurgedError"] * 3, proc.stdout


GC_ON_THE_LOOP = """
import asyncio, logging, sys, time, kafkify

abandoned = []

class Abandoned(logging.Handler):
    def emit(self, record):
        if "abandoned" in record.getMessage():
            abandoned.append((ticks, record.getMessage()))

logging.getLogger("kafkify").addHandler(Abandoned())
ticks = 0

async def tick():
    global ticks
    while True:
        ticks += 1
        await asyncio.sleep(0.01)

async def main():
    ticker = asyncio.create_task(tick())
    p = kafkify.Producer(bootstrap_servers=sys.argv[1], exit_timeout_ms=1000)
    for i in range(3):
        p.produce("t", {"i": i})
    await asyncio.sleep(0.05)
    at_del = ticks
    del p  # the last reference, on the loop's thread
    while not abandoned:
        await asyncio.sleep(0.01)
    ticker.cancel()
    print(at_del, abandoned[0][0], flush=True)
    print(abandoned[0][1], file=sys.stderr, flush=True)

asyncio.run(main())
"""


def test_garbage_collection_on_an_event_loop_never_blocks_the_loop() -> None:
    proc = run_script(GC_ON_THE_LOOP, f"127.0.0.1:{closed_port()}", timeout=60)
    assert proc.returncode == 0, proc.stderr
    at_del, at_abandon = map(int, proc.stdout.split())
    assert at_del > 0
    # A close run by `del` itself would log before the loop ticked again: here the
    # loop kept running its tasks while the close waited out exit_timeout_ms.
    assert at_abandon > at_del, proc.stdout
    assert "Producer garbage-collected: 3 record(s) abandoned" in proc.stderr, proc.stderr


def test_producer_made_before_fork_fails_clearly_in_the_child(bootstrap: str) -> None:
    topic = create_topic(bootstrap, 1)
    code = """
import os, sys, kafkify
bootstrap, topic = sys.argv[1:3]
p = kafkify.Producer(bootstrap_servers=bootstrap)
p.send(topic, {"who": "parent-before"})
pid = os.fork()
if pid == 0:
    try:
        p.send(topic, {"who": "child"})
        os._exit(3)
    except kafkify.ProducerForkedError as e:
        assert "fork" in str(e), e
        fresh = kafkify.Producer(bootstrap_servers=bootstrap)
        fresh.send(topic, {"who": "child-new-producer"})
        fresh.close()
        os._exit(0)
_, status = os.waitpid(pid, 0)
p.send(topic, {"who": "parent-after"})
p.close()
print(os.waitstatus_to_exitcode(status))
"""
    proc = run_script(code, bootstrap, topic, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0", proc.stderr
    who = sorted(json.loads(r.value)["who"] for r in read_back(bootstrap, topic, expected=3))
    assert who == ["child-new-producer", "parent-after", "parent-before"]


def test_garbage_collected_producer_is_flushed_with_a_log_line(
    bootstrap: str, caplog: pytest.LogCaptureFixture
) -> None:
    topic = create_topic(bootstrap, 1)
    p = kafkify.Producer(bootstrap_servers=bootstrap, linger_ms=2000)
    for i in range(100):
        p.produce(topic, {"i": i})
    del p  # closed on a thread of its own: the log line comes from there
    deadline = time.monotonic() + 30  # a hang guard, not a timing claim
    while not any("garbage-collected" in r.getMessage() for r in caplog.records):
        assert time.monotonic() < deadline, "no garbage-collection close"
        time.sleep(0.01)
    assert len(read_back(bootstrap, topic, expected=100)) == 100


STOP_NEVER_AWAITED = """
import asyncio, sys, kafkify
bootstrap, topic = sys.argv[1:3]

async def main():
    producer = kafkify.Producer(bootstrap_servers=bootstrap, linger_ms=1000)
    for i in range(1000):
        producer.produce(topic, {"i": i})
    asyncio.ensure_future(producer.stop())  # started, never awaited
    await asyncio.sleep(0.1)  # its flush is now waiting out linger.ms

asyncio.new_event_loop().run_until_complete(main())
print("done", flush=True)
"""


def test_exit_waits_for_a_stop_that_was_started_but_never_awaited(bootstrap: str) -> None:
    # The stop's thread holds the records (close() took them from the producer):
    # before the exit hook waited for it, the process ended under its flush.
    topic = create_topic(bootstrap, 3)
    for run in range(3):
        proc = exits_cleanly(STOP_NEVER_AWAITED, bootstrap, topic, run=run)
        assert proc.stdout.strip() == "done"
    records = read_back(bootstrap, topic, expected=3000)
    assert sorted(json.loads(r.value)["i"] for r in records) == sorted(list(range(1000)) * 3)


EXIT_RIGHT_AFTER_A_LIFECYCLE_CALL = """
import asyncio, sys, kafkify
bootstrap, topic, how = sys.argv[1:4]
# The thread that runs start()/stop() must not be left asking for the GIL: with a
# long switch interval the program keeps it from the moment the call's future is
# resolved, on to finalization, more often.
sys.setswitchinterval(1.0)

async def main():
    producer = kafkify.Producer(bootstrap_servers=bootstrap)
    await producer.send_async(topic, {"how": how})
    if how == "start":
        await producer.start()
        producer.close()
    elif how == "stop":
        await producer.stop()
    else:
        async with producer:
            pass

asyncio.new_event_loop().run_until_complete(main())
"""


def test_exit_right_after_start_stop_or_async_with_never_aborts_30_times(
    bootstrap: str,
) -> None:
    topic = create_topic(bootstrap, 1)
    hows = ["start", "stop", "aexit"] * 10
    for run, how in enumerate(hows):
        exits_cleanly(EXIT_RIGHT_AFTER_A_LIFECYCLE_CALL, bootstrap, topic, how, run=(run, how))
    records = read_back(bootstrap, topic, expected=len(hows))
    assert sorted(json.loads(r.value)["how"] for r in records) == sorted(hows)


STOP_NEVER_AWAITED_DEAD_BROKER = """
import asyncio, sys, kafkify
producer = kafkify.Producer(
    bootstrap_servers=sys.argv[1], exit_timeout_ms=1000, delivery_timeout_ms=120000
)

def report(err, meta):
    print("failed" if err else "delivered", type(err).__name__, flush=True)

async def main():
    for i in range(5):
        producer.produce("t", {"i": i}, on_delivery=report)
    asyncio.ensure_future(producer.stop())  # no timeout: every record's delivery timeout
    await asyncio.sleep(0.1)

asyncio.new_event_loop().run_until_complete(main())
"""


def test_exit_bounds_a_stop_nobody_awaits_by_exit_timeout_ms() -> None:
    # The exit waits for the stop's thread, but not for a dead broker's delivery
    # timeout (120 s here): after exit_timeout_ms its records are purged and reported.
    dead = f"127.0.0.1:{closed_port()}"
    proc = exits_cleanly(STOP_NEVER_AWAITED_DEAD_BROKER, dead, timeout=60)
    assert proc.stdout.splitlines() == ["failed RecordPurgedError"] * 5, proc.stdout
    assert "producer closed with 5 record(s) undelivered" in proc.stderr, proc.stderr
