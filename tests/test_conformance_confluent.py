"""kafkify.compat.confluent_kafka next to the real confluent-kafka (2.16): the same
calls on both in the same run, against the same broker where one is needed; the
expectation is what the real one does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import confluent_kafka

from kafkify.compat import confluent_kafka as shim

from helpers import closed_port, create_topic, read_back, run_script

PRODUCERS = {"real": confluent_kafka.Producer, "shim": shim.Producer}


def outcome(call: Callable[[], object]) -> tuple[str, str]:
    """What a call did: the exception's type name and message, or ``ok`` and the result."""
    try:
        result = call()
    except Exception as e:
        return type(e).__name__, str(e)
    return "ok", repr(result) if isinstance(result, bool | int) else type(result).__name__


def on_each(fn: Callable[[Any], object]) -> dict[str, object]:
    """``fn(Producer class)`` for the real producer and the shim's."""
    return {name: fn(cls) for name, cls in PRODUCERS.items()}


def test_no_configuration_is_a_type_error() -> None:
    calls: dict[str, Callable[[Any], object]] = {
        "no argument": lambda cls: cls(),
        "None": lambda cls: cls(None),
        "a string": lambda cls: cls("bootstrap.servers=x"),
        "a list": lambda cls: cls([("bootstrap.servers", "x")]),
    }
    for what, call in calls.items():
        seen = on_each(lambda cls, call=call: outcome(lambda: call(cls)))
        assert seen["shim"] == seen["real"], what
        assert seen["real"] == ("TypeError", "expected configuration dict"), what


def calls_after_close(p: Any) -> dict[str, Callable[[], object]]:
    """Every public call of confluent-kafka's Producer that the shim has too."""
    return {
        "produce": lambda: p.produce("t", b"x"),
        "produce_batch": lambda: p.produce_batch("t", [{"value": b"x"}]),
        "produce_batch([])": lambda: p.produce_batch("t", []),
        "poll": lambda: p.poll(0),
        "flush": lambda: p.flush(0),
        "len": lambda: len(p),
        "bool": lambda: bool(p),
        "list_topics": lambda: p.list_topics(timeout=1),
        "purge": lambda: p.purge(),
        "init_transactions": lambda: p.init_transactions(1),
        "begin_transaction": lambda: p.begin_transaction(),
        "commit_transaction": lambda: p.commit_transaction(1),
        "abort_transaction": lambda: p.abort_transaction(1),
        "send_offsets_to_transaction": lambda: p.send_offsets_to_transaction([], None, 1),
        "set_sasl_credentials": lambda: p.set_sasl_credentials("u", "p"),
        "close": lambda: p.close(),
        "close again": lambda: p.close(1),
        "__exit__": lambda: p.__exit__(None, None, None),
    }


def test_every_call_on_a_closed_producer(bootstrap: str) -> None:
    def after_close(cls: Any) -> dict[str, tuple[str, str]]:
        p = cls({"bootstrap.servers": bootstrap})
        assert p.close() is True
        return {name: outcome(call) for name, call in calls_after_close(p).items()}

    def after_with(cls: Any) -> dict[str, tuple[str, str]]:
        with cls({"bootstrap.servers": bootstrap}) as p:
            pass
        return {name: outcome(call) for name, call in calls_after_close(p).items()}

    for how in (after_close, after_with):
        seen = on_each(how)
        assert seen["shim"] == seen["real"]
    real = seen["real"]
    assert isinstance(real, dict)
    assert real["produce"] == ("RuntimeError", "Producer has been closed")
    assert real["list_topics"] == ("RuntimeError", "Handle has been closed")
    assert real["close again"] == ("ok", "True") and real["len"] == ("ok", "0")


def test_close_with_undeliverable_records_returns_true() -> None:
    def close(cls: Any) -> tuple[object, ...]:
        # Short message.timeout.ms: confluent-kafka's close() waits for it (issue 10).
        p = cls({"bootstrap.servers": f"127.0.0.1:{closed_port()}", "message.timeout.ms": 1000})
        p.produce("t", b"x")
        before = len(p) > 0
        return before, outcome(lambda: p.close(0.5)), len(p), outcome(lambda: p.poll(0))

    seen = on_each(close)
    assert seen["shim"] == seen["real"]
    assert seen["real"] == (
        True,
        ("ok", "True"),
        0,
        ("RuntimeError", "Producer has been closed"),
    )


def test_delivery_report_only_error(bootstrap: str) -> None:
    """Successes are done without a callback: flush() returns 0 and len() is 0;
    failures (here purged records) still reach their callback."""

    def run(cls: Any) -> tuple[object, ...]:
        topic = create_topic(bootstrap, 3)
        errors: list[int | None] = []

        def cb(err: Any, msg: Any) -> None:
            errors.append(err.code() if err is not None else None)

        p = cls({"bootstrap.servers": bootstrap, "delivery.report.only.error": True})
        for i in range(20):
            p.produce(topic, b"v%d" % i, on_delivery=cb)
            p.poll(0)
        flushed, left, served = p.flush(30), len(p), list(errors)
        delivered = len(read_back(bootstrap, topic, 20))
        lingering = cls(
            {"bootstrap.servers": bootstrap, "delivery.report.only.error": True, "linger.ms": 60000}
        )
        for _ in range(3):
            lingering.produce(topic, b"purged", callback=cb)
        lingering.purge()
        purged = (lingering.flush(30), len(lingering), errors[len(served) :])
        p.close()
        lingering.close()
        return flushed, left, served, delivered, purged

    seen = on_each(run)
    assert seen["shim"] == seen["real"]
    purge_queue = confluent_kafka.KafkaError._PURGE_QUEUE
    assert seen["real"] == (0, 0, [], 20, (0, 0, [purge_queue] * 3))


EXIT_WITH_UNDELIVERABLE = """
import sys
if sys.argv[2] == "real":
    from confluent_kafka import Producer
else:
    from kafkify.compat.confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1]})  # message.timeout.ms: 300 s
for i in range(3):
    p.produce("t", b"x")
p.poll(0)
print(len(p), flush=True)
"""


def test_exit_with_undeliverable_records_does_not_wait_for_the_delivery_timeout() -> None:
    """confluent-kafka exits at once, dropping them; the shim gives them the core's
    exit_timeout_ms (5 s), then reports them failed and logs how many were abandoned.
    The subprocess timeout (60 s, against message.timeout.ms's 300 s) is a hang guard."""
    dead = f"127.0.0.1:{closed_port()}"
    seen = {name: run_script(EXIT_WITH_UNDELIVERABLE, dead, name, timeout=60) for name in PRODUCERS}
    for name, proc in seen.items():
        assert proc.returncode == 0, (name, proc.stderr)
        assert proc.stdout.strip() == "3", (name, proc.stdout)
    assert "interpreter exit: 3 record(s) abandoned" in seen["shim"].stderr, seen["shim"].stderr
