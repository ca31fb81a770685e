"""Hypothesis fuzz of kafkify's public API (issue 10): random arguments to every public
method of ``kafkify.Producer``, ``kafkify.dumps``, ``kafkify.testing.MockCluster`` and
the three shims may raise any ``Exception`` (the matrix, tests/test_hostile.py, pins
which one), never another ``BaseException``: above all never pyo3's
``PanicException``.

Reproducible in CI: ``derandomize=True`` and no example database, and the example
counts are bounded so the file runs in well under a minute. ``FUZZED`` lists what is
fuzzed here; tests/test_hostile.py's ``test_every_public_callable_has_a_case`` checks
every public callable is in it or in the matrix.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import kafkify
from kafkify.compat.aiokafka import AIOKafkaProducer
from kafkify.compat.confluent_kafka import Producer as ConfluentProducer
from kafkify.compat.kafka import KafkaProducer
from kafkify.testing import MockCluster

FUZZ = settings(
    derandomize=True,
    database=None,
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FEW = settings(FUZZ, max_examples=15)
#: For calls whose failure may be a hang: report the first failing example as found
#: (shrinking would rerun it, each time waiting out the hang guard).
NO_SHRINK = settings(FEW, phases=(Phase.explicit, Phase.reuse, Phase.generate))


def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``: any Exception is an answer; anything else is the bug we hunt."""
    try:
        result = fn(*args, **kwargs)
        if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
            raise AssertionError("use acall for awaitables")
        return result
    except Exception:
        return None
    except BaseException as e:
        raise AssertionError(f"{type(e).__name__} escaped {fn.__name__}: {e!r}") from e


#: An awaitable that has not resolved after this long never will (each call here
#: resolves in milliseconds on the mock cluster): fail rather than hang the run.
HANG_GUARD = 10.0


class Unresolved(AssertionError):
    """An awaitable the API returned never resolved (a hang, not an answer)."""


def acall(make: Callable[[], Any]) -> None:
    """Run ``make()`` (which returns an awaitable) on a fresh loop, as ``call`` does."""

    async def run() -> None:
        awaitable = make()
        try:
            await asyncio.wait_for(awaitable, HANG_GUARD)
        except TimeoutError as e:
            raise Unresolved(f"{make} did not resolve within {HANG_GUARD} s") from e

    try:
        asyncio.run(run())
    except Unresolved:
        raise
    except Exception:
        pass
    except BaseException as e:
        raise AssertionError(f"{type(e).__name__} escaped: {e!r}") from e


# --- strategies: the hostile values of the matrix, at random ---------------------------

NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 2**31, 2**63, 2**64, 10**30, 1e19, 1e300, 1e308, -0.0]),
)
#: Timeouts that never make a healthy call wait long: a record to the mock cluster is
#: acknowledged in milliseconds, so even "no limit" returns at once.
TIMEOUTS = st.one_of(st.none(), NUMBERS, st.text(max_size=3), st.just(object()))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=20), st.binary(max_size=20))
JSONISH = st.recursive(
    SCALARS | st.builds(bytearray, st.binary(max_size=8)) | st.just(object()),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.one_of(st.text(max_size=5), st.integers(), st.none()), inner, max_size=4
        )
        | st.tuples(inner, inner)
        | st.frozensets(st.integers(), max_size=3)
    ),
    max_leaves=12,
)
ANY = st.one_of(JSONISH, st.builds(memoryview, st.binary(max_size=8)))
TOPICS = st.one_of(
    st.sampled_from(["fuzz", "fuzz-2", "fuzz.a_b"]),
    st.text(max_size=12),
    st.sampled_from(["", "..", "a b", "t" * 300, "a\0b", "\ud800"]),
    SCALARS,
)
HEADERS = st.one_of(
    st.none(),
    st.dictionaries(
        st.text(max_size=5), st.one_of(st.binary(max_size=5), st.text(max_size=5), st.none())
    ),
    st.lists(st.tuples(st.one_of(st.text(max_size=5), st.integers()), ANY), max_size=3),
    ANY,
)
PARTITIONS = st.one_of(st.none(), st.integers(-3, 5), NUMBERS, st.text(max_size=2))
BOOLS = st.one_of(st.booleans(), SCALARS)
OFFSETS = st.one_of(
    ANY,
    st.lists(
        st.tuples(TOPICS, PARTITIONS, NUMBERS) | st.tuples(TOPICS, PARTITIONS, NUMBERS, ANY),
        max_size=3,
    ),
)

#: Producer options with hostile values (the constructor and ``from_config``).
OPTION_NAMES = st.sampled_from(
    [
        "batch_size",
        "linger_ms",
        "acks",
        "retries",
        "buffer_memory",
        "compression_type",
        "delivery_timeout_ms",
        "request_timeout_ms",
        "max_in_flight_requests_per_connection",
        "enable_idempotence",
        "client_id",
        "sasl_plain_password",
        "max_block_ms",
        "value_serializer",
        "key_serializer",
        "json_default",
        "on_error",
        "on_stats",
        "log_deliveries",
        "statistics_interval_ms",
        "partitioner",
        "queue.buffering.max.kbytes",
        "no_such_option",
    ]
)
OPTIONS = st.dictionaries(OPTION_NAMES, ANY, max_size=3)


# --- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[MockCluster]:
    with MockCluster(num_brokers=1) as c:
        yield c


@pytest.fixture(scope="module")
def producer(cluster: MockCluster) -> Iterator[kafkify.Producer]:
    with cluster.producer(linger_ms=0) as p:
        yield p
        p.flush(30)
        counts = p.metrics()["kafkify"]
        assert counts["sent"] == counts["delivered"] + counts["failed"], counts


# --- kafkify.Producer ------------------------------------------------------------------


@FUZZ
@given(
    method=st.sampled_from(["send", "produce"]),
    topic=TOPICS,
    value=ANY,
    key=ANY,
    headers=HEADERS,
    partition=PARTITIONS,
    timestamp_ms=st.one_of(st.none(), NUMBERS),
    extra=st.one_of(TIMEOUTS, st.just(lambda e, m: None), ANY),
)
def test_send_and_produce(producer: kafkify.Producer, method: str, extra: Any, **kw: Any) -> None:
    if method == "send":
        call(producer.send, **kw, timeout=extra)
    else:
        call(producer.produce, **kw, on_delivery=extra)


@FEW
@given(
    method=st.sampled_from(["send_async", "send_batch_async"]),
    topic=TOPICS,
    value=ANY,
    key=ANY,
    headers=HEADERS,
    partition=PARTITIONS,
    timeout=TIMEOUTS,
)
def test_async_sends(
    producer: kafkify.Producer, method: str, value: Any, key: Any, timeout: Any, **kw: Any
) -> None:
    if method == "send_async":
        acall(lambda: producer.send_async(value=value, key=key, timeout=timeout, **kw))
    else:
        values = value if isinstance(value, list) else [value]
        acall(lambda: producer.send_batch_async(values=values, keys=key, **kw))


@FUZZ
@given(
    topic=TOPICS,
    values=st.one_of(st.lists(ANY, max_size=5), ANY),
    keys=st.one_of(st.none(), st.lists(ANY, max_size=5), ANY),
    headers=HEADERS,
    partition=PARTITIONS,
    timeout=TIMEOUTS,
    raise_on_error=BOOLS,
)
def test_send_batch(producer: kafkify.Producer, **kw: Any) -> None:
    call(producer.send_batch, **kw)


#: The core producer's calls fuzzed with random arguments (besides the sends).
CORE_CALLS = [
    "flush",
    "list_topics",
    "partitions_for",
    "purge",
    "metrics",
    "init_transactions",
    "begin_transaction",
    "commit_transaction",
    "abort_transaction",
    "send_offsets_to_transaction",
    "transaction",
]


@FUZZ
@given(
    method=st.sampled_from(CORE_CALLS),
    a=st.one_of(TIMEOUTS, TOPICS, OFFSETS, BOOLS),
    b=st.one_of(TIMEOUTS, TOPICS, BOOLS),
    c=st.one_of(TIMEOUTS, BOOLS),
    arity=st.integers(0, 3),
)
def test_other_methods(
    producer: kafkify.Producer, method: str, a: Any, b: Any, c: Any, arity: int
) -> None:
    call(getattr(producer, method), *[a, b, c][:arity])


@NO_SHRINK
@given(start=TIMEOUTS, stop=TIMEOUTS, close=TIMEOUTS)
def test_lifecycle(cluster: MockCluster, start: Any, stop: Any, close: Any) -> None:
    p = cluster.producer(linger_ms=0)
    try:
        acall(lambda: p.start(start))
        acall(lambda: p.stop(stop))
        call(p.close, close)
    finally:
        p.close()


@FUZZ
@given(servers=st.one_of(st.none(), st.just("{cluster}"), SCALARS), options=OPTIONS)
def test_constructor_and_from_config(cluster: MockCluster, servers: Any, options: Any) -> None:
    if servers == "{cluster}":
        servers = cluster.bootstrap_servers
    for made in (
        call(kafkify.Producer, servers, **options),
        call(kafkify.Producer.from_config, {"bootstrap_servers": servers, **options}),
    ):
        if made is not None:
            made.close(0)


# --- kafkify.dumps and the module's functions -----------------------------------------


@FUZZ
@given(value=ANY, default=st.one_of(st.none(), st.just(str), st.just(repr), ANY), sort=BOOLS)
def test_dumps(value: Any, default: Any, sort: Any) -> None:
    call(kafkify.dumps, value, default=default, sort_keys=sort)


#: kafkify's module functions fuzzed with random arguments (``dumps`` has its own).
MODULE_FUNCTIONS = ["librdkafka_version", "librdkafka_features", "librdkafka_error_codes"]


@FEW
@given(
    name=st.sampled_from(MODULE_FUNCTIONS),
    args=st.lists(ANY, max_size=2),
)
def test_module_functions(name: str, args: list[Any]) -> None:
    call(getattr(kafkify, name), *args)


# --- kafkify.testing.MockCluster (its own cluster: faults must not reach the producer) --


#: MockCluster's calls fuzzed with random arguments.
MOCK_CALLS = [
    "create_topic",
    "set_leader",
    "broker_down",
    "broker_up",
    "set_rtt",
    "push_request_errors",
    "clear_request_errors",
    "records",
    "producer",
]


@FEW
@given(
    method=st.sampled_from(MOCK_CALLS),
    args=st.lists(
        st.one_of(TOPICS, NUMBERS, st.lists(st.one_of(st.text(max_size=8), NUMBERS))), max_size=3
    ),
)
def test_mock_cluster(method: str, args: list[Any]) -> None:
    with MockCluster(num_brokers=2) as c:
        if method == "records":
            args = [*args[:1], 0.5]  # bound the wait; the timeout itself is fuzzed below
        made = call(getattr(c, method), *args)
        if isinstance(made, kafkify.Producer):
            made.close(0)
    call(MockCluster, *args[:1])


@FEW
@given(num_brokers=st.one_of(NUMBERS, SCALARS), timeout=TIMEOUTS)
def test_mock_cluster_new_and_records(cluster: MockCluster, num_brokers: Any, timeout: Any) -> None:
    made = call(MockCluster, num_brokers)
    if made is not None:
        made.close()
    call(cluster.records, "fuzz", timeout)


# --- the shims ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kafka_shim(cluster: MockCluster) -> Iterator[KafkaProducer]:
    p = KafkaProducer(bootstrap_servers=cluster.bootstrap_servers)
    yield p
    p.close()


#: The kafka-python shim's calls fuzzed with random arguments.
KAFKA_CALLS = [
    "send",
    "flush",
    "partitions_for",
    "metrics",
    "bootstrap_connected",
    "init_transactions",
    "begin_transaction",
    "commit_transaction",
    "abort_transaction",
    "send_offsets_to_transaction",
    "max_usable_produce_magic",
]


@FUZZ
@given(
    method=st.sampled_from(KAFKA_CALLS),
    args=st.lists(st.one_of(TOPICS, ANY, TIMEOUTS), max_size=3),
    headers=HEADERS,
    partition=PARTITIONS,
)
def test_kafka_shim(
    kafka_shim: KafkaProducer, method: str, args: list[Any], headers: Any, partition: Any
) -> None:
    if method == "send":
        call(kafka_shim.send, *args[:3], headers=headers, partition=partition)
    elif method == "bootstrap_connected":
        call(kafka_shim.bootstrap_connected)
    else:
        call(getattr(kafka_shim, method), *args)


@FEW
@given(options=OPTIONS, close=TIMEOUTS)
def test_kafka_shim_new_and_close(cluster: MockCluster, options: Any, close: Any) -> None:
    options.pop("queue.buffering.max.kbytes", None)
    made = call(KafkaProducer, bootstrap_servers=cluster.bootstrap_servers, **options)
    if made is not None:
        call(made.close, close)
        made.close()


@pytest.fixture(scope="module")
def confluent_shim(cluster: MockCluster) -> Iterator[ConfluentProducer]:
    p = ConfluentProducer({"bootstrap.servers": cluster.bootstrap_servers})
    yield p
    p.close()


#: The confluent shim's calls the fuzz makes with random arguments.
CONFLUENT_CALLS = [
    "produce",
    "produce_batch",
    "poll",
    "flush",
    "purge",
    "list_topics",
    "init_transactions",
    "begin_transaction",
    "commit_transaction",
    "abort_transaction",
    "send_offsets_to_transaction",
    "set_sasl_credentials",
]


@FUZZ
@given(
    method=st.sampled_from(CONFLUENT_CALLS),
    topic=TOPICS,
    value=ANY,
    key=ANY,
    partition=PARTITIONS,
    headers=HEADERS,
    # poll/flush/list_topics: a negative timeout means "forever" in confluent-kafka, and
    # poll(forever) with nothing to report would wait forever: those stay finite here.
    timeout=st.one_of(st.floats(0, 0.05), st.text(max_size=2), st.just(math.nan), st.none()),
    other=st.one_of(ANY, OFFSETS),
)
def test_confluent_shim(
    confluent_shim: ConfluentProducer,
    method: str,
    topic: Any,
    value: Any,
    key: Any,
    partition: Any,
    headers: Any,
    timeout: Any,
    other: Any,
) -> None:
    p = confluent_shim
    if method == "produce":
        kw = {"partition": partition} if partition is not None else {}
        call(p.produce, topic, value, key, headers=headers, **kw)
    elif method == "produce_batch":
        call(p.produce_batch, topic, other if isinstance(other, list) else [other])
    elif method in ("poll", "flush", "init_transactions", "commit_transaction"):
        call(getattr(p, method), timeout if timeout is not None else 0)
    elif method == "list_topics":
        call(p.list_topics, topic, timeout if timeout is not None else 1)
    elif method == "purge":
        call(p.purge, value, key, partition)
    elif method == "set_sasl_credentials":
        call(p.set_sasl_credentials, topic, value)
    elif method == "send_offsets_to_transaction":
        call(p.send_offsets_to_transaction, other, value, timeout)
    else:
        call(getattr(p, method), *([timeout] if timeout is not None else []))


@FEW
@given(
    config=st.dictionaries(st.sampled_from(["batch.size", "linger.ms", "acks", "x.y"]), ANY),
    close=TIMEOUTS,
)
def test_confluent_shim_new_and_close(cluster: MockCluster, config: Any, close: Any) -> None:
    made = call(ConfluentProducer, {"bootstrap.servers": cluster.bootstrap_servers, **config})
    if made is not None:
        call(made.close, close if isinstance(close, int | float) and 0 <= close < 10 else 5)
        made.close()


#: The aiokafka shim's calls fuzzed with random arguments.
AIOKAFKA_CALLS = [
    "send",
    "send_and_wait",
    "send_batch",
    "create_batch",
    "flush",
    "partitions_for",
    "begin_transaction",
    "commit_transaction",
    "abort_transaction",
    "send_offsets_to_transaction",
    "transaction",
]


@FEW
@given(
    method=st.sampled_from(AIOKAFKA_CALLS),
    topic=TOPICS,
    value=ANY,
    key=ANY,
    partition=PARTITIONS,
    headers=HEADERS,
    timestamp_ms=st.one_of(st.none(), NUMBERS),
    options=st.dictionaries(
        st.sampled_from(["max_batch_size", "linger_ms", "acks"]), ANY, max_size=1
    ),
)
def test_aiokafka_shim(cluster: MockCluster, method: str, options: Any, **kw: Any) -> None:
    async def run() -> None:
        made = call(AIOKafkaProducer, bootstrap_servers=cluster.bootstrap_servers, **options)
        if made is None:
            return
        async with made as p:
            fn = getattr(p, method)
            try:
                if method in ("send", "send_and_wait"):
                    result = fn(**kw)
                elif method == "send_batch":
                    batch = p.create_batch()
                    batch.append(key=kw["key"], value=kw["value"], timestamp=kw["timestamp_ms"])
                    result = fn(batch, kw["topic"], partition=kw["partition"])
                elif method == "send_offsets_to_transaction":
                    result = fn(kw["value"], kw["key"])
                elif method == "transaction":
                    async with fn():
                        pass
                    return
                else:
                    result = fn(*([kw["topic"]] if method == "partitions_for" else []))
                if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                    result = await result
                if isinstance(result, asyncio.Future):
                    await result
            except Exception:
                pass

    acall(run)


#: What the fuzz above calls, per owner (read by tests/test_hostile.py).
FUZZED: dict[Any, set[str]] = {
    kafkify.Producer: {
        *("send", "produce", "send_async", "send_batch", "send_batch_async"),
        *CORE_CALLS,
        *("start", "stop", "close", "from_config"),
    },
    kafkify: {"dumps", *MODULE_FUNCTIONS},
    MockCluster: {*MOCK_CALLS, "close"},
    KafkaProducer: {*KAFKA_CALLS, "close"},
    ConfluentProducer: {*CONFLUENT_CALLS, "close"},
    AIOKafkaProducer: {*AIOKAFKA_CALLS, "start", "stop"},
}
