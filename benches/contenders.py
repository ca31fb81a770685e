"""One contender of benches/compare.py, run in a fresh process so no client's
threads, buffers or garbage slow down the next one.

    python benches/contenders.py WORKLOAD CLIENT --topic T --records N [--bootstrap B]
        [--kcat PATH] [--rust-ceiling PATH]

Prints one JSON object: wall and CPU seconds of the timed part (from the first
record handed over to the last one acknowledged), payload bytes, latency
percentiles where the workload has per-record latency, and delivery failures.
Warm-up (connection, idempotent producer id) goes to a separate topic, so the
measured topic holds exactly the measured records.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import shim_contenders
import workload as w

TASKS = 100  # workload (c): concurrent asyncio tasks
# Workload (c)'s linger, the same for every client: the common 5 ms (what issue 5
# measured the peers at), and 0 (each peer at its lowest latency).
ASYNCIO_LINGER_MS = {
    "asyncio": 5,
    "asyncio_linger0": 0,
    "shim_aiokafka_send_and_wait": 5,  # benches/shim_contenders.py: (c) through the shim
}
# aiokafka asks for a producer id with InitProducerId v0-v2, which Tansu answers
# with an error (it serves v3+), so on Tansu aiokafka runs with acks=all but no
# idempotence; on Apache Kafka with both, like every other client.
AIOKAFKA_NO_IDEMPOTENCE_ON = {"tansu"}
MEMORY_QUEUE_KBYTES = 65536  # item 6: the configured queue buffer


def rdkafka_conf(args: argparse.Namespace, **overrides: Any) -> dict[str, Any]:
    conf = {**w.RDKAFKA_SETTINGS, **overrides}
    if args.bootstrap:
        conf["bootstrap.servers"] = args.bootstrap
    else:
        conf["test.mock.num.brokers"] = 3  # workload (e): librdkafka's in-process cluster
    return conf


def kafkify_producer(args: argparse.Namespace, **kwargs: Any) -> Any:
    import kafkify

    conf = rdkafka_conf(args, **kwargs.pop("config", {}))
    return kafkify.Producer(config=conf, **kwargs)


def mock_broker_cpu() -> float:
    """CPU seconds so far of librdkafka's in-process mock cluster (its `rdk:mock`
    thread): the broker's work, inside the client's process. Target (c') counts
    the client's CPU: the process's minus this. 0 on a real broker."""
    total = 0
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/comm") as f:
                if not f.read().startswith("rdk:mock"):
                    continue
            with open(f"/proc/self/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])  # ns on a CPU
        except FileNotFoundError:  # the thread ended while we looked
            pass
    return total / 1e9


class Clock:
    """Wall and CPU time of a timed part, with the mock broker's share apart."""

    def __init__(self) -> None:
        self.wall, self.cpu, self.broker = (
            time.perf_counter(),
            time.process_time(),
            mock_broker_cpu(),
        )

    def read(self) -> dict[str, float]:
        return {
            "wall": time.perf_counter() - self.wall,
            "cpu": time.process_time() - self.cpu,
            "broker_cpu": mock_broker_cpu() - self.broker,
        }


def timed(body: Callable[[], Any]) -> dict[str, Any]:
    clock = Clock()
    extra = body() or {}
    return {**clock.read(), **extra}


async def timed_async(body: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    clock = Clock()
    extra = await body() or {}
    return {**clock.read(), **extra}


def latency_summary(latencies: list[float]) -> dict[str, float]:
    s = sorted(latencies)
    pick = lambda q: s[min(len(s) - 1, int(q * len(s)))] * 1e6  # noqa: E731
    return {"p50_us": pick(0.5), "p99_us": pick(0.99)}


def json_dumps_bytes(v: Any) -> bytes:
    return json.dumps(v).encode()


def kafka_python_producer(args: argparse.Namespace, linger_ms: int, module: str = "kafka") -> Any:
    """kafka-python with the canonical JSON idiom. linger_ms=0 (its default) where a
    record is waited for: at 5 ms every such send would wait 5 ms. ``module``: where
    KafkaProducer comes from (kafkify.compat.kafka for its shim, benches/shim_contenders.py)."""
    KafkaProducer = importlib.import_module(module).KafkaProducer

    return KafkaProducer(
        bootstrap_servers=args.bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=linger_ms,
        value_serializer=json_dumps_bytes,
        key_serializer=str.encode,
    )


async def aiokafka_producer(
    args: argparse.Namespace, linger_ms: int, module: str = "aiokafka"
) -> Any:
    """A started aiokafka producer (see AIOKAFKA_NO_IDEMPOTENCE_ON); ``module``: where
    AIOKafkaProducer comes from (kafkify.compat.aiokafka for its shim)."""
    AIOKafkaProducer = importlib.import_module(module).AIOKafkaProducer

    p = AIOKafkaProducer(
        bootstrap_servers=args.bootstrap,
        acks="all",
        enable_idempotence=args.broker not in AIOKAFKA_NO_IDEMPOTENCE_ON,
        linger_ms=linger_ms,
        value_serializer=json_dumps_bytes,
        key_serializer=str.encode,
    )
    await p.start()
    return p


# --- (a) fire-and-forget JSON, and (e) the same against the mock cluster ---------


def kafkify_fire_and_forget(args: argparse.Namespace) -> dict[str, Any]:
    values, keys = w.json_records(args.records)
    p = kafkify_producer(args)
    p.send(f"{args.topic}-warmup", values[0], key=keys[0])

    def body() -> None:
        for v, k in zip(values, keys, strict=True):
            p.produce(args.topic, v, key=k)
        p.flush()

    result = timed(body)
    if on_mock(args):
        result["broker_count"] = kafkify_count_by_probe(p, args.topic)
    p.close()
    return result


def on_mock(args: argparse.Namespace) -> bool:
    return not args.bootstrap


def kafkify_count_by_probe(p: Any, topic: str) -> int:
    """Records a mock-cluster topic holds: one probe per partition lands at offset
    = the records before it (the mock cluster cannot be read by another client).
    The probe is a keyed tombstone, which every value serializer takes."""
    probes = (p.send(topic, None, key="probe", partition=q) for q in p.partitions_for(topic))
    return sum(meta.offset for meta in probes)


def confluent_fire_and_forget(args: argparse.Namespace) -> dict[str, Any]:
    from confluent_kafka import Producer

    values, keys = w.json_records(args.records)
    p = Producer(rdkafka_conf(args))
    p.produce(f"{args.topic}-warmup", json_dumps_bytes(values[0]), key=keys[0])
    p.flush()

    def body() -> None:
        for i, (v, k) in enumerate(zip(values, keys, strict=True)):
            value = json.dumps(v).encode()
            while True:
                try:
                    p.produce(args.topic, value, key=k)
                    break
                except BufferError:  # local queue full: serve deliveries, retry
                    p.poll(0.001)
            if i % 1000 == 0:
                p.poll(0)
        p.flush()

    result = timed(body)
    if on_mock(args):
        result["broker_count"] = confluent_count_by_probe(p, args.topic)
    return result


def confluent_preencoded(args: argparse.Namespace) -> dict[str, Any]:
    """Target (a)'s third peer: confluent-kafka producing the same JSON records,
    encoded before the timed part (what JSON costs kafkify is then the gap)."""
    values, keys = w.json_records(args.records)
    encoded = [json.dumps(v).encode() for v in values]
    return confluent_produce_all(args, encoded, keys, {})


def confluent_count_by_probe(p: Any, topic: str) -> int:
    offsets: list[int] = []
    partitions = p.list_topics(topic, timeout=10).topics[topic].partitions
    for q in partitions:
        p.produce(topic, b"{}", partition=q, on_delivery=lambda _e, m: offsets.append(m.offset()))
    p.flush()
    return sum(offsets)


def kafka_python_fire_and_forget(args: argparse.Namespace, module: str = "kafka") -> dict[str, Any]:
    values, keys = w.json_records(args.records)
    p = kafka_python_producer(args, linger_ms=5, module=module)
    p.send(f"{args.topic}-warmup", values[0], key=keys[0]).get(timeout=30)

    def body() -> None:
        for v, k in zip(values, keys, strict=True):
            p.send(args.topic, v, key=k)
        p.flush()

    result = timed(body)
    p.close()
    return result


def aiokafka_fire_and_forget(args: argparse.Namespace, module: str = "aiokafka") -> dict[str, Any]:
    values, keys = w.json_records(args.records)

    async def main() -> dict[str, Any]:
        p = await aiokafka_producer(args, linger_ms=5, module=module)
        await p.send_and_wait(f"{args.topic}-warmup", values[0], key=keys[0])

        async def body() -> None:
            for v, k in zip(values, keys, strict=True):
                await p.send(args.topic, v, key=k)  # queued; its future is not awaited
            await p.flush()

        result = await timed_async(body)
        await p.stop()
        return result

    return asyncio.run(main())


def aio_producer_fire_and_forget(args: argparse.Namespace) -> dict[str, Any]:
    from confluent_kafka.aio import AIOProducer

    values, keys = w.json_records(args.records)

    async def main() -> dict[str, Any]:
        p = AIOProducer(rdkafka_conf(args))
        await (await p.produce(f"{args.topic}-warmup", json_dumps_bytes(values[0]), key=keys[0]))

        async def body() -> None:
            for v, k in zip(values, keys, strict=True):
                await p.produce(args.topic, json.dumps(v).encode(), key=k)
            await p.flush()

        result = await timed_async(body)
        if on_mock(args):
            result["broker_count"] = confluent_count_by_probe(p._producer, args.topic)
        await p.close()
        return result

    return asyncio.run(main())


# --- (b) blocking send, one at a time ----------------------------------------------


def measure_blocking(args: argparse.Namespace, send: Callable[[int], Any]) -> dict[str, Any]:
    latencies: list[float] = []

    def body() -> None:
        for i in range(args.records):
            started = time.perf_counter()
            send(i)
            latencies.append(time.perf_counter() - started)

    return {**timed(body), **latency_summary(latencies)}


def kafkify_blocking(args: argparse.Namespace) -> dict[str, Any]:
    values, keys = w.json_records(args.records)
    p = kafkify_producer(args)
    for i in range(50):
        p.send(f"{args.topic}-warmup", values[i], key=keys[i])
    result = measure_blocking(args, lambda i: p.send(args.topic, values[i], key=keys[i]))
    if on_mock(args):
        result["broker_count"] = kafkify_count_by_probe(p, args.topic)
    p.close()
    return result


def confluent_blocking(args: argparse.Namespace) -> dict[str, Any]:
    from confluent_kafka import Producer

    values, keys = w.json_records(args.records)
    p = Producer(rdkafka_conf(args))

    def send(topic: str, i: int) -> None:
        p.produce(topic, json.dumps(values[i]).encode(), key=keys[i])
        p.flush()

    for i in range(50):
        send(f"{args.topic}-warmup", i)
    result = measure_blocking(args, lambda i: send(args.topic, i))
    if on_mock(args):
        result["broker_count"] = confluent_count_by_probe(p, args.topic)
    return result


def kafka_python_blocking(args: argparse.Namespace) -> dict[str, Any]:
    values, keys = w.json_records(args.records)
    p = kafka_python_producer(args, linger_ms=0)
    for i in range(50):
        p.send(f"{args.topic}-warmup", values[i], key=keys[i]).get(timeout=30)
    result = measure_blocking(
        args, lambda i: p.send(args.topic, values[i], key=keys[i]).get(timeout=30)
    )
    p.close()
    return result


def aiokafka_blocking(args: argparse.Namespace) -> dict[str, Any]:
    values, keys = w.json_records(args.records)

    async def main() -> dict[str, Any]:
        p = await aiokafka_producer(args, linger_ms=0)
        for i in range(50):
            await p.send_and_wait(f"{args.topic}-warmup", values[i], key=keys[i])
        latencies: list[float] = []

        async def body() -> None:
            for i in range(args.records):
                started = time.perf_counter()
                await p.send_and_wait(args.topic, values[i], key=keys[i])
                latencies.append(time.perf_counter() - started)

        result = await timed_async(body)
        await p.stop()
        return {**result, **latency_summary(latencies)}

    return asyncio.run(main())


# --- (c) 100 asyncio tasks, each awaiting its sends --------------------------------


async def run_tasks(send: Callable[[int], Awaitable[Any]], n: int) -> dict[str, Any]:
    latencies: list[float] = []
    numbers = iter(range(n))  # shared: each task takes the next record number

    async def task() -> None:
        for i in numbers:
            started = time.perf_counter()
            await send(i)
            latencies.append(time.perf_counter() - started)

    async def body() -> None:
        await asyncio.gather(*(task() for _ in range(TASKS)))

    return {**await timed_async(body), **latency_summary(latencies)}


def kafkify_asyncio(args: argparse.Namespace) -> dict[str, Any]:
    values, keys = w.json_records(args.records)
    p = kafkify_producer(args, config={"linger.ms": ASYNCIO_LINGER_MS[args.workload]})

    async def main() -> dict[str, Any]:
        await p.send_async(f"{args.topic}-warmup", values[0], key=keys[0])
        return await run_tasks(
            lambda i: p.send_async(args.topic, values[i], key=keys[i]), len(values)
        )

    result = asyncio.run(main())
    if on_mock(args):
        result["broker_count"] = kafkify_count_by_probe(p, args.topic)
    p.close()
    return result


def aiokafka_asyncio(args: argparse.Namespace, module: str = "aiokafka") -> dict[str, Any]:
    values, keys = w.json_records(args.records)

    async def main() -> dict[str, Any]:
        linger_ms = ASYNCIO_LINGER_MS[args.workload]
        p = await aiokafka_producer(args, linger_ms=linger_ms, module=module)
        await p.send_and_wait(f"{args.topic}-warmup", values[0], key=keys[0])
        result = await run_tasks(
            lambda i: p.send_and_wait(args.topic, values[i], key=keys[i]), len(values)
        )
        await p.stop()
        return result

    return asyncio.run(main())


def aio_producer_asyncio(args: argparse.Namespace) -> dict[str, Any]:
    """Tuned as far as it goes. A delivery future resolves only when something calls
    poll(); with every task waiting on its own delivery nothing does, except the
    buffer-timeout monitor, which looks at most every 100 ms (defaults: ~100
    records/s; batch_size/buffer_timeout/max_workers/linger alone: <= ~2k/s). So:
    batch_size = the number of tasks (one thread-pool hop per wave of sends), and
    a task that keeps calling poll()."""
    from confluent_kafka.aio import AIOProducer

    values, keys = w.json_records(args.records)

    async def main() -> dict[str, Any]:
        conf = rdkafka_conf(args, **{"linger.ms": ASYNCIO_LINGER_MS[args.workload]})
        p = AIOProducer(conf, batch_size=TASKS, buffer_timeout=0.005)
        polling = True

        async def poller() -> None:
            while polling:
                await p.poll(0.1)  # returns as soon as a delivery report is served

        poll_task = asyncio.create_task(poller())
        await (await p.produce(f"{args.topic}-warmup", json_dumps_bytes(values[0]), key=keys[0]))

        async def send(i: int) -> Any:
            return await (await p.produce(args.topic, json.dumps(values[i]).encode(), key=keys[i]))

        result = await run_tasks(send, len(values))
        polling = False
        await poll_task
        if on_mock(args):
            await p.flush()
            result["broker_count"] = confluent_count_by_probe(p._producer, args.topic)
        await p.close()
        return result

    return asyncio.run(main())


# --- (d) batch API, bytes payloads, against librdkafka alone ------------------------


# Workload (d): a queue that holds the whole batch, so every contender measures
# its sending path rather than how it waits for room.
BATCH_QUEUE = {"queue.buffering.max.messages": 1_000_000}


def kafkify_batch_bytes(args: argparse.Namespace) -> dict[str, Any]:
    values, keys = w.bytes_records(args.records)
    p = kafkify_producer(args, value_serializer="bytes", config=BATCH_QUEUE)
    p.send(f"{args.topic}-warmup", values[0], key=keys[0])

    def body() -> dict[str, Any]:
        # A failed record raises here, and fails the run. Like the Rust program,
        # which counts failures in its delivery callback, this needs no second pass
        # over the 200k results in Python.
        p.send_batch(args.topic, values, keys=keys, timeout=300, raise_on_error=True)
        return {"failed": 0}

    result = timed(body)
    if on_mock(args):
        result["broker_count"] = kafkify_count_by_probe(p, args.topic)
    p.close()
    return result


def confluent_bytes(args: argparse.Namespace) -> dict[str, Any]:
    values, keys = w.bytes_records(args.records)
    return confluent_produce_all(args, values, keys, BATCH_QUEUE)


def confluent_produce_all(
    args: argparse.Namespace, values: list[bytes], keys: list[Any], conf: dict[str, Any]
) -> dict[str, Any]:
    """confluent-kafka's idiom for records already in bytes: produce, on BufferError
    serve deliveries and retry, poll(0) every 1000 records, flush."""
    from confluent_kafka import Producer

    p = Producer(rdkafka_conf(args, **conf))
    p.produce(f"{args.topic}-warmup", values[0], key=keys[0])
    p.flush()

    def body() -> None:
        for i, (v, k) in enumerate(zip(values, keys, strict=True)):
            while True:
                try:
                    p.produce(args.topic, v, key=k)
                    break
                except BufferError:
                    p.poll(0.001)
            if i % 1000 == 0:
                p.poll(0)
        p.flush()

    result = timed(body)
    if on_mock(args):
        result["broker_count"] = confluent_count_by_probe(p, args.topic)
    return result


def rdkafka_args() -> list[str]:
    settings = {**w.RDKAFKA_SETTINGS, **BATCH_QUEUE}
    return [f"{k}={str(v).lower()}" for k, v in settings.items()]


def rust_ceiling(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "records.tsv")
        w.write_records_file(path, args.records)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run(
            [args.rust_ceiling, args.bootstrap, args.topic, path, *rdkafka_args()],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = json.loads(out)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"wall": report["seconds"], "cpu": cpu, "failed": report["failed"]}


def kcat(args: argparse.Namespace) -> dict[str, Any]:
    """kcat reading the records file; its start-up (connect, idempotent producer id)
    is measured with a one-record file to another topic and subtracted."""

    def run(path: str, topic: str) -> tuple[float, float]:
        command = [args.kcat, "-P", "-b", args.bootstrap, "-t", topic, "-K", "\t", "-l", path]
        for setting in rdkafka_args():
            command += ["-X", setting]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, check=True, env=kcat_env(args.kcat))
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)

    with tempfile.TemporaryDirectory() as tmp:
        one, full = os.path.join(tmp, "one.tsv"), os.path.join(tmp, "records.tsv")
        w.write_records_file(one, 1)
        w.write_records_file(full, args.records)
        startup = min(run(one, f"{args.topic}-warmup")[0] for _ in range(3))
        wall, cpu = run(full, args.topic)
    return {"wall": wall - startup, "cpu": cpu, "startup_subtracted_s": startup}


def kcat_env(kcat_path: str) -> dict[str, str]:
    env = dict(os.environ)
    libdir = os.environ.get("KCAT_LIBRDKAFKA_DIR")
    if libdir:
        env["LD_LIBRARY_PATH"] = libdir
    return env


# --- (h) the first record of a new producer ---------------------------------------


def measure_first_records(
    args: argparse.Namespace, first: Callable[[int], Callable[[], None]]
) -> dict[str, Any]:
    """``args.records`` producers one after the other: ``first(i)`` makes one and
    sends record i, waiting for it, and returns how to close it (not timed)."""
    latencies: list[float] = []
    closers: list[Callable[[], None]] = []

    def body() -> None:
        for i in range(args.records):
            started = time.perf_counter()
            closers.append(first(i))
            latencies.append(time.perf_counter() - started)

    result = {**timed(body), **latency_summary(latencies)}
    for close in closers:
        close()
    return result


def kafkify_first_record(args: argparse.Namespace) -> dict[str, Any]:
    values, keys = w.json_records(args.records)

    def first(i: int) -> Callable[[], None]:
        p = kafkify_producer(args)
        p.send(args.topic, values[i], key=keys[i])
        return p.close

    return measure_first_records(args, first)


def kafkify_first_record_after_start(args: argparse.Namespace) -> dict[str, Any]:
    """What a request pays once the app has started (FastAPI's lifespan awaits
    start()): the first send after ``await start()``. p50/p99 are that send's;
    ``with_start_p50_us`` adds the construction and start()."""
    values, keys = w.json_records(args.records)
    sends: list[float] = []

    async def start(p: Any) -> None:
        await p.start()  # start() needs a running loop

    def first(i: int) -> Callable[[], None]:
        p = kafkify_producer(args)
        asyncio.run(start(p))
        started = time.perf_counter()
        p.send(args.topic, values[i], key=keys[i])
        sends.append(time.perf_counter() - started)
        return p.close

    result = measure_first_records(args, first)
    result["with_start_p50_us"] = result.pop("p50_us")
    result.pop("p99_us")
    return {**result, **latency_summary(sends)}


def confluent_first_record(args: argparse.Namespace) -> dict[str, Any]:
    from confluent_kafka import Producer

    values, keys = w.json_records(args.records)

    def first(i: int) -> Callable[[], None]:
        p = Producer(rdkafka_conf(args))
        p.produce(args.topic, json.dumps(values[i]).encode(), key=keys[i])
        p.flush()
        return lambda: None

    return measure_first_records(args, first)


# --- item 6: memory after 1M records ------------------------------------------------


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def kafkify_memory(args: argparse.Namespace) -> dict[str, Any]:
    """1M fire-and-forget records with a 64 MB queue buffer: the producer's memory
    is bounded by the queue, not by how many records went through it."""
    doc = w.json_value(0)
    p = kafkify_producer(args, config={"queue.buffering.max.kbytes": MEMORY_QUEUE_KBYTES})
    p.send(f"{args.topic}-warmup", doc, key=w.key(0))
    baseline = peak = rss_bytes()

    def body() -> None:
        nonlocal peak
        for i in range(args.records):
            doc["seq"] = i  # encoded at once, so the dict can be reused
            p.produce(args.topic, doc, key=w.key(i))
            if i % 20000 == 0:
                peak = max(peak, rss_bytes())
        p.flush()

    result = timed(body)
    peak = max(peak, rss_bytes())
    after_flush = rss_bytes()
    if on_mock(args):
        result["broker_count"] = kafkify_count_by_probe(p, args.topic)
    p.close()
    mb = 1024 * 1024
    return {
        **result,
        "rss_baseline_mb": baseline / mb,
        "rss_peak_growth_mb": (peak - baseline) / mb,
        "rss_after_flush_growth_mb": (after_flush - baseline) / mb,
        "queue_buffer_mb": MEMORY_QUEUE_KBYTES / 1024,
    }


CONTENDERS: dict[str, dict[str, Callable[[argparse.Namespace], dict[str, Any]]]] = {
    "fire_and_forget": {
        "kafkify produce": kafkify_fire_and_forget,
        "confluent produce + json.dumps": confluent_fire_and_forget,
        "confluent produce (pre-encoded bytes)": confluent_preencoded,
        "confluent AIOProducer": aio_producer_fire_and_forget,
        "aiokafka send": aiokafka_fire_and_forget,
        "kafka-python send": kafka_python_fire_and_forget,
    },
    "blocking": {
        "kafkify send": kafkify_blocking,
        "confluent produce + flush": confluent_blocking,
        "aiokafka send_and_wait": aiokafka_blocking,
        "kafka-python send().get()": kafka_python_blocking,
    },
    "asyncio": {
        "kafkify send_async": kafkify_asyncio,
        "confluent AIOProducer (tuned, poll task)": aio_producer_asyncio,
        "aiokafka send_and_wait": aiokafka_asyncio,
    },
    "asyncio_linger0": {
        "kafkify send_async": kafkify_asyncio,
        "confluent AIOProducer (tuned, poll task)": aio_producer_asyncio,
        "aiokafka send_and_wait": aiokafka_asyncio,
    },
    "batch_bytes": {
        "kafkify send_batch": kafkify_batch_bytes,
        "rust rdkafka (ceiling)": rust_ceiling,
        "kcat (librdkafka C)": kcat,
        "confluent produce (bytes)": confluent_bytes,
    },
    "memory": {"kafkify produce": kafkify_memory},
    "first_record": {
        "kafkify Producer() + send": kafkify_first_record,
        "kafkify send after await start()": kafkify_first_record_after_start,
        "confluent Producer() + produce + flush": confluent_first_record,
    },
}
# The shims against their peers (issue 12), built on this module's functions.
CONTENDERS.update(shim_contenders.contenders(sys.modules[__name__]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("workload", choices=CONTENDERS)
    parser.add_argument("client")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--records", type=int, required=True)
    parser.add_argument("--bootstrap", help="omit for librdkafka's in-process mock cluster")
    parser.add_argument("--broker", default="kafka", choices=["kafka", "tansu", "mock"])
    parser.add_argument("--kcat")
    parser.add_argument("--rust-ceiling")
    args = parser.parse_args()
    result = CONTENDERS[args.workload][args.client](args)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
