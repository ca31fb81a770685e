"""close() racing other calls (issue 10, defects 6 to 8): it never waits for another
thread's metadata wait holding the GIL, a close() from a signal handler does not
stall on the frame it interrupted, and a forked child of a process with a live
MockCluster neither hangs nor talks to the parent's cluster thread."""

from __future__ import annotations

import threading

import pytest

import kafkify

from helpers import closed_port, run_script

WAITS = {
    "list_topics": lambda p: p.list_topics(timeout=6),
    "partitions_for": lambda p: p.partitions_for("t"),
}


@pytest.mark.parametrize("call", list(WAITS))
def test_close_does_not_wait_for_a_metadata_wait_on_another_thread(call: str) -> None:
    p = kafkify.Producer(bootstrap_servers=f"127.0.0.1:{closed_port()}", max_block_ms=6000)
    outcome: list[BaseException | object] = []
    waiting = threading.Event()

    def wait() -> None:
        waiting.set()
        try:
            outcome.append(WAITS[call](p))
        except BaseException as e:
            outcome.append(e)

    waiter = threading.Thread(target=wait)
    ticks = 0
    stop = threading.Event()

    def tick() -> None:
        nonlocal ticks
        while not stop.wait(0.01):
            ticks += 1

    ticker = threading.Thread(target=tick)
    waiter.start()
    waiting.wait()
    threading.Event().wait(0.3)  # let it enter librdkafka's metadata wait
    ticker.start()
    p.close()
    # close() returned while the other thread still waits for metadata: it took
    # the producer without waiting for that thread (which held its lock across the
    # wait, and close() waited for the lock holding the GIL: every thread froze).
    assert waiter.is_alive()
    waiter.join(30)  # a hang guard
    stop.set()
    ticker.join()
    assert not waiter.is_alive()
    assert ticks > 0
    assert len(outcome) == 1 and isinstance(outcome[0], kafkify.KafkaError), outcome


CLOSE_IN_SIGNAL_HANDLER = """
import signal, sys, time, kafkify
p = kafkify.Producer(bootstrap_servers=sys.argv[1])
took = []

def handler(signum, frame):
    started = time.monotonic()
    try:
        p.close(timeout=0)  # may raise: its record is undelivered
    finally:
        took.append(time.monotonic() - started)

signal.signal(signal.SIGALRM, handler)
signal.setitimer(signal.ITIMER_REAL, 0.3)
try:
    {call}
    outcome = "returned"
except kafkify.KafkaError as e:
    outcome = type(e).__name__
print(outcome, f"{{took[0]:.3f}}", flush=True)
"""


@pytest.mark.parametrize(
    "call",
    [
        "p.send('t', {'x': 1}, timeout=30)",
        "p.produce('t', {'x': 1}); p.flush(timeout=30)",
        "p.send_batch('t', [{'x': 1}] * 3, timeout=30)",
    ],
)
def test_close_from_a_signal_handler_does_not_wait_for_the_interrupted_call(call: str) -> None:
    code = CLOSE_IN_SIGNAL_HANDLER.format(call=call)
    proc = run_script(code, f"127.0.0.1:{closed_port()}", timeout=60)
    assert proc.returncode == 0, proc.stderr
    name, took = proc.stdout.split()
    # The interrupted call fails as its records were purged (or the producer closed).
    # (or close()'s own error, raised in the handler, comes out of it; flush() may
    # also just return: nothing is pending any more).
    assert name in {"RecordPurgedError", "KafkaTimeoutError", "returned"}, proc.stdout
    # Before, close() waited 5 s for the dispatcher thread, which could only end once
    # the interrupted frame let go of the producer (after close() returned).
    assert float(took) < 5.0, proc.stdout


FORK_WITH_MOCK_CLUSTER = """
import os, sys, time
import kafkify
from kafkify.testing import MockCluster
cluster = MockCluster(num_brokers=1)
cluster.create_topic("t", partitions=1)
pid = os.fork()
if pid == 0:
    try:
        cluster.create_topic("u", partitions=1)
        print("child: the parent's cluster answered", flush=True)
    except kafkify.KafkaError as e:
        print("child:", type(e).__name__, e, flush=True)
    sys.exit(0)  # a normal exit: atexit hooks, then the cluster's Drop
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        print("parent: child exited", os.waitstatus_to_exitcode(status), flush=True)
        break
    time.sleep(0.05)
else:
    os.kill(pid, 9)
    print("parent: child hung", flush=True)
cluster.create_topic("v", partitions=1)  # the parent's cluster still works
cluster.close()
"""


def test_a_forked_child_of_a_process_with_a_mock_cluster_exits() -> None:
    proc = run_script(FORK_WITH_MOCK_CLUSTER, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1] == "parent: child exited 0", proc.stdout
    assert lines[0].startswith("child: IllegalStateError"), proc.stdout
    assert "belongs to process" in lines[0] and "start one in the child" in lines[0]
