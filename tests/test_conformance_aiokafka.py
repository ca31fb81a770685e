"""kafkify.compat.aiokafka against the real aiokafka 0.14, call for call.

Each test runs twice, once per client (the ``client`` fixture: ``aiokafka`` is the real
package, ``kafkify`` the shim), with the same calls, in the style of aiokafka's
documentation (``producer = AIOKafkaProducer(...)``, ``await producer.start()``, ...),
against the same broker where one is needed. The assertions are what aiokafka was
observed to do; the shim passes when it does the same:

- invalid constructor arguments raise ``ValueError`` with aiokafka's message, in the
  order aiokafka checks them; an unknown keyword is a ``TypeError``;
- ``loop=`` and ``api_version=`` warn ``DeprecationWarning`` (aiokafka's messages,
  pointing at the caller's line);
- a producer garbage-collected without ``stop()`` (started or not) warns
  ``ResourceWarning("Unclosed AIOKafkaProducer ...")`` and reports itself to the
  loop's exception handler;
- ``producer._closed``: False before and after ``start()``, True after ``stop()``;
- with ``acks=0`` the futures of ``send``/``send_batch`` (and ``send_and_wait``)
  resolve to None, while the records are written;
- a producer fenced by a newer one with its ``transactional_id`` raises
  ``errors.ProducerFenced`` (with aiokafka's message) inside its
  ``async with producer.transaction()`` block.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import re
import types
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiokafka
import aiokafka.errors
import pytest

import kafkify.compat.aiokafka
import kafkify.compat.aiokafka.errors

from helpers import create_topic, read_back

CLIENTS = {
    "aiokafka": (aiokafka.AIOKafkaProducer, aiokafka.errors),
    "kafkify": (kafkify.compat.aiokafka.AIOKafkaProducer, kafkify.compat.aiokafka.errors),
}


@pytest.fixture(params=list(CLIENTS))
def client(request: pytest.FixtureRequest) -> types.SimpleNamespace:
    """``client.AIOKafkaProducer`` and ``client.errors``: the real aiokafka's, or the shim's."""
    producer_class, errors = CLIENTS[request.param]
    return types.SimpleNamespace(name=request.param, AIOKafkaProducer=producer_class, errors=errors)


# aiokafka 0.14's AIOKafkaProducer.__init__ and AIOKafkaClient.__init__ checks.
INVALID: dict[str, tuple[dict[str, Any], str]] = {
    "acks=122": ({"acks": 122}, "Invalid ACKS parameter"),
    "acks='1'": ({"acks": "1"}, "Invalid ACKS parameter"),
    "acks=None": ({"acks": None}, "Invalid ACKS parameter"),
    "compression my_custom": ({"compression_type": "my_custom"}, "Invalid compression type!"),
    "compression 'none'": ({"compression_type": "none"}, "Invalid compression type!"),
    "idempotence, acks=1": (
        {"enable_idempotence": True, "acks": 1},
        "acks=1 not supported if enable_idempotence=True",
    ),
    "transactional, acks=0": (
        {"transactional_id": "t", "acks": 0},
        "acks=0 not supported if enable_idempotence=True",
    ),
    "security_protocol SOME": (
        {"security_protocol": "SOME"},
        "`security_protocol` should be SSL or PLAINTEXT",
    ),
    "security_protocol lowercase": (
        {"security_protocol": "ssl"},
        "`security_protocol` should be SSL or PLAINTEXT",
    ),
    "SSL without ssl_context": (
        {"security_protocol": "SSL"},
        "`ssl_context` is mandatory if security_protocol=='SSL'",
    ),
    "SASL_SSL without ssl_context": (
        {"security_protocol": "SASL_SSL", "sasl_plain_username": "u", "sasl_plain_password": "p"},
        "`ssl_context` is mandatory if security_protocol=='SSL'",
    ),
    "unknown sasl_mechanism": (
        {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "FOO"},
        "only `PLAIN`, `GSSAPI`, `SCRAM-SHA-256`, `SCRAM-SHA-512` and `OAUTHBEARER`"
        "sasl_mechanism are supported at the moment",
    ),
    "PLAIN without password": (
        {"security_protocol": "SASL_PLAINTEXT", "sasl_plain_username": "u"},
        "sasl_plain_username and sasl_plain_password required for PLAIN sasl",
    ),
    # the first failing check wins: acks before compression before security_protocol
    "acks and compression": (
        {"acks": 122, "compression_type": "my_custom", "security_protocol": "SOME"},
        "Invalid ACKS parameter",
    ),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_arguments_raise_aiokafkas_value_error(
    client: types.SimpleNamespace, case: str
) -> None:
    """What aiokafka's constructor rejects, the shim rejects: ``ValueError`` with the
    same message (code catching ``ValueError``, or matching its text, keeps working)."""
    options, message = INVALID[case]

    async def main() -> None:
        with pytest.raises(ValueError) as raised:
            client.AIOKafkaProducer(bootstrap_servers="127.0.0.1:9", **options)
        assert str(raised.value) == message

    asyncio.run(main())


def test_accepted_arguments_and_unknown_keyword(client: types.SimpleNamespace) -> None:
    """The valid neighbours of those values construct (and stop) on both; a keyword
    aiokafka does not take is a ``TypeError`` on both (the shim's is also its
    ``KafkaConfigurationError``, as kafka-python's shim raises)."""

    async def main() -> None:
        for options in (
            {"acks": 0},
            {"acks": -1},
            {"acks": "all", "compression_type": "gzip"},
            {"enable_idempotence": True, "acks": "all"},
            {"transactional_id": "t", "acks": -1},
            {"security_protocol": "PLAINTEXT"},
            {
                "security_protocol": "SASL_PLAINTEXT",
                "sasl_mechanism": "SCRAM-SHA-256",
                "sasl_plain_username": "u",
                "sasl_plain_password": "p",
            },
        ):
            producer = client.AIOKafkaProducer(bootstrap_servers="127.0.0.1:9", **options)
            await producer.stop()
        with pytest.raises(TypeError, match="bogus"):
            client.AIOKafkaProducer(bootstrap_servers="127.0.0.1:9", bogus=1)

    asyncio.run(main())


def test_loop_and_api_version_are_deprecated(client: types.SimpleNamespace, bootstrap: str) -> None:
    """``loop=`` (and ``api_version=``) warn ``DeprecationWarning`` with aiokafka's
    message, attributed to the caller's line (``stacklevel=2``); the producer then works
    on the running loop. ``loop=None`` warns nothing (filterwarnings=error would fail)."""
    topic = create_topic(bootstrap, 1, prefix="aio-loop")

    async def main() -> int:
        loop = asyncio.get_running_loop()
        with pytest.warns(DeprecationWarning) as warned:
            producer = client.AIOKafkaProducer(bootstrap_servers=bootstrap, loop=loop)
        assert [str(w.message) for w in warned] == [
            "The `loop` parameter has been deprecated since 0.7.1 "
            "and will be removed in a future release."
        ]
        assert warned[0].filename == __file__
        with pytest.warns(DeprecationWarning, match=re.escape("`api_version`")) as warned:
            await client.AIOKafkaProducer(bootstrap_servers=bootstrap, api_version="2.5").stop()
        assert warned[0].filename == __file__
        await client.AIOKafkaProducer(bootstrap_servers=bootstrap, loop=None).stop()
        await producer.start()
        try:
            meta = await producer.send_and_wait(topic, b"with loop=")
            return int(meta.offset)
        finally:
            await producer.stop()

    offset = asyncio.run(main())
    assert [(r.offset, r.value) for r in read_back(bootstrap, topic, 1)] == [
        (offset, b"with loop=")
    ]


def resources_of(producer: Any) -> Callable[[], Awaitable[None]]:
    """What to close once ``producer`` is collected without ``stop()``, so the test
    leaves nothing running: the real aiokafka's sender task and connections (which do
    not keep the producer alive), the shim's core producer."""
    if isinstance(producer, aiokafka.AIOKafkaProducer):
        sender, connections = producer._sender, producer.client

        async def close() -> None:
            with contextlib.suppress(asyncio.CancelledError):
                await sender.close()  # cancels the sender task, which re-raises that
            await connections.close()

        return close
    core = producer._producer

    async def close_core() -> None:
        core.close()

    return close_core


@pytest.mark.parametrize("started", [True, False], ids=["started", "never started"])
def test_unclosed_producer_warns_resource_warning(
    client: types.SimpleNamespace, bootstrap: str, started: bool
) -> None:
    """A producer collected without ``stop()``, whether started or not (aiokafka's
    ``__del__`` checks only ``_closed``), warns ``ResourceWarning`` "Unclosed
    AIOKafkaProducer <repr>" and calls the loop's exception handler with
    ``{"producer", "message": "Unclosed AIOKafkaProducer"}``."""
    reported: list[dict[str, Any]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, context: reported.append(context))
        producer = client.AIOKafkaProducer(bootstrap_servers=bootstrap)
        if started:
            await producer.start()
        close = resources_of(producer)
        gc.collect()  # earlier garbage first: only this producer's warning below
        with pytest.warns(ResourceWarning) as warned:
            del producer
            gc.collect()
        await close()
        unclosed = [str(w.message) for w in warned if "AIOKafkaProducer" in str(w.message)]
        assert len(unclosed) == 1
        assert re.fullmatch(
            r"Unclosed AIOKafkaProducer <.*AIOKafkaProducer object at .*>", unclosed[0]
        )
        assert [(sorted(c), c["message"]) for c in reported if "producer" in c] == [
            (["message", "producer"], "Unclosed AIOKafkaProducer")
        ]

    asyncio.run(main())


def test_closed_attribute(client: types.SimpleNamespace, bootstrap: str) -> None:
    """``producer._closed`` is False before ``start()`` and after it, True after
    ``stop()`` (a second ``stop()`` is a no-op); a stopped producer's ``send`` raises
    ``ProducerClosed`` (aiokafka: for a topic whose metadata it has; for another its
    ``send`` waits for metadata, which a closed client never gets)."""
    topic = create_topic(bootstrap, 1, prefix="aio-closed")

    async def main() -> None:
        producer = client.AIOKafkaProducer(bootstrap_servers=bootstrap)
        assert producer._closed is False
        await producer.start()
        assert producer._closed is False
        await producer.send_and_wait(topic, b"x")
        await producer.stop()
        assert producer._closed is True
        await producer.stop()
        assert producer._closed is True
        with pytest.raises(client.errors.ProducerClosed):
            await producer.send(topic, b"x")

    asyncio.run(main())


def test_send_needs_a_key_or_a_value(client: types.SimpleNamespace, bootstrap: str) -> None:
    """``send(topic)`` with neither key nor value is an ``AssertionError`` ("Need at
    least one: key or value"), before anything is sent; a tombstone (key, no value)
    is fine."""
    topic = create_topic(bootstrap, 1, prefix="aio-tombstone")

    async def main() -> None:
        async with client.AIOKafkaProducer(bootstrap_servers=bootstrap) as producer:
            with pytest.raises(AssertionError, match=r"^Need at least one: key or value$"):
                await producer.send(topic)
            await producer.send_and_wait(topic, None, key=b"k")

    asyncio.run(main())
    assert [(r.key, r.value) for r in read_back(bootstrap, topic, 1)] == [(b"k", None)]


def test_acks_0_futures_resolve_to_none(client: types.SimpleNamespace, bootstrap: str) -> None:
    """With ``acks=0`` the broker acknowledges nothing: ``send``'s future,
    ``send_batch``'s future and ``send_and_wait`` give None, and the records are on the
    broker all the same."""
    topic = create_topic(bootstrap, 1, prefix="aio-acks0")

    async def main() -> list[Any]:
        producer = client.AIOKafkaProducer(bootstrap_servers=bootstrap, acks=0)
        await producer.start()
        try:
            future = await producer.send(topic, b"send", partition=0)
            batch = producer.create_batch()
            batch.append(key=None, value=b"batch", timestamp=None)
            batch_future = await producer.send_batch(batch, topic, partition=0)
            results = [await future, await batch_future]
            results.append(await producer.send_and_wait(topic, b"send_and_wait", partition=0))
            return results
        finally:
            await producer.stop()

    assert asyncio.run(main()) == [None, None, None]
    values = [r.value for r in read_back(bootstrap, topic, 3)]
    assert values == [b"send", b"batch", b"send_and_wait"]


def test_fenced_producer_raises_producer_fenced_in_its_transaction(
    client: types.SimpleNamespace, bootstrap: str
) -> None:
    """Two producers with one ``transactional_id``: once the newer has started, the
    older's next ``async with producer.transaction()`` block raises
    ``errors.ProducerFenced`` (aiokafka's class and message; aiokafka raises it from
    the send in the block and does not abort). The newer's transaction commits; only
    the committed records are read back."""
    topic = create_topic(bootstrap, 1, prefix="aio-fenced")
    transactional_id = f"aio-fenced-{client.name}-{uuid.uuid4().hex[:8]}"

    async def main() -> BaseException:
        options = {"bootstrap_servers": bootstrap, "transactional_id": transactional_id}
        old = client.AIOKafkaProducer(**options)
        await old.start()
        async with old.transaction():
            await old.send_and_wait(topic, b"old, committed")
        new = client.AIOKafkaProducer(**options)
        await new.start()
        try:
            with pytest.raises(client.errors.ProducerFenced) as fenced:
                async with old.transaction():
                    await old.send_and_wait(topic, b"old, fenced")
            async with new.transaction():
                await new.send_and_wait(topic, b"new, committed")
        finally:
            await old.stop()
            await new.stop()
        return fenced.value

    fenced = asyncio.run(main())
    assert type(fenced).__name__ == "ProducerFenced"
    assert str(fenced) == (
        "ProducerFenced: There is a newer producer using the same transactional_id or"
        "transaction timeout occurred (check that processing time is below "
        "transaction_timeout_ms)"
    )
    values = sorted(r.value for r in read_back(bootstrap, topic, 2))
    assert values == [b"new, committed", b"old, committed"]
