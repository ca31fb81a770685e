"""Deep and re-entrant values cannot crash the JSON walker (issue 10, defect 1).

Too deep raises ``SerializationRecursionError``: a ``SerializationError`` naming the
path, and the ``RecursionError`` that ``json.dumps`` raises for the same inputs
(``src/serialize/json/``, ``src/serialize/stack.rs``). Each case that crashed
the interpreter before runs in a subprocess, so a crash fails the test (exit code
-11) instead of killing pytest, and runs the real ``json.dumps`` on the same input
beside kafkify, through ``kafkify.dumps`` and through a producer's
``produce``/``send`` on ``kafkify.testing.MockCluster``.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

import kafkify

from helpers import run_script

# Shared by the child scripts: what each call did, as JSON the test can read.
PRELUDE = """
import json, sys, threading
import kafkify
from kafkify.testing import MockCluster

def outcome(fn):
    try:
        out = fn()
    except BaseException as e:
        return {"raised": type(e).__name__, "recursion": isinstance(e, RecursionError),
                "serialization": isinstance(e, kafkify.SerializationError), "message": str(e)}
    return {"ok": out.decode() if isinstance(out, bytes) else out}

def nest(levels):
    v = 1
    for _ in range(levels):
        v = [v]
    return v

class Node:
    # Written by a default= callback that serializes `inner` with a nested dumps call.
    def __init__(self, inner):
        self.inner = inner

def chain(reentries, levels):
    # `reentries` Nodes, each under `levels` lists: each Node re-enters dumps.
    v = 1
    for _ in range(reentries):
        v = Node(v)
        for _ in range(levels):
            v = [v]
    return v

def in_thread(kib, fn):
    threading.stack_size(kib * 1024)
    box = []
    t = threading.Thread(target=lambda: box.append(fn()))
    t.start()
    t.join()
    threading.stack_size(0)
    return box[0]

def report(**results):
    print(json.dumps(results))
"""


def run(code: str) -> dict[str, Any]:
    done = run_script(PRELUDE + textwrap.dedent(code), timeout=180)
    assert done.returncode == 0, f"exit {done.returncode} (-11: a crash)\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.splitlines()[-1])


def too_deep(result: dict[str, Any], reason: str) -> None:
    assert result.get("raised") == "SerializationRecursionError", result
    assert result["recursion"] and result["serialization"], result
    assert result["message"].startswith("value"), result["message"][:200]
    assert result["message"].endswith(reason), result["message"][-300:]


RECURSION_LIMIT = "maximum recursion depth exceeded while encoding a JSON object"


def test_a_default_that_calls_dumps_again_raises_recursion_error_like_json_dumps() -> None:
    # 77 re-entries of 250 levels each crashed the interpreter (8 MiB main stack).
    r = run("""
        value = chain(77, 250)
        def k_default(o):
            return len(kafkify.dumps(o.inner, default=k_default))
        def j_default(o):
            return len(json.dumps(o.inner, default=j_default))
        report(
            kafkify=outcome(lambda: kafkify.dumps(value, default=k_default)),
            json=outcome(lambda: json.dumps(value, default=j_default)),
        )
    """)
    assert r["json"]["raised"] == "RecursionError", r["json"]
    assert r["json"]["message"] == RECURSION_LIMIT
    too_deep(r["kafkify"], RECURSION_LIMIT)
    # The innermost call's path, passed on once (not wrapped once per re-entry).
    assert r["kafkify"]["message"].startswith("value[0][0][0]")
    assert "default() raised" not in r["kafkify"]["message"]


def test_a_recursion_error_inside_default_is_reported_once_with_the_path() -> None:
    r = run("""
        value = {"a": [chain(1, 0)]}
        def forever(o):
            return forever(o)
        def again(o):
            return len(kafkify.dumps(o, default=again))  # the same object, re-entering
        def j_again(o):
            return len(json.dumps(o, default=j_again))
        report(
            kafkify=outcome(lambda: kafkify.dumps(value, default=forever)),
            json=outcome(lambda: json.dumps(value, default=forever)),
            kafkify_again=outcome(lambda: kafkify.dumps(value, default=again)),
            json_again=outcome(lambda: json.dumps(value, default=j_again)),
        )
    """)
    assert r["json"]["raised"] == r["json_again"]["raised"] == "RecursionError", r
    # Raised in default()'s own Python code: wrapped once, under the path.
    too_deep(r["kafkify"], "maximum recursion depth exceeded")
    assert r["kafkify"]["message"].startswith(
        "value['a'][0]: default() raised RecursionError: maximum recursion depth exceeded"
    )
    # Raised by the innermost of many re-entrant dumps calls: passed on as it is,
    # not wrapped once per re-entry.
    again = r["kafkify_again"]
    assert again["raised"] == "SerializationRecursionError" and again["recursion"], again
    assert again["message"].count("maximum recursion depth exceeded") == 1, again["message"]
    assert len(again["message"]) < 300, again["message"]


def test_a_reentrant_default_through_a_producer_raises_and_the_producer_goes_on() -> None:
    r = run("""
        def default(o):
            return len(kafkify.dumps(o.inner, default=default))
        results = {}
        with MockCluster(num_brokers=1) as cluster:
            cluster.create_topic("deep")
            with cluster.producer(json_default=default) as producer:
                results["produce"] = outcome(lambda: producer.produce("deep", chain(77, 250)))
                results["send"] = outcome(lambda: producer.send("deep", chain(77, 250)))
                results["batch"] = outcome(
                    lambda: producer.send_batch("deep", [1, chain(77, 250)]) and None)
                results["after"] = outcome(lambda: producer.send("deep", chain(2, 1)).offset)
            results["records"] = [r.value.decode() for r in cluster.records("deep")]
        report(**results)
    """)
    too_deep(r["produce"], RECURSION_LIMIT)
    too_deep(r["send"], RECURSION_LIMIT)
    assert r["batch"]["raised"] == "SerializationRecursionError", r["batch"]
    assert r["batch"]["message"].startswith("values[1]: value[0]"), r["batch"]["message"][:80]
    assert r["after"] == {"ok": 0}  # nothing of the batch was queued
    assert r["records"] == ["[3]"]  # the outer Node: len(b"[1]"), the inner: len(b"1")


def test_254_levels_on_a_64_kib_thread_work_as_with_json_dumps() -> None:
    # Crashed the thread before: the walker took ~450 bytes a level, now ~190.
    r = run("""
        value = nest(254)
        results = {
            "kafkify": in_thread(64, lambda: outcome(lambda: kafkify.dumps(value))),
            "json": in_thread(64, lambda: outcome(
                lambda: json.dumps(value, separators=(",", ":")))),
        }
        with MockCluster(num_brokers=1) as cluster:
            cluster.create_topic("deep")
            with cluster.producer() as producer:
                results["produce"] = in_thread(
                    64, lambda: outcome(lambda: producer.produce("deep", value)))
                results["send"] = in_thread(
                    64, lambda: outcome(lambda: producer.send("deep", value).offset))
            results["records"] = [r.value.decode() for r in cluster.records("deep")]
        report(**results)
    """)
    expected = "[" * 254 + "1" + "]" * 254
    assert r["json"] == {"ok": expected}
    assert r["kafkify"] == {"ok": expected}
    assert r["produce"] == {"ok": None}
    assert r["send"] == {"ok": 1}
    assert r["records"] == [expected, expected]


def test_a_thread_stack_too_small_for_the_value_raises_instead_of_crashing() -> None:
    # 32 KiB (threading's minimum) holds ~100 levels: the walker stops short of the
    # end of the stack. (json.dumps crashes here before Python 3.14, so it is not run.)
    r = run("""
        value = nest(254)
        def default(o):
            return len(kafkify.dumps(o.inner, default=default))
        results = {
            "kafkify": in_thread(32, lambda: outcome(lambda: kafkify.dumps(value))),
            "reentrant": in_thread(
                32, lambda: outcome(lambda: kafkify.dumps(chain(20, 10), default=default))),
            "shallow": in_thread(32, lambda: outcome(lambda: kafkify.dumps(nest(20)))),
        }
        with MockCluster(num_brokers=1) as cluster:
            with cluster.producer() as producer:
                results["produce"] = in_thread(
                    32, lambda: outcome(lambda: producer.produce("deep", value)))
                results["send"] = in_thread(
                    32, lambda: outcome(lambda: producer.send("deep", value)))
        report(**results)
    """)
    stack = "nesting too deep for this thread's native stack (32 KiB)"
    too_deep(r["kafkify"], stack)
    too_deep(r["reentrant"], stack)
    too_deep(r["produce"], stack)
    too_deep(r["send"], stack)
    assert r["shallow"] == {"ok": "[" * 20 + "1" + "]" * 20}


def test_a_raised_recursion_limit_cannot_crash_the_main_thread() -> None:
    # With the limit out of the way only the native stack check stands between a
    # re-entrant default and a crash of the 8 MiB main thread.
    r = run("""
        sys.setrecursionlimit(1_000_000)
        def default(o):
            return len(kafkify.dumps(o.inner, default=default))
        report(
            nested=outcome(lambda: kafkify.dumps(chain(1000, 250), default=default)),
            flat=outcome(lambda: kafkify.dumps(chain(100_000, 0), default=default)),
        )
    """)
    for result in r.values():
        assert result.get("raised") == "SerializationRecursionError", result
        assert "nesting too deep for this thread's native stack" in result["message"], result


def test_the_nesting_limit_is_a_recursion_error_too() -> None:
    deep = run("""
        value = nest(1100)
        report(
            kafkify=outcome(lambda: kafkify.dumps(value)),
            json=outcome(lambda: json.dumps(value)),
            limit=outcome(lambda: kafkify.dumps(nest(256))),
        )
    """)
    # Past the recursion limit json.dumps raises RecursionError; kafkify stops at
    # its own limit of 255 levels (orjson's is 254), with the same type.
    assert deep["json"]["raised"] == "RecursionError", deep["json"]
    too_deep(deep["kafkify"], "nesting deeper than 255 levels")
    assert deep["kafkify"]["message"].startswith("value" + "[0]" * 255 + ":")
    too_deep(deep["limit"], "nesting deeper than 255 levels")
    assert issubclass(kafkify.SerializationRecursionError, kafkify.SerializationError)
    assert issubclass(kafkify.SerializationRecursionError, RecursionError)
