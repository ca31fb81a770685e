"""The hostile-input matrix's case table (issue 10), run by tests/test_hostile.py.

Each :class:`Case` calls one public method of kafkify or of a shim on one *target*
(see ``TARGETS`` in test_hostile.py: a shared producer on a mock cluster, a closed
one, a shim, ``kafkify.dumps``, ...) and says what must happen: success, or an
exception of the given types whose message (or pyo3's "while processing 'x'" note)
names one of ``names``. Whatever the case, no ``PanicException`` may escape.

``defect=N`` marks a case that fails before issue 10's defect N is fixed; it stays
strict (the fix is what makes it pass). Cases that could crash or hang the
interpreter are in ``SCRIPTS``: each runs in a fresh interpreter under a bound.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import kafkify
from kafkify.compat.aiokafka import errors as aio_errors
from kafkify.compat.confluent_kafka import KafkaException
from kafkify.compat.kafka import errors as kp_errors

KE = kafkify.KafkaError
CONFIG = kafkify.ConfigError
SER = kafkify.SerializationError
TOPIC = kafkify.InvalidTopicError
CLOSED = kafkify.ProducerClosedError
BADARG = kafkify.InvalidArgumentError
#: pyo3 converts an argument that is not an int / str / float with the builtin
#: errors Python itself uses (TypeError; OverflowError past the C type), and names
#: the argument in a note ("while processing 'partition'").
PYARG = (TypeError, OverflowError)

BIG = 2**64
HUGE_INT = 10**400  # no float holds it


@dataclass(frozen=True)
class Case:
    id: str
    on: str
    call: Callable[[Any], Any]
    raises: tuple[type[BaseException], ...] | None = None
    names: tuple[str, ...] = ()
    asynchronous: bool = False
    defect: int | None = None


def ok(id: str, on: str, call: Callable[[Any], Any], *, defect: int | None = None) -> Case:
    return Case(id, on, call, defect=defect)


def err(
    id: str,
    on: str,
    call: Callable[[Any], Any],
    raises: type[BaseException] | tuple[type[BaseException], ...],
    *names: str,
    defect: int | None = None,
) -> Case:
    types = raises if isinstance(raises, tuple) else (raises,)
    return Case(id, on, call, types, names, defect=defect)


def aok(id: str, on: str, call: Callable[[Any], Any], *, defect: int | None = None) -> Case:
    """``call(target)`` returns an awaitable, awaited on a fresh running loop."""
    return replace(ok(id, on, call, defect=defect), asynchronous=True)


def aerr(
    id: str,
    on: str,
    call: Callable[[Any], Any],
    raises: type[BaseException] | tuple[type[BaseException], ...],
    *names: str,
    defect: int | None = None,
) -> Case:
    """``err``, with ``call(target)``'s awaitable awaited on a fresh running loop."""
    return replace(err(id, on, call, raises, *names, defect=defect), asynchronous=True)


def _cyclic_list() -> list[Any]:
    value: list[Any] = []
    value.append(value)
    return value


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


class _GrowsWhileWalked(dict):  # type: ignore[type-arg]
    """A dict whose values add keys to it while the serializer walks it."""

    def __init__(self) -> None:
        super().__init__(a=_Adder(self), b=1)


class _Adder:
    def __init__(self, target: dict[str, Any]) -> None:
        self.target = target

    def __repr__(self) -> str:
        return "_Adder"


def _adding_default(obj: Any) -> Any:
    if isinstance(obj, _Adder):
        obj.target[f"k{len(obj.target)}"] = 0  # changes the dict being serialized
        return "x"
    raise TypeError(f"unsupported {type(obj).__name__}")


def _shrinking_list_default(obj: Any) -> Any:
    if isinstance(obj, _Shrinker):
        obj.target.clear()
        return 0
    raise TypeError


class _Shrinker:
    def __init__(self, target: list[Any]) -> None:
        self.target = target


def _shrinking_list() -> list[Any]:
    values: list[Any] = [1, 2, 3]
    values.insert(0, _Shrinker(values))
    return values


def _raising_default(obj: Any) -> Any:
    raise ValueError("default= refuses")


def _reentrant_default(obj: Any) -> Any:
    # A default= that itself serializes (issue 10, defect 1): fine at small depth.
    return kafkify.dumps([1, 2]).decode()


def _raising(*_: Any) -> None:
    raise RuntimeError("callback raises")


def _many_threads(p: kafkify.Producer) -> None:
    """8 threads x 25 blocking sends on one producer: every send returns metadata."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for i in range(25):
                p.send("hostile-threads", {"i": i})
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def _produce_with_raising_callback(p: kafkify.Producer) -> None:
    """A callback that raises must not stop later deliveries (nor lose records)."""
    seen: list[Any] = []

    def cb(err: Any, meta: Any) -> None:
        seen.append(err)
        raise RuntimeError("callback raises")

    for i in range(5):
        p.produce("hostile-cb", {"i": i}, on_delivery=cb)
    p.flush(30)
    assert seen == [None] * 5, seen
    p.send("hostile-cb", {"after": True})


def _batch_results(p: kafkify.Producer) -> None:
    results = p.send_batch("hostile-batch", [{"i": i} for i in range(50)])
    assert all(isinstance(r, kafkify.RecordMetadata) for r in results), results


def _batch_mutated_by_serializer(p: kafkify.Producer) -> Any:
    values: list[Any] = [1, 2]
    return p.send_batch("hostile-batch", values, keys=["a", "b"])


def _dumps(value: Any, **kw: Any) -> Callable[[Any], Any]:
    return lambda dumps: dumps(value, **kw)


BOOT = "{bootstrap}"  # filled in by test_hostile.py


CASES: list[Case] = [
    # --- send: topic ------------------------------------------------------------------
    err("send-topic-int", "core", lambda p: p.send(5, {"a": 1}), TypeError, "topic"),
    err("send-topic-none", "core", lambda p: p.send(None, {"a": 1}), TypeError, "topic"),
    err("send-topic-bytes", "core", lambda p: p.send(b"t", {"a": 1}), TypeError, "topic"),
    err("send-topic-empty", "core", lambda p: p.send("", {"a": 1}), TOPIC, "topic"),
    err("send-topic-space", "core", lambda p: p.send("a b", {"a": 1}), TOPIC, "a b"),
    err("send-topic-long", "core", lambda p: p.send("t" * 300, {"a": 1}), TOPIC, "topic"),
    err("send-topic-nul", "core", lambda p: p.send("a\0b", {"a": 1}), TOPIC, "topic"),
    err("send-topic-dot", "core", lambda p: p.send("..", {"a": 1}), TOPIC, "topic"),
    err(
        "send-topic-surrogate",
        "core",
        lambda p: p.send("a\ud800", {"a": 1}),
        (TOPIC, UnicodeError),
        "topic",
    ),
    # --- send: value, key -------------------------------------------------------------
    ok("send-ok", "core", lambda p: p.send("hostile", {"a": 1}, key="k")),
    ok("send-tombstone", "core", lambda p: p.send("hostile", None, key="k")),
    err("send-value-set", "core", lambda p: p.send("hostile", {1, 2}), SER, "value"),
    err("send-value-nan", "core", lambda p: p.send("hostile", math.nan), SER, "value"),
    err("send-value-inf", "core", lambda p: p.send("hostile", [math.inf]), SER, "value[0]"),
    err("send-value-cyclic", "core", lambda p: p.send("hostile", _cyclic_list()), SER, "value"),
    err("send-value-deep", "core", lambda p: p.send("hostile", _nested(300)), SER, "value"),
    ok("send-value-deep-ok", "core", lambda p: p.send("hostile", _nested(200))),
    err("send-value-bytes", "core", lambda p: p.send("hostile", b"x"), SER, "value"),
    err("send-value-object", "core", lambda p: p.send("hostile", object()), SER, "value"),
    err(
        "send-value-surrogate",
        "core",
        lambda p: p.send("hostile", {"a": "\udc80"}),
        SER,
        "value['a']",
    ),
    err("send-value-key-int-in-dict", "core", lambda p: p.send("hostile", {(1,): 1}), SER, "value"),
    ok("send-value-bigint", "core", lambda p: p.send("hostile", BIG**8)),
    err("send-key-int", "core", lambda p: p.send("hostile", 1, key=5), SER, "key"),
    err("send-key-list", "core", lambda p: p.send("hostile", 1, key=[1]), SER, "key"),
    err("send-key-surrogate", "core", lambda p: p.send("hostile", 1, key="\ud800"), SER, "key"),
    ok("send-key-bytearray", "core", lambda p: p.send("hostile", 1, key=bytearray(b"k"))),
    ok("send-key-memoryview", "core", lambda p: p.send("hostile", 1, key=memoryview(b"kk")[::2])),
    # --- send: headers ----------------------------------------------------------------
    ok("send-headers-dict", "core", lambda p: p.send("hostile", 1, headers={"a": b"1", "b": None})),
    ok("send-headers-pairs", "core", lambda p: p.send("hostile", 1, headers=[("a", "x")] * 3)),
    err("send-headers-int", "core", lambda p: p.send("hostile", 1, headers=5), SER, "headers"),
    err(
        "send-headers-name", "core", lambda p: p.send("hostile", 1, headers={1: b"x"}), SER, "head"
    ),
    err(
        "send-headers-value",
        "core",
        lambda p: p.send("hostile", 1, headers={"a": 1}),
        SER,
        'headers["a"]',
    ),
    err(
        "send-headers-triple",
        "core",
        lambda p: p.send("hostile", 1, headers=[("a", b"x", 1)]),
        SER,
        "headers[0]",
    ),
    err(
        "send-headers-generator",
        "core",
        lambda p: p.send("hostile", 1, headers=(h for h in [("a", b"1")])),
        SER,
        "headers",
    ),
    err(
        "send-headers-surrogate-name",
        "core",
        lambda p: p.send("hostile", 1, headers={"\ud800": b"x"}),
        SER,
        "headers",
    ),
    # --- send: partition, timestamp ---------------------------------------------------
    err("send-partition--1", "core", lambda p: p.send("hostile", 1, partition=-1), CONFIG, "parti"),
    err(
        "send-partition-big", "core", lambda p: p.send("hostile", 1, partition=BIG), PYARG, "parti"
    ),
    err(
        "send-partition-str", "core", lambda p: p.send("hostile", 1, partition="0"), PYARG, "parti"
    ),
    err(
        "send-partition-float", "core", lambda p: p.send("hostile", 1, partition=0.5), PYARG, "par"
    ),
    err(
        "send-partition-absent",
        "core",
        lambda p: p.send("hostile", 1, partition=99, timeout=10),
        (kafkify.UnknownTopicOrPartitionError,),
        "partition",
    ),
    err(
        "send-timestamp-big",
        "core",
        lambda p: p.send("hostile", 1, timestamp_ms=BIG),
        PYARG,
        "time",
    ),
    ok("send-timestamp-negative", "core", lambda p: p.send("hostile", 1, timestamp_ms=-5)),
    ok("send-timestamp-zero", "core", lambda p: p.send("hostile", 1, timestamp_ms=0)),
    # --- send: timeout (defect 2) -----------------------------------------------------
    ok("send-timeout-inf", "core", lambda p: p.send("hostile", 1, timeout=math.inf)),
    ok("send-timeout-none", "core", lambda p: p.send("hostile", 1, timeout=None)),
    ok("send-timeout-1e308", "core", lambda p: p.send("hostile", 1, timeout=1e308), defect=2),
    ok("send-timeout-2**64", "core", lambda p: p.send("hostile", 1, timeout=BIG), defect=2),
    ok("send-timeout-1e19", "core", lambda p: p.send("hostile", 1, timeout=1e19), defect=2),
    # No float holds 10**400: Python's own float() raises OverflowError for it.
    err(
        "send-timeout-huge-int",
        "core",
        lambda p: p.send("hostile", 1, timeout=HUGE_INT),
        OverflowError,
        "timeout",
    ),
    err(
        "send-timeout-nan", "core", lambda p: p.send("hostile", 1, timeout=math.nan), CONFIG, "tim"
    ),
    err("send-timeout--1", "core", lambda p: p.send("hostile", 1, timeout=-1), CONFIG, "timeout"),
    err(
        "send-timeout--inf", "core", lambda p: p.send("hostile", 1, timeout=-math.inf), CONFIG, "ti"
    ),
    err("send-timeout-str", "core", lambda p: p.send("hostile", 1, timeout="1"), PYARG, "timeout"),
    # --- send_async -------------------------------------------------------------------
    err("send_async-no-loop", "core", lambda p: p.send_async("hostile", 1), RuntimeError, "loop"),
    aok("send_async-ok", "core", lambda p: p.send_async("hostile", {"a": 1})),
    aok("send_async-timeout-inf", "core", lambda p: p.send_async("hostile", 1, timeout=math.inf)),
    aok(
        "send_async-timeout-1e308",
        "core",
        lambda p: p.send_async("hostile", 1, timeout=1e308),
        defect=2,
    ),
    aerr(
        "send_async-timeout-nan",
        "core",
        lambda p: p.send_async("hostile", 1, timeout=math.nan),
        CONFIG,
        "timeout",
    ),
    aerr("send_async-topic-int", "core", lambda p: p.send_async(5, 1), TypeError, "topic"),
    aerr("send_async-value-set", "core", lambda p: p.send_async("hostile", {1}), SER, "value"),
    aerr(
        "send_async-partition-big",
        "core",
        lambda p: p.send_async("hostile", 1, partition=BIG),
        PYARG,
        "partition",
    ),
    # --- produce ----------------------------------------------------------------------
    ok("produce-ok", "core", lambda p: p.produce("hostile", 1, on_delivery=lambda e, m: None)),
    err(
        "produce-callback-int",
        "core",
        lambda p: p.produce("hostile", 1, on_delivery=5),
        TypeError,
        "on_delivery",
    ),
    err("produce-topic-int", "core", lambda p: p.produce(5, 1), TypeError, "topic"),
    err(
        "produce-partition-big",
        "core",
        lambda p: p.produce("hostile", 1, partition=BIG),
        PYARG,
        "partition",
    ),
    err(
        "produce-headers-int", "core", lambda p: p.produce("hostile", 1, headers=3), SER, "headers"
    ),
    ok("produce-callback-raises", "core", _produce_with_raising_callback),
    # --- send_batch -------------------------------------------------------------------
    ok("send_batch-ok", "core", _batch_results),
    ok("send_batch-empty", "core", lambda p: p.send_batch("hostile-batch", [])),
    ok(
        "send_batch-generator",
        "core",
        lambda p: p.send_batch("hostile-batch", (i for i in range(3))),
    ),
    err("send_batch-values-int", "core", lambda p: p.send_batch("hostile", 5), TypeError, "values"),
    err(
        "send_batch-keys-int",
        "core",
        lambda p: p.send_batch("hostile", [1], keys=5),
        TypeError,
        "keys",
    ),
    err(
        "send_batch-keys-short",
        "core",
        lambda p: p.send_batch("hostile", [1, 2], keys=[1]),
        CONFIG,
        "keys",
    ),
    err(
        "send_batch-value-bad",
        "core",
        lambda p: p.send_batch("hostile", [1, {2}]),
        SER,
        "values[1]",
    ),
    err("send_batch-key-bad", "core", lambda p: p.send_batch("hostile", [1], keys=[3]), SER, "key"),
    err("send_batch-topic-bad", "core", lambda p: p.send_batch("a b", [1]), TOPIC, "a b"),
    err(
        "send_batch-partition--1",
        "core",
        lambda p: p.send_batch("hostile", [1], partition=-1),
        CONFIG,
        "partition",
    ),
    err(
        "send_batch-timeout-nan",
        "core",
        lambda p: p.send_batch("hostile", [1], timeout=math.nan),
        CONFIG,
        "timeout",
    ),
    ok(
        "send_batch-timeout-1e308",
        "core",
        lambda p: p.send_batch("hostile", [1], timeout=1e308),
        defect=2,
    ),
    ok("send_batch-timeout-inf", "core", lambda p: p.send_batch("hostile", [1], timeout=math.inf)),
    err(
        "send_batch-raise-on-error-str",
        "core",
        lambda p: p.send_batch("hostile", [1], raise_on_error="yes"),
        PYARG,
        "raise_on_error",
    ),
    err(
        "send_batch-values-raise",
        "core",
        lambda p: p.send_batch("hostile", (1 / 0 for _ in range(1))),
        ZeroDivisionError,
    ),
    ok("send_batch-serializer-mutates", "core", _batch_mutated_by_serializer),
    # --- send_batch_async -------------------------------------------------------------
    err(
        "send_batch_async-no-loop",
        "core",
        lambda p: p.send_batch_async("hostile", [1]),
        RuntimeError,
        "loop",
    ),
    aok("send_batch_async-ok", "core", lambda p: p.send_batch_async("hostile", [1, 2, 3])),
    aok("send_batch_async-empty", "core", lambda p: p.send_batch_async("hostile", [])),
    aerr(
        "send_batch_async-value-bad",
        "core",
        lambda p: p.send_batch_async("hostile", [object()]),
        SER,
        "values[0]",
    ),
    aerr(
        "send_batch_async-values-int",
        "core",
        lambda p: p.send_batch_async("hostile", 3),
        TypeError,
        "values",
    ),
    # --- flush ------------------------------------------------------------------------
    ok("flush-ok", "core", lambda p: p.flush()),
    ok("flush-inf", "core", lambda p: p.flush(math.inf)),
    ok("flush-0", "core", lambda p: p.flush(0)),
    ok("flush-1e308", "core", lambda p: p.flush(1e308), defect=2),
    ok("flush-1e19", "core", lambda p: p.flush(1e19), defect=2),
    ok("flush-2**64", "core", lambda p: p.flush(BIG), defect=2),
    err("flush-nan", "core", lambda p: p.flush(math.nan), CONFIG, "timeout"),
    err("flush--1", "core", lambda p: p.flush(-1), CONFIG, "timeout"),
    err("flush-str", "core", lambda p: p.flush("1"), PYARG, "timeout"),
    # --- many threads, purge, metadata, metrics, config -------------------------------
    ok("threads-8x25-send", "core", _many_threads),
    ok("purge-ok", "core", lambda p: p.purge()),
    ok("purge-flags", "core", lambda p: p.purge(in_queue=False, in_flight=False, blocking=False)),
    err("purge-str", "core", lambda p: p.purge("x"), PYARG, "in_queue"),
    ok("list_topics-ok", "core", lambda p: p.list_topics(timeout=10)),
    ok("list_topics-topic", "core", lambda p: p.list_topics("hostile", timeout=10)),
    ok("list_topics-inf", "core", lambda p: p.list_topics(timeout=math.inf)),
    ok("list_topics-1e308", "core", lambda p: p.list_topics(timeout=1e308), defect=2),
    ok("list_topics-3e6", "core", lambda p: p.list_topics(timeout=3e6), defect=4),
    err("list_topics-nan", "core", lambda p: p.list_topics(timeout=math.nan), CONFIG, "timeout"),
    err("list_topics-topic-int", "core", lambda p: p.list_topics(5), TypeError, "topic"),
    err("list_topics-topic-bad", "core", lambda p: p.list_topics("a b", timeout=5), TOPIC, "a b"),
    ok("partitions_for-ok", "core", lambda p: p.partitions_for("hostile")),
    err("partitions_for-int", "core", lambda p: p.partitions_for(5), TypeError, "topic"),
    err("partitions_for-bad", "core", lambda p: p.partitions_for("a b"), TOPIC, "a b"),
    ok("metrics", "core", lambda p: p.metrics()["kafkify"]),
    ok("config", "core", lambda p: p.config["acks"]),
    ok("len", "core", lambda p: len(p)),
    ok("repr", "core", lambda p: repr(p)),
    # --- transactions on a non-transactional producer ---------------------------------
    err(
        "init_transactions-no-id",
        "core",
        lambda p: p.init_transactions(5),
        kafkify.IllegalStateError,
        "transactional_id",
    ),
    err(
        "begin_transaction-no-id",
        "core",
        lambda p: p.begin_transaction(),
        kafkify.IllegalStateError,
        "transactional_id",
    ),
    err(
        "commit_transaction-no-id",
        "core",
        lambda p: p.commit_transaction(),
        kafkify.IllegalStateError,
        "transactional_id",
    ),
    err(
        "abort_transaction-no-id",
        "core",
        lambda p: p.abort_transaction(),
        kafkify.IllegalStateError,
        "transactional_id",
    ),
    err(
        "init_transactions-nan", "core", lambda p: p.init_transactions(math.nan), CONFIG, "timeout"
    ),
    err("transaction-nan", "core", lambda p: p.transaction(math.nan), CONFIG, "timeout"),
    err(
        "send_offsets-int",
        "core",
        lambda p: p.send_offsets_to_transaction(5, "g"),
        (TypeError, CONFIG),
        "offsets",
    ),
    err(
        "send_offsets-bad-entry",
        "core",
        lambda p: p.send_offsets_to_transaction([(1,)], "g"),
        CONFIG,
        "offsets",
    ),
    err(
        "send_offsets-group-int",
        "core",
        lambda p: p.send_offsets_to_transaction([("t", 0, 1)], 5),
        (CONFIG, TypeError),
        "group",
    ),
    # --- start / stop -----------------------------------------------------------------
    aok("start-ok", "core", lambda p: p.start(10)),
    aok("start-inf", "core", lambda p: p.start(math.inf)),
    aok("start-returns-the-producer", "core", lambda p: p.start(10)),
    aok("start-3e6", "core", lambda p: p.start(3e6), defect=4),
    aerr("start-nan", "core", lambda p: p.start(math.nan), CONFIG, "timeout"),
    aerr("start--1", "core", lambda p: p.start(-1), CONFIG, "timeout"),
    aok("stop-then-closed", "fresh", lambda p: p.stop(10)),
    aerr("stop-nan", "fresh", lambda p: p.stop(math.nan), CONFIG, "timeout"),
    # --- close ------------------------------------------------------------------------
    ok("close-ok", "fresh", lambda p: p.close(10)),
    ok("close-inf", "fresh", lambda p: p.close(math.inf)),
    ok("close-1e308", "fresh", lambda p: p.close(1e308), defect=3),
    err("close-nan", "fresh", lambda p: p.close(math.nan), CONFIG, "timeout"),
    err("close--1", "fresh", lambda p: p.close(-1), CONFIG, "timeout"),
    ok("close-twice", "fresh", lambda p: (p.close(), p.close())),
    # --- a closed producer ------------------------------------------------------------
    err("closed-send", "closed", lambda p: p.send("hostile", 1), CLOSED, "closed"),
    err("closed-send-bad-args", "closed", lambda p: p.send("a b", {1}), CLOSED, "closed"),
    err("closed-produce", "closed", lambda p: p.produce("hostile", 1), CLOSED, "closed"),
    err("closed-send_batch", "closed", lambda p: p.send_batch("hostile", [1]), CLOSED, "closed"),
    aerr("closed-send_async", "closed", lambda p: p.send_async("hostile", 1), CLOSED, "closed"),
    err("closed-flush", "closed", lambda p: p.flush(), CLOSED, "closed"),
    ok("closed-close", "closed", lambda p: p.close()),
    ok("closed-metrics", "closed", lambda p: p.metrics()),
    ok("closed-len", "closed", lambda p: len(p)),
    err("closed-purge", "closed", lambda p: p.purge(), CLOSED, "closed"),
    err("closed-list_topics", "closed", lambda p: p.list_topics(timeout=1), CLOSED, "closed"),
    err("closed-partitions_for", "closed", lambda p: p.partitions_for("t"), CLOSED, "closed"),
    # --- the constructor's options ----------------------------------------------------
    err(
        "new-batch_size-10**30",
        "new",
        lambda b: kafkify.Producer(b, batch_size=10**30),
        CONFIG,
        "batch_size",
    ),
    err(
        "new-batch_size-2**64",
        "new",
        lambda b: kafkify.Producer(b, batch_size=BIG),
        CONFIG,
        "batch_size",
    ),
    err(
        "new-batch_size-1e308",
        "new",
        lambda b: kafkify.Producer(b, batch_size=1e308),
        CONFIG,
        "batch_size",
    ),
    err(
        "new-batch_size-nan",
        "new",
        lambda b: kafkify.Producer(b, batch_size=math.nan),
        CONFIG,
        "batch_size",
    ),
    err(
        "new-batch_size--1",
        "new",
        lambda b: kafkify.Producer(b, batch_size=-1),
        CONFIG,
        "batch_size",
    ),
    err(
        "new-linger-nan",
        "new",
        lambda b: kafkify.Producer(b, linger_ms=math.nan),
        CONFIG,
        "linger_ms",
    ),
    err(
        "new-linger-inf", "new", lambda b: kafkify.Producer(b, linger_ms=math.inf), CONFIG, "linger"
    ),
    err("new-linger-str", "new", lambda b: kafkify.Producer(b, linger_ms="x"), CONFIG, "linger"),
    err(
        "new-linger-2**64", "new", lambda b: kafkify.Producer(b, linger_ms=BIG), CONFIG, "linger_ms"
    ),
    err(
        "new-delivery_timeout-2**40",
        "new",
        lambda b: kafkify.Producer(b, delivery_timeout_ms=2**40),
        CONFIG,
        "delivery_timeout_ms",
    ),
    err(
        "new-buffer_memory-huge",
        "new",
        lambda b: kafkify.Producer(b, buffer_memory=2**62),
        CONFIG,
        "buffer_memory",
    ),
    err(
        "new-raw-10**30",
        "new",
        lambda b: kafkify.Producer(b, config={"linger.ms": 10**30}),
        CONFIG,
        "linger.ms",
    ),
    err(
        "new-raw-2**40",
        "new",
        lambda b: kafkify.Producer(b, config={"queue.buffering.max.kbytes": 2**40}),
        CONFIG,
        "queue.buffering.max.kbytes",
    ),
    err(
        "new-raw-nan",
        "new",
        lambda b: kafkify.Producer(b, config={"linger.ms": math.nan}),
        CONFIG,
        "linger.ms",
    ),
    err("new-raw-key-int", "new", lambda b: kafkify.Producer(b, config={5: 1}), CONFIG, "name"),
    err("new-raw-not-dict", "new", lambda b: kafkify.Producer(b, config=5), PYARG, "config"),
    err(
        "new-password-10**30",
        "new",
        lambda b: kafkify.Producer(b, sasl_plain_password=10**30),
        CONFIG,
        "sasl_plain_password",
    ),
    err(
        "new-password-object",
        "new",
        lambda b: kafkify.Producer(b, sasl_plain_password=object()),
        CONFIG,
        "sasl_plain_password",
    ),
    err("new-acks-5", "new", lambda b: kafkify.Producer(b, acks=5), CONFIG, "acks"),
    err("new-acks-big", "new", lambda b: kafkify.Producer(b, acks=BIG), CONFIG, "acks"),
    err(
        "new-retries-nan", "new", lambda b: kafkify.Producer(b, retries=math.nan), CONFIG, "retries"
    ),
    ok("new-retries-inf", "new", lambda b: kafkify.Producer(b, retries=math.inf)),
    err(
        "new-compression",
        "new",
        lambda b: kafkify.Producer(b, compression_type="xz"),
        CONFIG,
        "compression_type",
    ),
    err("new-unknown", "new", lambda b: kafkify.Producer(b, lingr_ms=5), CONFIG, "lingr_ms"),
    err("new-bootstrap-int", "new", lambda b: kafkify.Producer(5), CONFIG, "bootstrap_servers"),
    err(
        "new-bootstrap-list-int",
        "new",
        lambda b: kafkify.Producer([1]),
        CONFIG,
        "bootstrap_servers",
    ),
    err("new-bootstrap-empty", "new", lambda b: kafkify.Producer(""), CONFIG, "bootstrap_servers"),
    err(
        "new-max_block-nan",
        "new",
        lambda b: kafkify.Producer(b, max_block_ms=math.nan),
        CONFIG,
        "max_block_ms",
    ),
    err(
        "new-max_block--1",
        "new",
        lambda b: kafkify.Producer(b, max_block_ms=-1),
        CONFIG,
        "max_block_ms",
    ),
    err(
        "new-max_block-str",
        "new",
        lambda b: kafkify.Producer(b, max_block_ms="1"),
        CONFIG,
        "max_block_ms",
    ),
    ok("new-max_block-1e308", "new", lambda b: kafkify.Producer(b, max_block_ms=1e308), defect=2),
    ok("new-max_block-inf", "new", lambda b: kafkify.Producer(b, max_block_ms=math.inf), defect=2),
    err(
        "new-value_serializer-xml",
        "new",
        lambda b: kafkify.Producer(b, value_serializer="xml"),
        CONFIG,
        "value_serializer",
    ),
    err(
        "new-key_serializer-int",
        "new",
        lambda b: kafkify.Producer(b, key_serializer=5),
        CONFIG,
        "key_serializer",
    ),
    err(
        "new-json_default-int",
        "new",
        lambda b: kafkify.Producer(b, json_default=5),
        CONFIG,
        "json_default",
    ),
    err("new-on_error-int", "new", lambda b: kafkify.Producer(b, on_error=5), CONFIG, "on_error"),
    err(
        "new-on_stats-no-interval",
        "new",
        lambda b: kafkify.Producer(b, on_stats=print),
        CONFIG,
        "on_stats",
    ),
    err(
        "new-log_deliveries-str",
        "new",
        lambda b: kafkify.Producer(b, log_deliveries="x"),
        CONFIG,
        "log_deliveries",
    ),
    err(
        "new-client_id-int", "new", lambda b: kafkify.Producer(b, client_id=5), CONFIG, "client_id"
    ),
    err(
        "new-own-option-in-config",
        "new",
        lambda b: kafkify.Producer(b, config={"max_block_ms": 1}),
        CONFIG,
        "max_block_ms",
    ),
    ok("from_config-ok", "new", lambda b: kafkify.Producer.from_config({"bootstrap_servers": b})),
    err(
        "from_config-int",
        "new",
        lambda b: kafkify.Producer.from_config(5),
        (TypeError, CONFIG),
        "mapping",
    ),
    err(
        "from_config-10**30",
        "new",
        lambda b: kafkify.Producer.from_config({"bootstrap_servers": b, "batch_size": 10**30}),
        CONFIG,
        "batch_size",
    ),
    err(
        "from_config-unknown",
        "new",
        lambda b: kafkify.Producer.from_config({"x_y_z": 1}),
        CONFIG,
        "x_y_z",
    ),
    # --- kafkify.dumps ----------------------------------------------------------------
    ok("dumps-ok", "dumps", _dumps({"a": [1, 2.5, None, True, "é"]})),
    ok("dumps-bigint", "dumps", _dumps(HUGE_INT)),
    err("dumps-nan", "dumps", _dumps(math.nan), SER, "value"),
    err("dumps-inf", "dumps", _dumps(math.inf), SER, "value"),
    err("dumps-bytes", "dumps", _dumps(b"x"), SER, "value"),
    err("dumps-cyclic", "dumps", _dumps(_cyclic_list()), SER, "circular"),
    err("dumps-deep", "dumps", _dumps(_nested(10_000)), SER, "value"),
    err("dumps-default-int", "dumps", _dumps({1}, default=5), (TypeError, SER), "default"),
    err(
        "dumps-default-raises",
        "dumps",
        _dumps({1}, default=_raising_default),
        (ValueError, SER),
        "value",
    ),
    ok("dumps-default-reentrant", "dumps", _dumps({1}, default=_reentrant_default)),
    err(
        "dumps-dict-grows",
        "dumps",
        _dumps(_GrowsWhileWalked(), default=_adding_default),
        SER,
        "value",
    ),
    ok("dumps-list-shrinks", "dumps", _dumps(_shrinking_list(), default=_shrinking_list_default)),
    err("dumps-sort-keys-str", "dumps", _dumps({}, sort_keys="x"), PYARG, "sort_keys"),
    ok("dumps-sort-keys-mixed", "dumps", _dumps({"b": 1, "a": 2}, sort_keys=True)),
    err("dumps-key-object", "dumps", _dumps({object(): 1}), SER, "value"),
    # --- kafkify.testing.MockCluster --------------------------------------------------
    err("cluster-new-0", "mock", lambda m: m(0), BADARG, "num_brokers"),
    err("cluster-new-big", "mock", lambda m: m(BIG), (BADARG, OverflowError), "num_brokers"),
    err("cluster-new-str", "mock", lambda m: m("3"), PYARG, "num_brokers"),
    err(
        "cluster-create-topic-0", "cluster", lambda c: c.create_topic("x0", 0), BADARG, "partitions"
    ),
    err(
        "cluster-create-topic-big",
        "cluster",
        lambda c: c.create_topic("x1", BIG),
        (BADARG, OverflowError),
        "partitions",
    ),
    err(
        "cluster-create-topic-rf",
        "cluster",
        lambda c: c.create_topic("x2", 1, 99),
        BADARG,
        "replication_factor",
    ),
    err("cluster-set_rtt--1", "cluster", lambda c: c.set_rtt(1, -1), BADARG, "rtt"),
    err(
        "cluster-set_rtt-big", "cluster", lambda c: c.set_rtt(1, BIG), (BADARG, OverflowError), "ms"
    ),
    err("cluster-broker_down-99", "cluster", lambda c: c.broker_down(99), BADARG, "broker 99"),
    err(
        "cluster-broker_up-big",
        "cluster",
        lambda c: c.broker_up(BIG),
        (BADARG, OverflowError),
        "broker_id",
    ),
    err("cluster-set_leader-99", "cluster", lambda c: c.set_leader("t", 0, 99), BADARG, "99"),
    err(
        "cluster-push-api",
        "cluster",
        lambda c: c.push_request_errors("Produc", ["X"]),
        BADARG,
        "Produc",
    ),
    err(
        "cluster-push-error",
        "cluster",
        lambda c: c.push_request_errors("Produce", ["NOPE"]),
        BADARG,
        "NOPE",
    ),
    err(
        "cluster-push-big",
        "cluster",
        lambda c: c.push_request_errors("Produce", [BIG]),
        (BADARG, OverflowError),
        "errors",
    ),
    err("cluster-clear-api", "cluster", lambda c: c.clear_request_errors("x"), BADARG, "x"),
    err(
        "cluster-records-unknown",
        "cluster",
        lambda c: c.records("nope-topic", 5),
        kafkify.UnknownTopicOrPartitionError,
        "nope-topic",
    ),
    err(
        "cluster-records-nan",
        "cluster",
        lambda c: c.records("hostile", math.nan),
        (CONFIG, BADARG),
        "timeout",
    ),
    err(
        "cluster-records--1",
        "cluster",
        lambda c: c.records("hostile", -1),
        (CONFIG, BADARG),
        "timeout",
    ),
    ok("cluster-records-inf", "cluster", lambda c: c.records("hostile", math.inf), defect=2),
    ok("cluster-records-1e300", "cluster", lambda c: c.records("hostile", 1e300), defect=2),
    # --- kafkify.compat.kafka.KafkaProducer -------------------------------------------
    ok("kafka-send-ok", "kafka", lambda k: k.send("hostile", b"v", key=b"k").get(10)),
    err("kafka-send-neither", "kafka", lambda k: k.send("hostile"), ValueError, "key"),
    err("kafka-send-topic-int", "kafka", lambda k: k.send(5, b"v"), TypeError, "topic"),
    err(
        "kafka-send-value-str", "kafka", lambda k: k.send("hostile", "v"), (TypeError, SER), "value"
    ),
    err(
        "kafka-send-partition-big",
        "kafka",
        lambda k: k.send("hostile", b"v", partition=BIG),
        PYARG,
        "partition",
    ),
    err(
        "kafka-send-headers-bad",
        "kafka",
        lambda k: k.send("hostile", b"v", headers=[("a", 1)]),
        (TypeError, kp_errors.KafkaError, SER),
        "headers",
    ),
    err(
        "kafka-flush-nan",
        "kafka",
        lambda k: k.flush(math.nan),
        kp_errors.KafkaConfigurationError,
        "timeout",
    ),
    ok("kafka-flush-inf", "kafka", lambda k: k.flush(math.inf)),
    ok("kafka-partitions_for", "kafka", lambda k: k.partitions_for("hostile")),
    ok("kafka-metrics", "kafka", lambda k: k.metrics()),
    err(
        "kafka-new-batch_size-10**30",
        "new",
        lambda b: _kafka(bootstrap_servers=b, batch_size=10**30),
        kp_errors.KafkaConfigurationError,
        "batch_size",
    ),
    ok(
        "kafka-new-secrets-masked",
        "new",
        lambda b: _masked(
            _kafka(bootstrap_servers=b, sasl_plain_password="hunter2", ssl_password="hunter2")
        ),
    ),
    err(
        "kafka-new-password-10**30",
        "new",
        lambda b: _kafka(bootstrap_servers=b, sasl_plain_password=10**30),
        kp_errors.KafkaConfigurationError,
        "sasl_plain_password",
    ),
    err(
        "kafka-new-unknown",
        "new",
        lambda b: _kafka(bootstrap_servers=b, lingr_ms=1),
        kp_errors.KafkaConfigurationError,
        "lingr_ms",
    ),
    err(
        "kafka-closed-send",
        "kafka_closed",
        lambda k: k.send("hostile", b"v"),
        kp_errors.IllegalStateError,
        "closed",
    ),
    # --- kafkify.compat.confluent_kafka.Producer --------------------------------------
    ok("confluent-produce-ok", "confluent", lambda c: (c.produce("hostile", b"v"), c.flush(10))),
    err(
        "confluent-produce-topic-int", "confluent", lambda c: c.produce(5, b"v"), TypeError, "topic"
    ),
    err(
        "confluent-produce-value-int",
        "confluent",
        lambda c: c.produce("hostile", 5),
        (TypeError, KafkaException),
        "value",
    ),
    err(
        "confluent-produce-partition-big",
        "confluent",
        lambda c: c.produce("hostile", b"v", partition=BIG),
        PYARG,
        "partition",
    ),
    err(
        "confluent-produce-callback-int",
        "confluent",
        lambda c: c.produce("hostile", b"v", on_delivery=5),
        TypeError,
        "on_delivery",
    ),
    err(
        "confluent-poll-str", "confluent", lambda c: c.poll("x"), (TypeError, ValueError), "timeout"
    ),
    err(
        "confluent-flush-nan",
        "confluent",
        lambda c: c.flush(math.nan),
        (KafkaException, ValueError),
        "timeout",
    ),
    ok("confluent-flush-inf", "confluent", lambda c: c.flush(math.inf)),
    ok("confluent-list_topics", "confluent", lambda c: c.list_topics(timeout=10)),
    # confluent-kafka raises a delivery callback's exception from poll()/flush().
    err(
        "confluent-callback-raises",
        "confluent",
        lambda c: (c.produce("hostile", b"v", on_delivery=_raising), c.flush(10)),
        RuntimeError,
        "callback raises",
    ),
    ok("confluent-after-callback-raised", "confluent", lambda c: c.flush(10)),
    err(
        "confluent-new-10**30",
        "new",
        lambda b: _confluent({"bootstrap.servers": b, "batch.size": 10**30}),
        KafkaException,
        "batch.size",
    ),
    err(
        "confluent-flush-str",
        "confluent",
        lambda c: c.flush("1"),
        TypeError,
        "timeout",
    ),
    err(
        "confluent-poll-nan",
        "confluent",
        lambda c: c.poll(math.nan),
        (CONFIG, ValueError),
        "timeout",
    ),
    err("confluent-new-none", "new", lambda b: _confluent(), TypeError, "config"),
    # --- kafkify.compat.aiokafka.AIOKafkaProducer -------------------------------------
    aok("aiokafka-send_and_wait", "aiokafka", lambda a: a.send_and_wait("hostile", b"v")),
    aerr(
        "aiokafka-send-topic-int",
        "aiokafka",
        lambda a: a.send(5, b"v"),
        (TypeError, AssertionError),
        "topic",
    ),
    aerr(
        "aiokafka-send-value-str",
        "aiokafka",
        lambda a: a.send("hostile", "v"),
        (TypeError, AssertionError, SER),
        "value",
    ),
    aerr(
        "aiokafka-send-partition-big",
        "aiokafka",
        lambda a: a.send("hostile", b"v", partition=BIG),
        (*PYARG, AssertionError),
        "partition",
    ),
    aok("aiokafka-flush", "aiokafka", lambda a: a.flush()),
    aok("aiokafka-partitions_for", "aiokafka", lambda a: a.partitions_for("hostile")),
    err(
        "aiokafka-new-10**30",
        "new",
        lambda b: _aiokafka(bootstrap_servers=b, max_batch_size=10**30),
        (ValueError, aio_errors.KafkaError, CONFIG),
        "max_batch_size",
    ),
]


def _masked(producer: Any) -> Any:
    """The shim shows no secret (issue 10, defect 10): its .config and its repr."""
    shown = f"{producer.config!r} {producer!r}"
    assert "hunter2" not in shown and "********" in shown, shown
    return producer


def _kafka(**configs: Any) -> Any:
    from kafkify.compat.kafka import KafkaProducer

    return KafkaProducer(**configs)


def _confluent(*args: Any) -> Any:
    from kafkify.compat.confluent_kafka import Producer

    return Producer(*args)


def _aiokafka(**configs: Any) -> Any:
    from kafkify.compat.aiokafka import AIOKafkaProducer

    return AIOKafkaProducer(**configs)
