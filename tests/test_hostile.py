"""The hostile-input matrix (issue 10): every public call of kafkify and its shims,
with wrong types, out-of-range numbers, bad topics and headers, deep, recursive and
mutating values, closed producers, raising callbacks, signals, fork and threads.

The in-process cases are the table in tests/hostile_cases.py (one producer per
target, on one librdkafka mock cluster, shared by the cases: see ``Targets``). The
cases that could crash or hang the interpreter run as scripts (``SCRIPTS`` below),
each in a fresh interpreter under a subprocess timeout that only guards against a
hang. ``test_every_public_callable_has_a_case`` fails when a public method has no case
here nor in tests/test_api_fuzz.py.

Cases marked ``defect=N`` wait on another branch's fix of issue 10's defect N; they
stay strict.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import threading
import time
import types
from collections.abc import Iterator
from typing import Any

import hostile_cases
import pytest
from hostile_cases import CASES, Case

import kafkify
from kafkify.compat.aiokafka import AIOKafkaProducer
from kafkify.compat.confluent_kafka import Producer as ConfluentProducer
from kafkify.compat.kafka import KafkaProducer
from kafkify.testing import MockCluster

from helpers import read_back, run_script


def is_panic(e: BaseException | None) -> bool:
    """pyo3's PanicException derives from BaseException, not Exception: match by name."""
    return e is not None and any(t.__name__ == "PanicException" for t in type(e).__mro__)


def text_of(e: BaseException) -> str:
    """The message a user reads: str(e), the args, and pyo3's "while processing 'x'" notes."""
    parts = [str(e), *map(str, getattr(e, "args", ())), *getattr(e, "__notes__", [])]
    return " ".join(parts).lower()


class Targets:
    """What the cases call, made on first use and closed at the end of the module."""

    def __init__(self) -> None:
        self.cluster = MockCluster(num_brokers=1)
        self.cluster.create_topic("hostile", partitions=2)
        self._made: dict[str, Any] = {}
        self.to_close: list[Any] = []

    @property
    def bootstrap(self) -> str:
        return self.cluster.bootstrap_servers

    def get(self, on: str) -> Any:
        if on == "fresh":  # a case that closes its producer gets its own
            p = self.cluster.producer(linger_ms=0)
            self.to_close.append(p)
            return p
        if on not in self._made:
            self._made[on] = self._make(on)
        return self._made[on]

    def _make(self, on: str) -> Any:
        b = self.bootstrap
        made: Any
        if on == "core":
            made = self.cluster.producer(linger_ms=0, client_id="hostile")
        elif on == "closed":
            made = self.cluster.producer()
            made.close()
        elif on == "new":
            return b
        elif on == "dumps":
            return kafkify.dumps
        elif on == "cluster":
            return self.cluster
        elif on == "mock":
            return MockCluster
        elif on == "kafka":
            made = KafkaProducer(bootstrap_servers=b)
        elif on == "kafka_closed":
            made = KafkaProducer(bootstrap_servers=b)
            made.close()
        elif on == "confluent":
            made = ConfluentProducer({"bootstrap.servers": b})
        elif on == "aiokafka":
            return b  # made per case, on the case's loop (see run_case)
        else:
            raise AssertionError(f"unknown target {on!r}")
        self.to_close.append(made)
        return made

    def close(self) -> None:
        for p in reversed(self.to_close):
            p.close()
        self.cluster.close()


@pytest.fixture(scope="module")
def targets() -> Iterator[Targets]:
    t = Targets()
    try:
        yield t
        # Nothing lost: every record the shared producer accepted was reported,
        # delivered or failed (the cases that sent checked their own outcome).
        core = t._made.get("core")
        if core is not None:
            core.flush(30)
            counts = core.metrics()["kafkify"]
            assert counts["in_flight"] == 0, counts
            assert counts["sent"] == counts["delivered"] + counts["failed"], counts
    finally:
        t.close()


def run_case(case: Case, targets: Targets) -> tuple[Any, BaseException | None]:
    target = targets.get(case.on)

    async def awaited() -> Any:
        if case.on == "aiokafka":
            async with AIOKafkaProducer(bootstrap_servers=target) as producer:
                return await case.call(producer)
        return await case.call(target)

    try:
        result = asyncio.run(awaited()) if case.asynchronous else case.call(target)
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt | SystemExit):
            raise
        return None, e
    return result, None


def release(result: Any) -> None:
    """Close whatever a constructor case made."""
    if isinstance(result, kafkify.Producer | KafkaProducer | ConfluentProducer | MockCluster):
        result.close()
    elif isinstance(result, AIOKafkaProducer):
        result._producer.close()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case, targets: Targets) -> None:
    result, error = run_case(case, targets)
    if case.on in ("new", "mock"):
        release(result)
    assert not is_panic(error), f"PanicException escaped: {error!r}"
    if case.raises is None:
        assert error is None, f"expected success, got {error!r}"
        return
    assert error is not None, f"expected {case.raises}, got success: {result!r}"
    assert isinstance(error, case.raises), f"expected {case.raises}, got {error!r}"
    text = text_of(error)
    assert not case.names or any(n.lower() in text for n in case.names), (
        f"the message does not name {case.names}: {text!r}"
    )


def test_matrix_size() -> None:
    assert len(CASES) + len(SCRIPTS) >= 100
    assert len({c.id for c in CASES} | set(SCRIPTS)) == len(CASES) + len(SCRIPTS), "duplicate ids"


# --- crash-prone, signal, fork and shutdown cases: one fresh interpreter each ------------

PRELUDE = """
import math, os, signal, sys, threading, time
import kafkify
from kafkify.testing import MockCluster
from helpers import closed_port
def no_panic(e):
    assert not any(t.__name__ == "PanicException" for t in type(e).__mro__), repr(e)
def close_dead(p):  # a producer of a dead broker: close(0) reports its records failed
    try:
        p.close(0)
    except kafkify.KafkaTimeoutError:
        pass
"""

#: id -> (script, defect or None). Each must print OK and exit 0 within HANG_GUARD s.
SCRIPTS: dict[str, tuple[str, int | None]] = {
    "script-default-recursing-into-dumps": (
        """
        def default(obj):
            return kafkify.dumps([obj.inner], default=default)
        class Node:
            def __init__(self, inner): self.inner = inner
        value = 0
        for _ in range(5000):
            value = Node(value)
        try:
            kafkify.dumps(value, default=default)
        except (kafkify.SerializationError, RecursionError) as e:
            no_panic(e)
        print("OK")
        """,
        1,
    ),
    "script-deep-list-on-a-small-stack": (
        """
        value = []
        for _ in range(254):
            value = [value]
        out = []
        def run():
            try:
                out.append(kafkify.dumps(value))
            except Exception as e:
                out.append(e)
        threading.stack_size(64 * 1024)
        t = threading.Thread(target=run); t.start(); t.join()
        answers = (bytes, kafkify.SerializationError, RecursionError)
        assert out and isinstance(out[0], answers), out
        print("OK")
        """,
        1,
    ),
    "script-close-1e19-leaves-no-threads": (
        """
        with MockCluster(1) as c:
            before = len(os.listdir("/proc/self/task"))
            p = c.producer()
            seen = []
            for i in range(10):
                p.produce("t", i, on_delivery=lambda e, m: seen.append(e))
            p.close(timeout=1e19)
            assert p.closed and len(seen) == 10, seen
            time.sleep(1)  # librdkafka's threads end just after close returns
            assert len(os.listdir("/proc/self/task")) <= before, "threads left behind"
        print("OK")
        """,
        3,
    ),
    "script-ctrl-c-while-waiting-for-room": (
        """
        p = kafkify.Producer(f"127.0.0.1:{closed_port()}", max_block_ms=60_000,
                             config={"queue.buffering.max.messages": 1})
        p.produce("t", 1)
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        signal.signal(signal.SIGALRM, lambda *a: signal.raise_signal(signal.SIGINT))
        try:
            p.produce("t", 2)
            raise AssertionError("produce returned with the queue full")
        except KeyboardInterrupt:
            pass
        close_dead(p)
        print("OK")
        """,
        5,
    ),
    "script-send_batch-timeout-names-the-timeout": (
        """
        p = kafkify.Producer(f"127.0.0.1:{closed_port()}", max_block_ms=60_000,
                             config={"queue.buffering.max.messages": 2})
        try:
            p.send_batch("t", [1, 2, 3, 4, 5], timeout=1.0)
            raise AssertionError("no timeout")
        except kafkify.KafkaTimeoutError as e:
            assert "1.0" in str(e) and "0.000" not in str(e), str(e)
        close_dead(p)
        print("OK")
        """,
        5,
    ),
    "script-close-from-signal-handler-during-flush": (
        """
        with MockCluster(1) as c:
            c.set_rtt(1, 300)
            p = c.producer()
            seen = []
            for i in range(20):
                p.produce("t", i, on_delivery=lambda e, m: seen.append(e))
            signal.signal(signal.SIGALRM, lambda *a: p.close(10))
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            try:
                p.flush(30)
            except kafkify.KafkaError as e:
                no_panic(e)
            assert p.closed and len(seen) == 20, (p.closed, len(seen))
        print("OK")
        """,
        7,
    ),
    "script-fork-with-a-live-mock-cluster": (
        """
        c = MockCluster(1)
        pid = os.fork()
        if pid == 0:
            os._exit(0) if False else sys.exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
        c.close()
        print("OK")
        """,
        8,
    ),
    "script-exit-with-undeliverable-records": (
        """
        p = kafkify.Producer(f"127.0.0.1:{closed_port()}")
        for i in range(5):
            p.produce("t", i, on_delivery=lambda e, m: print("reported", type(e).__name__))
        print("OK")
        """,
        9,
    ),
    "script-ctrl-c-during-send": (
        """
        p = kafkify.Producer(f"127.0.0.1:{closed_port()}")
        signal.signal(signal.SIGALRM, lambda *a: signal.raise_signal(signal.SIGINT))
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        try:
            p.send("t", 1, timeout=60)
            raise AssertionError("send returned")
        except KeyboardInterrupt:
            pass
        close_dead(p)
        print("OK")
        """,
        None,
    ),
    "script-fork-then-use-the-parents-producer": (
        """
        with MockCluster(1) as c:
            p = c.producer()
            p.send("t", 1)
            pid = os.fork()
            if pid == 0:
                try:
                    p.send("t", 2)
                    code = 1
                except kafkify.ProducerForkedError as e:
                    code = 0 if "fork" in str(e).lower() else 2
                except BaseException:
                    code = 3
                os._exit(code)
            _, status = os.waitpid(pid, 0)
            assert os.WEXITSTATUS(status) == 0, status
            p.send("t", 3)
            p.close()
        print("OK")
        """,
        None,
    ),
    "script-close-from-a-delivery-callback": (
        """
        with MockCluster(1) as c:
            p = c.producer()
            seen, errors = [], []
            def cb(err, meta):
                seen.append(err)
                try:
                    p.close(5)
                except Exception as e:
                    no_panic(e); errors.append(e)
            for i in range(5):
                p.produce("t", i, on_delivery=cb)
            try:
                p.flush(20)
            except kafkify.KafkaError:
                pass
            p.close(10)
            assert len(seen) == 5, seen
        print("OK")
        """,
        None,
    ),
    "script-flush-from-a-delivery-callback": (
        """
        with MockCluster(1) as c:
            p = c.producer()
            seen = []
            def cb(err, meta):
                seen.append(err)
                try:
                    p.flush(2)
                except Exception as e:
                    no_panic(e)
            for i in range(5):
                p.produce("t", i, on_delivery=cb)
            p.flush(20)
            p.close(10)
            assert len(seen) == 5, seen
        print("OK")
        """,
        None,
    ),
    "script-close-while-8-threads-send": (
        """
        with MockCluster(1) as c:
            p = c.producer()
            outcomes, lock = [], threading.Lock()
            def run():
                for i in range(200):
                    try:
                        p.send("t", i, timeout=30)
                        r = "delivered"
                    except kafkify.ProducerClosedError:
                        r = "closed"
                    except kafkify.KafkaError as e:
                        no_panic(e); r = type(e).__name__
                    with lock:
                        outcomes.append(r)
                    if r == "closed":
                        return
            ts = [threading.Thread(target=run) for _ in range(8)]
            for t in ts: t.start()
            time.sleep(0.2)
            p.close(20)
            for t in ts: t.join()
            m = p.metrics()["kafkify"]
            assert m["sent"] == m["delivered"] + m["failed"], m
            assert outcomes.count("delivered") == m["delivered"], (outcomes.count("delivered"), m)
        print("OK")
        """,
        None,
    ),
    "script-close-during-list_topics-on-a-dead-broker": (
        """
        p = kafkify.Producer(f"127.0.0.1:{closed_port()}")
        out = []
        def meta():
            try:
                p.list_topics(timeout=6)
            except kafkify.KafkaError as e:
                out.append(e)
        t = threading.Thread(target=meta); t.start()
        time.sleep(0.3)
        p.close(5)
        t.join()
        assert len(out) == 1 and isinstance(out[0], kafkify.KafkaError), out
        print("OK")
        """,
        None,
    ),
    "script-sigterm-handler-raising-during-send_batch": (
        """
        class Stop(Exception):
            pass
        def handler(*a):
            raise Stop()
        with MockCluster(1) as c:
            c.set_rtt(1, 500)
            p = c.producer()
            signal.signal(signal.SIGALRM, handler)
            signal.setitimer(signal.ITIMER_REAL, 0.1)
            try:
                p.send_batch("t", list(range(100)), timeout=30)
            except Stop:
                pass
            p.flush(30)
            m = p.metrics()["kafkify"]
            assert m["sent"] == m["delivered"] + m["failed"] == 100, m
            p.close()
        print("OK")
        """,
        None,
    ),
}

#: A subprocess that outlives this is hung (each script needs a few seconds).
HANG_GUARD = 30.0


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_script(name: str) -> None:
    script, _defect = SCRIPTS[name]
    import textwrap

    code = PRELUDE + textwrap.dedent(script)
    try:
        proc = run_script(code, timeout=HANG_GUARD)
    except Exception as e:  # subprocess.TimeoutExpired
        pytest.fail(f"hung: no exit within {HANG_GUARD} s ({type(e).__name__})")
    out = proc.stdout + proc.stderr
    assert "PanicException" not in out and "panicked" not in out, out[-3000:]
    assert proc.returncode == 0, f"exit {proc.returncode}: {out[-3000:]}"
    assert "OK" in proc.stdout, out[-3000:]
    if name == "script-exit-with-undeliverable-records":
        assert proc.stdout.count("reported") == 5, out[-3000:]


# --- defect 11: a batch sends the bytes its buffers held at the call ---------------------


def _identity(value: Any) -> Any:
    return value


@pytest.mark.parametrize("serializer", ["bytes", _identity], ids=["borrowing", "callable"])
def test_send_batch_sends_bytearrays_as_they_were_at_the_call(serializer: Any) -> None:
    """Another thread rewrites every bytearray while the batch waits for queue room
    (the queue holds 10 records): what lands must still be the call's bytes. Both
    ways of encoding a batch: encoders that borrow the buffers (run twice), and a
    callable (its results kept)."""
    originals = [f"{i:06d}".encode() * 10 for i in range(500)]
    values = [bytearray(o) for o in originals]
    keys = [bytearray(o[:6]) for o in originals]
    with MockCluster(num_brokers=1) as cluster:
        cluster.create_topic("buffers", partitions=1)
        producer = cluster.producer(
            value_serializer=serializer, linger_ms=0, config={"queue.buffering.max.messages": 10}
        )
        done = threading.Event()

        def scribble() -> None:
            # Only once the call has started: it holds the GIL until it first waits
            # for room, and the records it queued count in len().
            while len(producer) == 0 and not done.is_set():
                time.sleep(0)
            while not done.is_set():
                for b in (*values, *keys):
                    b[:3] = b"XXX"

        scribbler = threading.Thread(target=scribble)
        try:
            scribbler.start()
            results = producer.send_batch("buffers", values, keys=keys, timeout=60)
        finally:
            done.set()
            scribbler.join()
            producer.close()
        assert all(isinstance(r, kafkify.RecordMetadata) for r in results)
        records = cluster.records("buffers")
    assert [r.value for r in records] == originals
    assert [r.key for r in records] == [o[:6] for o in originals]


# --- real Kafka: what the mock cluster cannot show ---------------------------------------


def test_real_broker_huge_timeouts_and_bad_partitions(bootstrap: str, topic: str) -> None:
    """On Apache Kafka: timeouts beyond 24.8 days mean "no limit" (defects 2, 4), an
    absent partition fails naming it, and every accepted record can be read back."""
    with kafkify.Producer(bootstrap, linger_ms=0, max_block_ms=3e9) as p:
        assert p.partitions_for(topic) == [0, 1, 2]  # defect 4: max_block_ms past 24.8 days
        assert topic in p.list_topics(timeout=3e6)["topics"]
        metas = [p.send(topic, {"i": i}, key=str(i), timeout=1e308) for i in range(3)]
        batch = p.send_batch(topic, [{"i": i} for i in range(3, 6)], timeout=math.inf)
        with pytest.raises(kafkify.KafkaError) as e:
            p.send(topic, {"i": -1}, partition=7, timeout=30)
        assert "partition" in text_of(e.value)
    assert all(isinstance(m, kafkify.RecordMetadata) for m in [*metas, *batch])
    got = read_back(bootstrap, topic, 6)
    assert sorted(r.value for r in got) == sorted(kafkify.dumps({"i": i}) for i in range(6))


# --- every public callable has a case --------------------------------------------------

#: Which class each target's cases exercise.
ON = {
    "core": kafkify.Producer,
    "closed": kafkify.Producer,
    "fresh": kafkify.Producer,
    "kafka": KafkaProducer,
    "kafka_closed": KafkaProducer,
    "confluent": ConfluentProducer,
    "aiokafka": AIOKafkaProducer,
    "cluster": MockCluster,
}


def names_used(code: types.CodeType) -> set[str]:
    """Attribute and global names a function (and the functions inside it) uses."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= names_used(const)
    return names


def covered_by_matrix() -> dict[Any, set[str]]:
    covered: dict[Any, set[str]] = {cls: set() for cls in ON.values()}
    covered[kafkify] = set()
    for case in CASES:
        used = names_used(case.call.__code__)
        for name in list(used):  # helpers of the table (hostile_cases._many_threads, ...)
            helper = getattr(hostile_cases, name, None)
            if inspect.isfunction(helper):
                used |= names_used(helper.__code__)
        if case.on in ON:
            covered[ON[case.on]] |= used
        covered[kafkify] |= used
    return covered


def public_callables(owner: Any) -> set[str]:
    if inspect.ismodule(owner):
        return {
            n
            for n in owner.__all__
            if callable(getattr(owner, n)) and not isinstance(getattr(owner, n), type)
        }
    return {n for n in dir(owner) if not n.startswith("_") and callable(getattr(owner, n))}


def test_every_public_callable_has_a_case() -> None:
    """A public method without a case in the matrix or the fuzz fails here, so no
    new call escapes the no-PanicException check."""
    import test_api_fuzz

    covered = covered_by_matrix()
    missing = []
    for owner in [*set(ON.values()), kafkify]:
        have = covered.get(owner, set()) | test_api_fuzz.FUZZED.get(owner, set())
        for name in sorted(public_callables(owner) - have):
            missing.append(f"{getattr(owner, '__name__', owner)}.{name}")
    assert not missing, f"public callables with no hostile case or fuzz: {missing}"
