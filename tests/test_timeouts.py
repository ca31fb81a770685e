"""Timeouts, whatever number the caller passes (issue 10, defects 2-5).

Every timeout accepts any non-negative number: ``math.inf`` and numbers too large
for a wait (1e308, 1e19) mean no limit, NaN and negative numbers raise a
``ConfigError`` that names the argument. None of them may let a Rust panic out as
``PanicException`` (a BaseException), leave a producer half-closed, wrap around in
librdkafka's ``int`` milliseconds (3e6 s is more than 24.8 days), or ignore Ctrl+C
while a call waits for room in a full queue; a call's timeout bounds the whole call.
"""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import kafkify
from kafkify.testing import MockCluster

from helpers import closed_port, create_topic

NO_LIMIT = [1e308, 1e19, math.inf]
INVALID = [math.nan, -1, -0.5, -math.inf]
#: the hang guard of each subprocess (a bound against hanging, not a timing check)
HANG_GUARD = 120


@pytest.fixture(scope="module")
def cluster() -> Any:
    with MockCluster(num_brokers=1) as c:
        c.create_topic("t", partitions=1)
        yield c


def outcome(call: Callable[..., Any], *args: Any) -> BaseException | None:
    """Run `call(*args)`; the exception it raised, if any, which must never be a
    panic (PanicException is a BaseException, hence the broad except)."""
    try:
        call(*args)
    except BaseException as e:
        assert type(e).__name__ != "PanicException", repr(e)
        return e
    return None


def assert_names_the_argument(err: BaseException | None, name: str, value: float) -> None:
    assert isinstance(err, kafkify.ConfigError), repr(err)
    assert isinstance(err, ValueError)
    message = str(err)
    assert f"'{name}'" in message, message
    assert repr(float(value)) in message or repr(value) in message, message


def blocking_calls(producer: kafkify.Producer) -> dict[str, Callable[[float], Any]]:
    """Each blocking call that takes ``timeout``, as a function of that timeout."""
    return {
        "send": lambda t: producer.send("t", {"v": 1}, timeout=t),
        "send_batch": lambda t: producer.send_batch("t", [{"v": 1}, {"v": 2}], timeout=t),
        "flush": lambda t: producer.flush(timeout=t),
        "list_topics": lambda t: producer.list_topics(timeout=t),
        "send_async": lambda t: asyncio.run(_send_async(producer, t)),
        "start": lambda t: asyncio.run(_start(producer, t)),
    }


async def _send_async(producer: kafkify.Producer, timeout: float) -> None:
    await producer.send_async("t", {"v": 1}, timeout=timeout)


async def _start(producer: kafkify.Producer, timeout: float) -> None:
    await producer.start(timeout)


@pytest.mark.parametrize("value", NO_LIMIT)
def test_huge_timeouts_mean_no_limit(cluster: MockCluster, value: float) -> None:
    with cluster.producer(value_serializer="json") as producer:
        for name, call in blocking_calls(producer).items():
            assert outcome(call, value) is None, name
        assert outcome(lambda: cluster.records("t", timeout=value)) is None
        assert len(producer) == 0


@pytest.mark.parametrize("value", INVALID)
def test_nan_and_negative_timeouts_raise_naming_the_argument(
    cluster: MockCluster, value: float
) -> None:
    with cluster.producer() as producer:
        for name, call in blocking_calls(producer).items():
            err = outcome(call, value)
            assert_names_the_argument(err, "timeout", value)
            assert name  # (for the traceback)
        for call in (
            lambda: producer.close(timeout=value),
            lambda: asyncio.run(_stop(producer, value)),
            lambda: producer.init_transactions(timeout=value),
            lambda: producer.commit_transaction(timeout=value),
            lambda: producer.abort_transaction(timeout=value),
            lambda: producer.transaction(timeout=value),
            lambda: cluster.records("t", timeout=value),
        ):
            assert_names_the_argument(outcome(call), "timeout", value)
        assert not producer.closed  # a bad timeout closes nothing


async def _stop(producer: kafkify.Producer, timeout: float) -> None:
    await producer.stop(timeout)


@pytest.mark.parametrize("value", [*NO_LIMIT, 2**64, 10**400])
def test_max_block_ms_takes_any_non_negative_number(cluster: MockCluster, value: float) -> None:
    err = outcome(lambda: cluster.producer(max_block_ms=value).close())
    assert err is None, repr(err)
    with cluster.producer(max_block_ms=value) as producer:
        assert producer.partitions_for("t") == [0]
        producer.send("t", {"v": 1})


@pytest.mark.parametrize("value", [*INVALID, -(10**400), "soon"])
def test_max_block_ms_rejects_nan_and_negatives_by_name(cluster: MockCluster, value: Any) -> None:
    err = outcome(lambda: cluster.producer(max_block_ms=value))
    assert isinstance(err, kafkify.ConfigError), repr(err)
    assert "'max_block_ms'" in str(err), str(err)


@pytest.mark.parametrize("option", ["linger_ms", "request_timeout_ms", "delivery_timeout_ms"])
@pytest.mark.parametrize("value", [math.inf, math.nan, 1e308, -1.0])
def test_millisecond_options_with_odd_floats_raise_a_config_error(
    cluster: MockCluster, option: str, value: float
) -> None:
    err = outcome(lambda: cluster.producer(**{option: value}).close())
    assert isinstance(err, kafkify.ConfigError), repr(err)


def tasks() -> int:
    """Threads of this process, Rust's and librdkafka's included."""
    return len(os.listdir("/proc/self/task"))


def tasks_settled(most: int) -> int:
    """The thread count once it is down to `most` (threads that were told to stop
    take a moment to exit), or after a hang guard of 30 s."""
    for _ in range(3000):
        if tasks() <= most:
            break
        time.sleep(0.01)
    return tasks()


@pytest.mark.parametrize("value", [1e19, 1e308, math.inf])
def test_close_with_a_huge_timeout_closes_fully(cluster: MockCluster, value: float) -> None:
    before = tasks()
    producer = cluster.producer()
    reported: list[Any] = []
    for i in range(10):
        producer.produce("t", {"i": i}, on_delivery=lambda err, meta: reported.append(err))
    assert outcome(lambda: producer.close(timeout=value)) is None
    assert producer.closed
    assert reported == [None] * 10  # every record was delivered and reported
    assert tasks_settled(before) == before  # no thread of the producer (nor librdkafka's) is left
    with pytest.raises(kafkify.ProducerClosedError):
        producer.send("t", {"late": True})


def test_timeouts_longer_than_librdkafkas_int_milliseconds(bootstrap: str) -> None:
    """3e6 s is more than 24.8 days: i32 milliseconds wrapped to a negative wait."""
    topic = create_topic(bootstrap, 2)
    producer = kafkify.Producer(bootstrap_servers=bootstrap, max_block_ms=3e9)
    try:
        assert asyncio.run(_start_and_return(producer, 3e6)) is producer
        assert topic in producer.list_topics(timeout=3e6)["topics"]
        assert topic in producer.list_topics(topic, timeout=3e6)["topics"]
        assert producer.partitions_for(topic) == [0, 1]
        producer.send(topic, {"v": 1}, timeout=3e6)
        producer.flush(timeout=3e6)
    finally:
        producer.close(timeout=3e6)


async def _start_and_return(producer: kafkify.Producer, timeout: float) -> kafkify.Producer:
    return await producer.start(timeout)


def test_transactions_with_timeouts_longer_than_24_8_days(bootstrap: str) -> None:
    topic = create_topic(bootstrap, 1)
    producer = kafkify.Producer(
        bootstrap_servers=bootstrap, transactional_id=f"long-{uuid.uuid4().hex[:8]}"
    )
    try:
        producer.init_transactions(timeout=3e6)
        producer.begin_transaction()
        producer.send(topic, {"v": 1})
        producer.commit_transaction(timeout=3e6)
        producer.begin_transaction()
        producer.produce(topic, {"v": 2})
        producer.abort_transaction(timeout=1e308)
        with producer.transaction(timeout=math.inf):
            producer.send(topic, {"v": 3})
    finally:
        producer.close()


#: A child that fills a 1-record queue against a dead broker, then waits for room
#: in `produce`, `send` or `send_batch` (max_block_ms: 10 minutes) until SIGINT.
INTERRUPTED_CHILD = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    import kafkify

    port, call = sys.argv[1], sys.argv[2]
    producer = kafkify.Producer(
        bootstrap_servers=f"127.0.0.1:{port}",
        max_block_ms=600_000,
        value_serializer="bytes",
        config={"queue.buffering.max.messages": 1},
    )
    producer.produce("t", b"first")  # queued; no broker will take it

    def interrupt_once_waiting():
        while len(producer) < 2:  # the waiting record counts while it waits
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_once_waiting, daemon=True).start()
    try:
        if call == "produce":
            producer.produce("t", b"second")
        elif call == "send":
            producer.send("t", b"second", timeout=None)
        else:
            producer.send_batch("t", [b"second", b"third"], timeout=None)
    except KeyboardInterrupt:
        print("KeyboardInterrupt", len(producer), flush=True)
        try:
            producer.close(timeout=0)
        except kafkify.KafkaTimeoutError:
            pass  # "1 record(s) undelivered": the first one, purged
        sys.exit(0)
    print("not interrupted", flush=True)
    sys.exit(1)
    """
)


@pytest.mark.parametrize("call", ["produce", "send", "send_batch"])
def test_ctrl_c_interrupts_a_wait_for_queue_room(call: str, tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(INTERRUPTED_CHILD)
    done = subprocess.run(
        [sys.executable, str(script), str(closed_port()), call],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        cwd=tmp_path,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # Interrupted while waiting; the record it waited with is not counted any more.
    assert done.stdout.split() == ["KeyboardInterrupt", "1"], done.stdout + done.stderr
    assert "PanicException" not in done.stderr


def full_queue_producer() -> kafkify.Producer:
    """A 1-record queue, full, against a dead broker (max_block_ms: its default, 60 s)."""
    producer = kafkify.Producer(
        bootstrap_servers=f"127.0.0.1:{closed_port()}",
        value_serializer="bytes",
        config={"queue.buffering.max.messages": 1},
    )
    producer.produce("t", b"first")
    return producer


def test_send_batch_timeout_bounds_the_whole_call_and_is_named() -> None:
    producer = full_queue_producer()
    try:
        with pytest.raises(kafkify.KafkaTimeoutError, match=r"1\.0 s") as info:
            producer.send_batch("t", [b"a", b"b", b"c"], timeout=1.0)
        assert "0.000 s" not in str(info.value)
        assert len(producer) == 1  # none of the batch was queued, each was counted off
        with pytest.raises(kafkify.KafkaTimeoutError, match=r"0\.5 s"):
            producer.send("t", b"d", timeout=0.5)
        assert len(producer) == 1
    finally:
        with pytest.raises(kafkify.KafkaTimeoutError):
            producer.close(timeout=0)


def test_send_timeout_shorter_than_max_block_says_so() -> None:
    producer = full_queue_producer()
    try:
        err = outcome(lambda: producer.send("t", b"x", timeout=0.2))
        assert isinstance(err, kafkify.KafkaTimeoutError), repr(err)
        assert "0.2 s" in str(err), str(err)
        err = outcome(lambda: producer.send("t", b"x", timeout=0))
        assert isinstance(err, kafkify.KafkaTimeoutError), repr(err)
    finally:
        outcome(lambda: producer.close(timeout=0))


def test_max_block_still_ends_a_wait_with_queue_full() -> None:
    producer = kafkify.Producer(
        bootstrap_servers=f"127.0.0.1:{closed_port()}",
        max_block_ms=100,
        value_serializer="bytes",
        config={"queue.buffering.max.messages": 1},
    )
    producer.produce("t", b"first")
    try:
        with pytest.raises(kafkify.QueueFullError, match="max_block_ms"):
            producer.produce("t", b"second")
        with pytest.raises(kafkify.QueueFullError, match="max_block_ms"):
            producer.send("t", b"second", timeout=math.inf)
        results = producer.send_batch("t", [b"a", b"b"], timeout=None)
        assert [type(r) for r in results] == [kafkify.QueueFullError] * 2
        assert len(producer) == 1
    finally:
        outcome(lambda: producer.close(timeout=0))
