"""The idempotent producer's id is asked for as soon as a broker is up (src/warmup.rs):
a `kafkify-warmup` thread per new producer, which ends by itself once a broker has
answered, and is ended by close() when none does; and start() asks the same way.
Its effect on the first record's latency is measured in benches/ (issue 12, h),
not here: no timing thresholds in tests."""

from __future__ import annotations

import asyncio
import os
import time

import kafkify

from helpers import closed_port, read_back


def warmup_threads() -> int:
    """This process's threads named kafkify-warmup (from /proc: native threads)."""
    names = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/comm") as f:
                names.append(f.read().strip())
        except FileNotFoundError:  # the thread ended while we looked
            pass
    return names.count("kafkify-warmup")


def settled(expected: int) -> int:
    """The warmup thread count once it is `expected`, or after a hang guard of 30 s."""
    for _ in range(3000):
        if warmup_threads() == expected:
            break
        time.sleep(0.01)
    return warmup_threads()


def test_the_warmup_thread_ends_once_a_broker_answered(bootstrap: str, topic: str) -> None:
    before = warmup_threads()
    p = kafkify.Producer(bootstrap_servers=bootstrap)
    assert settled(before) == before  # done, while the producer stays open
    meta = p.send(topic, {"first": True})
    p.close()
    assert [r.value for r in read_back(bootstrap, topic, expected=1)] == [b'{"first":true}']
    assert meta.offset == 0


def test_close_ends_the_warmup_thread_when_no_broker_answers() -> None:
    before = warmup_threads()
    p = kafkify.Producer(bootstrap_servers=f"127.0.0.1:{closed_port()}")
    assert settled(before + 1) == before + 1  # still asking: nobody answers (named once it runs)
    p.close()
    assert warmup_threads() == before  # joined by close(), not left to run 30 s


def test_no_warmup_thread_without_idempotence_or_with_transactions(bootstrap: str) -> None:
    before = warmup_threads()
    dead = f"127.0.0.1:{closed_port()}"
    plain = kafkify.Producer(bootstrap_servers=dead, enable_idempotence=False)
    transactional = kafkify.Producer(bootstrap_servers=dead, transactional_id="warmup-test")
    assert warmup_threads() == before  # a transactional producer asks in init_transactions
    plain.close()
    transactional.close()


def test_start_returns_with_the_producer_id_asked_for_and_sends(bootstrap: str, topic: str) -> None:
    async def main() -> kafkify.RecordMetadata:
        async with await kafkify.Producer(bootstrap_servers=bootstrap).start() as p:
            return await p.send_async(topic, {"after": "start"})

    meta = asyncio.run(main())
    assert (meta.topic, meta.offset) == (topic, 0)
    assert [r.value for r in read_back(bootstrap, topic, expected=1)] == [b'{"after":"start"}']
