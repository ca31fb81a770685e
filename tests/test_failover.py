"""Broker failures mid-stream on a real 3-node Kafka cluster (``kafka3``: RF 3,
``min.insync.replicas=2``), with exact accounting for every record.

Why: an idempotent ``acks=all`` producer promises that a broker dying, freezing or
restarting loses nothing, duplicates nothing and keeps each partition in send order,
and that whatever cannot be delivered in time is reported to its caller (typed,
``.retriable``), never dropped silently. librdkafka's mock cluster (test_mock_cluster.py)
cannot move partition leadership or lose a controller quorum; a real cluster can.

Each scenario streams 100,000 keyed records (key and value unique per record) from
each of ``produce`` (``on_delivery``), ``send_async`` (awaited futures, a window of
chunk-gathers in flight) and ``send_batch``, on three producers in three threads, each
to its own fresh 6-partition topic. Records go in chunks of 1,000 in *windows*: the
fault driver (the test's thread) injects each fault while every sender has records in
flight, opens the next window, and waits until every sender has queued its minimum
number of chunks in it (checked through ``metrics()["kafkify"]["sent"]``) before the
next step, so records are sent before, during and after every fault by construction
rather than by timing guesses.

Scenarios:
1. SIGKILL a partition leader, wait for failover, restart it.
2. SIGSTOP a leader for ~6 s with ``request_timeout_ms=3000``, then SIGCONT. kafkify
   maps ``request_timeout_ms`` to librdkafka's ``socket.timeout.ms`` too (the client's
   own limit; ``request.timeout.ms`` alone is only the broker's acks wait), so a
   request in flight to the frozen leader is abandoned after 3 s and retried on the
   leader the controller elects once the frozen node's session (3 s) expires. The
   window is ``stalled``: a sender blocked on its in-flight records counts as progress.
3. A rolling restart: SIGTERM (controlled shutdown) and restart, one node at a time,
   each once the previous one is fully in sync again.
4. 2 of 3 nodes SIGKILLed (below ``min.insync.replicas``, controller quorum lost), with
   one producer per API whose delivery timeout outlasts the outage (everything
   delivered after recovery) and one whose 5 s does not (each failure typed and
   retriable). A record reported failed may still be in the log, even twice: see
   ``Figures``.

Each run ends with the topic read back by an independent client (confluent-kafka) and
compared with what the callbacks, futures and batch results said: nothing lost,
nothing delivered twice, per-partition offsets increasing in send order, each
reported offset where the record really is, each record reported exactly once,
``metrics()`` agreeing, no hang (pytest-timeout). The figures (sent per window,
delivered, failed by class, lost, duplicated, out of order, time to recover: from the
fault until, in every partition, the first record sent after it is acknowledged) are
printed per scenario and API, and again as one table at the end (``-s``). Timings are
reported, never asserted. The cluster is made healthy again (3 nodes in metadata,
full ISRs) after every test, pass or fail: other tests share it.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

import kafkify
from kafkify import KafkaError, RecordMetadata

from helpers import FIGURES, create_topic, kafka_cluster, read_back

RECORDS = 100_000
CHUNK = 1_000
CHUNKS = RECORDS // CHUNK
PARTITIONS = 6
ASYNC_CHUNKS_IN_FLIGHT = 25  # send_async: chunk-gathers awaited at most this far behind
PATIENT_MS = 120_000  # delivery timeout that outlasts every outage here
IMPATIENT_MS = 5_000  # shorter than the 2-nodes-down outage (the driver makes sure)
STEP_TIMEOUT = 150.0  # one driver step (a wait for senders, leaders, ISRs)

#: Printed at the end of the run (conftest's pytest_terminal_summary), even in CI's
#: captured run.
SUMMARY: list[str] = FIGURES.setdefault("failover figures", [])


# ---------------------------------------------------------------------------------
# records and their outcomes


def key_of(api: str, seq: int) -> str:
    return f"{api}-{seq:06d}"


def value_of(api: str, seq: int) -> dict[str, object]:
    return {"api": api, "seq": seq}


class Ledger:
    """What one sender sent and what it was told, by sequence number.

    Written by one thread at a time (kafkify's dispatcher for callbacks, the loop for
    futures, the sender for batches); the driver only reads the counters.
    """

    def __init__(self, api: str, mode: str, topic: str) -> None:
        self.api, self.mode, self.topic = api, mode, topic
        self.reports = [0] * RECORDS
        self.outcome: list[RecordMetadata | BaseException | None] = [None] * RECORDS
        self.sent_at = [0.0] * RECORDS
        self.acked_at = [0.0] * RECORDS
        self.window_of = [-1] * RECORDS
        self.delivered = 0
        self.failed = 0

    def report(self, seq: int, outcome: RecordMetadata | BaseException) -> None:
        self.reports[seq] += 1
        self.outcome[seq] = outcome
        self.acked_at[seq] = time.monotonic()
        if isinstance(outcome, RecordMetadata):
            self.delivered += 1
        else:
            self.failed += 1

    def on_delivery(self, seq: int, err: KafkaError | None, meta: RecordMetadata) -> None:
        self.report(seq, err if err is not None else meta)

    def on_future(self, seq: int, future: asyncio.Future[RecordMetadata]) -> None:
        if future.cancelled():
            self.report(seq, asyncio.CancelledError())
            return
        exc = future.exception()
        self.report(seq, exc if exc is not None else future.result())


# ---------------------------------------------------------------------------------
# windows: the sender/driver handshake


@dataclass(frozen=True)
class Window:
    """A stretch of the stream between two fault steps.

    The driver waits until each sender has queued ``min_chunks`` in it (in a
    ``stalled`` window, where nothing can be acknowledged, a sender blocked on its
    acknowledgements counts too: ``send_batch``, or ``send_async`` with its window of
    gathers full); a sender sends at most ``max_chunks`` (one every ``pace`` s) before
    it waits for the next window, and skips a window the driver has already left. The
    last window gets every chunk left.
    """

    name: str
    min_chunks: int
    max_chunks: int
    pace: float
    stalled: bool = False


class Stages:
    def __init__(self, windows: list[Window]) -> None:
        assert sum(w.max_chunks for w in windows[:-1]) <= CHUNKS - 10
        self.windows = windows
        self.opened = [threading.Event() for _ in windows]
        self.aborted = threading.Event()
        self.faults: list[tuple[str, float]] = []
        self.outage: list[tuple[str, float]] = []

    def open(self, index: int) -> None:
        self.opened[index].set()

    def abort(self) -> None:
        self.aborted.set()
        for event in self.opened:
            event.set()


class Sender:
    """One API streaming RECORDS records window by window, in its own thread."""

    def __init__(
        self, api: str, mode: str, producer: kafkify.Producer, topic: str, stages: Stages
    ) -> None:
        self.api, self.mode, self.producer, self.topic = api, mode, producer, topic
        self.stages = stages
        self.ledger = Ledger(api, mode, topic)
        self.first_chunk: dict[int, int] = {}
        self.error: BaseException | None = None
        self.blocked = False  # waiting for acknowledgements before it can send more
        self.send_timeout = producer_timeout_s(mode) + 60
        self.thread = threading.Thread(target=self._run, name=f"send-{api}-{mode}", daemon=True)
        self._pending: collections.deque[asyncio.Future[list[object]]] = collections.deque()

    @property
    def label(self) -> str:
        return f"{self.api}/{self.mode}"

    def sent_count(self) -> int:
        return int(self.producer.metrics()["kafkify"]["sent"])

    def _run(self) -> None:
        try:
            asyncio.run(self._stream())
        except BaseException as e:
            self.error = e
            self.stages.abort()

    async def _stream(self) -> None:
        windows = self.stages.windows
        next_chunk = 0
        for w, window in enumerate(windows):
            while not self.stages.opened[w].is_set():
                await asyncio.sleep(0.01)
            if self.stages.aborted.is_set():
                break
            last = w == len(windows) - 1
            if not last and self.stages.opened[w + 1].is_set():
                continue  # blocked through all of it: the driver has moved on
            self.first_chunk[w] = next_chunk
            limit = CHUNKS - next_chunk if last else window.max_chunks
            for count in range(1, limit + 1):
                await self._send_chunk(next_chunk, w)
                next_chunk += 1
                if self.stages.aborted.is_set():
                    break
                if not last and count >= window.min_chunks and self.stages.opened[w + 1].is_set():
                    break
                await asyncio.sleep(window.pace)
        await self._finish()

    async def _send_chunk(self, chunk: int, window: int) -> None:
        api, ledger, topic = self.api, self.ledger, self.topic
        seqs = range(chunk * CHUNK, (chunk + 1) * CHUNK)
        now = time.monotonic()
        for seq in seqs:
            ledger.sent_at[seq] = now
            ledger.window_of[seq] = window
        if api == "produce":
            for seq in seqs:
                self.producer.produce(
                    topic,
                    value_of(api, seq),
                    key=key_of(api, seq),
                    on_delivery=partial(ledger.on_delivery, seq),
                )
        elif api == "send_async":
            futures = []
            for seq in seqs:
                future = self.producer.send_async(topic, value_of(api, seq), key=key_of(api, seq))
                assert isinstance(future, asyncio.Future)
                future.add_done_callback(partial(ledger.on_future, seq))
                futures.append(future)
            self._pending.append(asyncio.gather(*futures, return_exceptions=True))
            while len(self._pending) > ASYNC_CHUNKS_IN_FLIGHT:
                self.blocked = True
                await self._pending.popleft()
                self.blocked = False
        else:
            values = [value_of(api, seq) for seq in seqs]
            keys = [key_of(api, seq) for seq in seqs]
            self.blocked = True
            results = self.producer.send_batch(topic, values, keys=keys, timeout=self.send_timeout)
            self.blocked = False
            assert len(results) == CHUNK, f"send_batch returned {len(results)} results"
            for seq, result in zip(seqs, results, strict=True):
                ledger.report(seq, result)

    async def _finish(self) -> None:
        while self._pending:
            await self._pending.popleft()
        self.producer.flush(timeout=self.send_timeout)
        await asyncio.sleep(0.2)  # done callbacks queued by the last resolutions


def producer_timeout_s(mode: str) -> float:
    return (PATIENT_MS if mode == "patient" else IMPATIENT_MS) / 1000


# ---------------------------------------------------------------------------------
# cluster state, through the independent client


def admin_for(cluster: kafka_cluster.Cluster) -> AdminClient:
    # log_level 0: a dead node must not fill stderr with connection refusals
    return AdminClient(
        {"bootstrap.servers": cluster.bootstrap_servers, "socket.timeout.ms": 3000, "log_level": 0}
    )


def wait_until(what: str, predicate: Callable[[], bool], timeout: float = STEP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except AssertionError:  # a sender failed
            raise
        except Exception:  # metadata from a cluster in flux: ask again
            pass
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


def partition_states(admin: AdminClient, topics: list[str]) -> list[tuple[int, int]]:
    """(leader, ISR size) of every partition of ``topics``."""
    states = []
    for topic in topics:
        meta = admin.list_topics(topic, timeout=5).topics[topic]
        if meta.error is not None or len(meta.partitions) != PARTITIONS:
            raise RuntimeError(f"{topic}: {meta.error}")
        states += [(p.leader, len(p.isrs)) for p in meta.partitions.values()]
    return states


def fully_replicated(admin: AdminClient, topics: list[str]) -> bool:
    return all(leader >= 0 and isr == 3 for leader, isr in partition_states(admin, topics))


def leader_of(admin: AdminClient, topic: str, partition: int) -> int:
    leader = admin.list_topics(topic, timeout=10).topics[topic].partitions[partition].leader
    assert leader >= 0, f"{topic}[{partition}] has no leader"
    return int(leader)


def is_paused(node: kafka_cluster.Node) -> bool:
    if not node.running() or node.pid is None:
        return False
    try:
        with open(f"/proc/{node.pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "T"
    except OSError:
        return False


def make_healthy(cluster: kafka_cluster.Cluster, topics: list[str]) -> None:
    """Every node running and in metadata, every partition of ``topics`` led and
    fully replicated: the state the next test expects."""
    for node in cluster.nodes:
        if is_paused(node):
            cluster.resume(node.node_id)
    for node in cluster.nodes:
        if not node.running():
            cluster.restart(node.node_id, timeout=120)
    cluster.wait_ready(120)
    admin = admin_for(cluster)
    if topics:
        wait_until(
            f"every partition of {topics} led with 3 in-sync replicas",
            lambda: fully_replicated(admin, topics),
        )


def log_size(bootstrap: str, topic: str) -> int:
    """Records in the topic: high minus low watermark of every partition (no
    transactions, so no control records)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "failover-watermarks"})
    try:
        total = 0
        for p in range(PARTITIONS):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
            total += high - low
        return total
    finally:
        consumer.close()


# ---------------------------------------------------------------------------------
# one run: senders, the driver, the accounting


class Run:
    """The senders of one scenario and the driver's view of them."""

    def __init__(self, cluster: kafka_cluster.Cluster, scenario: str, stages: Stages) -> None:
        self.cluster, self.scenario, self.stages = cluster, scenario, stages
        self.admin = admin_for(cluster)
        self.senders: list[Sender] = []
        self.elapsed = 0.0

    @property
    def topics(self) -> list[str]:
        return [s.topic for s in self.senders]

    def add(self, api: str, mode: str, request_timeout_ms: int) -> Sender:
        bootstrap = self.cluster.bootstrap_servers
        topic = create_topic(
            bootstrap, PARTITIONS, prefix=f"failover-{api}-{mode}", replication_factor=3
        )
        producer = kafkify.Producer(
            bootstrap,
            client_id=f"failover-{api}-{mode}",
            delivery_timeout_ms=PATIENT_MS if mode == "patient" else IMPATIENT_MS,
            request_timeout_ms=request_timeout_ms,
            reconnect_backoff_max_ms=1000,  # librdkafka's default is 10 s
        )
        sender = Sender(api, mode, producer, topic, self.stages)
        self.senders.append(sender)
        return sender

    # -- driver steps -------------------------------------------------------------
    def _check_senders(self) -> None:
        for s in self.senders:
            if s.error is not None:
                raise AssertionError(f"{s.label} sender failed: {s.error!r}") from s.error

    def wait_queued(self, window: int) -> None:
        """Until every sender has queued the window's minimum number of chunks."""
        need = self.stages.windows[window].min_chunks
        stalled = self.stages.windows[window].stalled

        def progressed(s: Sender) -> bool:
            if stalled and s.blocked:
                return True
            return window in s.first_chunk and (
                s.sent_count() >= (s.first_chunk[window] + need) * CHUNK
            )

        def queued() -> bool:
            self._check_senders()
            return all(progressed(s) for s in self.senders)

        wait_until(f"{need} chunks queued by each sender in window {window}", queued)

    def wait_delivered(self, count: int) -> None:
        wait_until(
            f"{count} records delivered by each sender",
            lambda: all(s.ledger.delivered >= count for s in self.senders),
        )

    def fault(self, what: str) -> float:
        """Note the time of a fault the caller is about to inject, once every sender
        has records in flight (waiting at most 5 s for that)."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not all(
            s.producer.metrics()["kafkify"]["in_flight"] > 0 for s in self.senders
        ):
            time.sleep(0.001)
        at = time.monotonic()
        self.stages.faults.append((what, at))
        return at

    def leaders_not_on(self, node_ids: set[int]) -> None:
        wait_until(
            f"every partition led by a node other than {sorted(node_ids)}",
            lambda: all(
                leader >= 0 and leader not in node_ids
                for leader, _ in partition_states(self.admin, self.topics)
            ),
        )

    def full_isrs(self) -> None:
        wait_until(
            "every partition fully in sync again",
            lambda: fully_replicated(self.admin, self.topics),
        )

    # -- the whole run ------------------------------------------------------------
    def execute(self, driver: Callable[[Run], None], timeout: float) -> None:
        started = time.monotonic()
        try:
            self.stages.open(0)
            for s in self.senders:
                s.thread.start()
            driver(self)
            for s in self.senders:
                s.thread.join(timeout=max(1.0, timeout - (time.monotonic() - started)))
                assert not s.thread.is_alive(), f"{s.label} sender hung"
            self._check_senders()
        finally:
            self.stages.abort()
            make_healthy(self.cluster, self.topics)
            for s in self.senders:
                if s.thread.ident is not None:  # started
                    s.thread.join(timeout=producer_timeout_s(s.mode) + 60)
                s.producer.close(timeout=30)
        self.elapsed = time.monotonic() - started


@dataclass
class Figures:
    """One sender's run, as the independent consumer and its own reports tell it.

    ``duplicated``/``out_of_order`` cover records reported *delivered*: they must be
    0. A record reported *failed* (its delivery timeout ran out) may still be in the
    log, even twice and behind later records: librdkafka cannot know whether a
    timed-out in-flight request was written, and after the epoch bump that a timeout
    forces it sends what was still in flight again under the new epoch, which the
    broker cannot deduplicate (confluent-kafka does the same; librdkafka issue #4953).
    Those are counted apart (``failed_in_log``, ``failed_twice``,
    ``out_of_order_with_failed``) and printed, not asserted.
    """

    label: str
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    failure_kinds: collections.Counter[str] = field(default_factory=collections.Counter)
    not_typed_retriable: int = 0
    failed_in_log: int = 0
    failed_twice: int = 0
    lost: int = 0  # reported delivered (or never reported) but not in the log
    duplicated: int = 0
    out_of_order: int = 0
    out_of_order_with_failed: int = 0
    misplaced: int = 0  # reported (topic, partition, offset) not where the record is
    unresolved: int = 0
    multiply_reported: int = 0
    corrupt: int = 0
    in_flight_at_fault: list[int] = field(default_factory=list)  # sent before, reported after
    counters_off: str = ""
    by_window: dict[str, int] = field(default_factory=dict)
    recovery: list[tuple[str, float | None]] = field(default_factory=list)

    def line(self, scenario: str) -> str:
        kinds = ", ".join(f"{k} x{n}" for k, n in sorted(self.failure_kinds.items())) or "-"
        windows = " / ".join(f"{n} {w}" for w, n in self.by_window.items())
        recovery = ", ".join(
            f"{what}: {'n/a' if s is None else f'{s:.1f} s'}" for what, s in self.recovery
        )
        failed = f"failed {self.failed}"
        if self.failed:
            failed += (
                f" ({kinds}; in the log anyway: {self.failed_in_log}, twice: "
                f"{self.failed_twice}; out of order counting them: "
                f"{self.out_of_order_with_failed})"
            )
        return (
            f"[{scenario}] {self.label}: sent {self.sent} ({windows}; "
            f"in flight at the fault: {'/'.join(map(str, self.in_flight_at_fault))}); "
            f"delivered {self.delivered}; "
            f"{failed}; lost {self.lost}; duplicated {self.duplicated}; out of order "
            f"{self.out_of_order}; misplaced {self.misplaced}; unresolved {self.unresolved}; "
            f"reported twice+ {self.multiply_reported}; corrupt {self.corrupt}"
            f"{'; counters ' + self.counters_off if self.counters_off else ''}; "
            f"recovery (fault -> first ack, in every partition, of a record sent after it) "
            f"{recovery}"
        )


def descents(entries: list[tuple[int, int]]) -> int:
    """How often, in offset order, a sequence number is below the one before it."""
    seqs = [seq for _, seq in sorted(entries)]
    return sum(b < a for a, b in itertools.pairwise(seqs))


def account(sender: Sender, bootstrap: str, stages: Stages) -> Figures:
    """Compare the sender's ledger with the topic as an independent consumer reads it."""
    ledger, api = sender.ledger, sender.api
    figures = Figures(sender.label)
    in_log = log_size(bootstrap, ledger.topic)
    records = read_back(bootstrap, ledger.topic, in_log, timeout=120)
    assert len(records) == in_log, f"read {len(records)} of {in_log} records back"

    where: list[list[tuple[int, int]]] = [[] for _ in range(RECORDS)]
    for r in records:
        try:
            seq = int(r.key.decode().rsplit("-", 1)[1]) if r.key else -1
            ok = 0 <= seq < RECORDS and (r.key, json.loads(r.value or b"")) == (
                key_of(api, seq).encode(),
                value_of(api, seq),
            )
        except (ValueError, IndexError):
            ok = False
        if not ok:
            figures.corrupt += 1
            continue
        where[seq].append((r.partition, r.offset))

    windows = stages.windows
    by_window: collections.Counter[int] = collections.Counter()
    delivered_at: dict[int, list[tuple[int, int]]] = collections.defaultdict(list)
    everything_at: dict[int, list[tuple[int, int]]] = collections.defaultdict(list)
    for seq in range(RECORDS):
        reports, outcome, places = ledger.reports[seq], ledger.outcome[seq], where[seq]
        for partition, offset in places:
            everything_at[partition].append((offset, seq))
        if ledger.window_of[seq] < 0:
            continue
        figures.sent += 1
        by_window[ledger.window_of[seq]] += 1
        figures.multiply_reported += reports > 1
        if reports == 0:
            figures.unresolved += 1
            figures.lost += not places
        elif isinstance(outcome, RecordMetadata):
            figures.delivered += 1
            figures.lost += not places
            figures.duplicated += len(places) > 1
            for partition, offset in places:
                delivered_at[partition].append((offset, seq))
            if outcome.topic != ledger.topic or (outcome.partition, outcome.offset) not in places:
                figures.misplaced += 1
        else:
            figures.failed += 1
            figures.failed_in_log += bool(places)
            figures.failed_twice += len(places) > 1
            assert outcome is not None
            name = getattr(outcome, "name", None)
            figures.failure_kinds[f"{type(outcome).__name__}({name})"] += 1
            typed_retriable = (
                isinstance(outcome, KafkaError) and outcome.code is not None and outcome.retriable
            )
            figures.not_typed_retriable += not typed_retriable
    figures.out_of_order = sum(descents(e) for e in delivered_at.values())
    figures.out_of_order_with_failed = sum(descents(e) for e in everything_at.values())
    figures.by_window = {windows[w].name: by_window[w] for w in sorted(by_window)}

    counters = sender.producer.metrics()["kafkify"]
    expected = {
        "sent": figures.sent,
        "delivered": figures.delivered,
        "failed": figures.failed,
        "in_flight": 0,
        "queue_bytes": 0,
    }
    actual = {k: counters[k] for k in expected}
    if actual != expected:
        figures.counters_off = f"metrics() {actual} vs reports {expected}"

    for what, at in stages.faults:
        figures.in_flight_at_fault.append(
            sum(
                ledger.sent_at[seq] < at and (ledger.reports[seq] == 0 or ledger.acked_at[seq] > at)
                for seq in range(RECORDS)
                if ledger.window_of[seq] >= 0
            )
        )
        first: dict[int, float] = {}
        for seq in range(RECORDS):
            outcome = ledger.outcome[seq]
            if isinstance(outcome, RecordMetadata) and ledger.sent_at[seq] >= at:
                acked = ledger.acked_at[seq]
                if outcome.partition not in first or acked < first[outcome.partition]:
                    first[outcome.partition] = acked
        slowest = max(first.values()) - at if len(first) == PARTITIONS else None
        figures.recovery.append((what, slowest))
    return figures


def check(run: Run) -> None:
    """Account for every sender, print the figures, then assert on them."""
    bootstrap = run.cluster.bootstrap_servers
    all_figures = [account(s, bootstrap, run.stages) for s in run.senders]
    outage = "; ".join(f"{what} {s:.1f} s" for what, s in run.stages.outage)
    header = f"[{run.scenario}] {run.elapsed:.0f} s" + (f"; {outage}" if outage else "")
    lines = [header] + [f.line(run.scenario) for f in all_figures]
    SUMMARY.extend(lines)
    report = "\n".join(lines)
    print("\n" + report)
    for f, s in zip(all_figures, run.senders, strict=True):
        problems = {
            "sent": f.sent != RECORDS,
            "lost": f.lost,
            "duplicated": f.duplicated,
            "out of order": f.out_of_order,
            "misplaced": f.misplaced,
            "unresolved": f.unresolved,
            "reported more than once": f.multiply_reported,
            "corrupt": f.corrupt,
            "counters": f.counters_off,
            "failures not typed and retriable": f.not_typed_retriable,
        }
        if s.mode == "patient":
            problems["failed although the delivery timeout outlasted the fault"] = f.failed
        else:
            problems["no failure although the outage outlasted the delivery timeout"] = (
                f.failed == 0
            )
        bad = [name for name, value in problems.items() if value]
        assert not bad, f"{f.label}: {', '.join(bad)}\n{report}"


def scenario(
    cluster: kafka_cluster.Cluster,
    name: str,
    windows: list[Window],
    driver: Callable[[Run], None],
    request_timeout_ms: int,
    modes: tuple[str, ...] = ("patient",),
    timeout: float = 200.0,
) -> None:
    make_healthy(cluster, [])
    run = Run(cluster, name, Stages(windows))
    try:
        for mode in modes:
            for api in ("produce", "send_async", "send_batch"):
                run.add(api, mode, request_timeout_ms)
        run.execute(driver, timeout)
    finally:
        make_healthy(cluster, run.topics)
    check(run)


# ---------------------------------------------------------------------------------
# the scenarios


@pytest.mark.timeout(300)
def test_sigkill_partition_leader_mid_stream_then_restart(kafka3: kafka_cluster.Cluster) -> None:
    windows = [
        Window("before", 10, 40, 0.1),
        Window("leader killed", 5, 40, 0.1),
        Window("after restart", 0, 0, 0.02),
    ]

    def driver(run: Run) -> None:
        run.wait_queued(0)
        run.wait_delivered(5 * CHUNK)
        victim = leader_of(run.admin, run.topics[0], 0)
        down = run.fault(f"SIGKILL node {victim}")
        run.cluster.kill(victim)
        run.stages.open(1)
        run.wait_queued(1)
        run.leaders_not_on({victim})  # failover: the records keep going meanwhile
        run.cluster.restart(victim)
        run.stages.outage.append((f"node {victim} down", time.monotonic() - down))
        run.stages.open(2)

    scenario(kafka3, "sigkill leader", windows, driver, request_timeout_ms=10_000)


@pytest.mark.timeout(300)
def test_sigstop_leader_longer_than_request_timeout_then_sigcont(
    kafka3: kafka_cluster.Cluster,
) -> None:
    pause_s = 6.0
    windows = [
        Window("before", 10, 40, 0.1),
        # stalled: requests in flight to the paused leader hold their senders until
        # socket.timeout.ms (= request_timeout_ms, 3 s) abandons them and a new
        # leader takes them.
        Window("leader paused", 3, 40, 0.1, stalled=True),
        Window("after resume", 0, 0, 0.02),
    ]

    def driver(run: Run) -> None:
        run.wait_queued(0)
        run.wait_delivered(5 * CHUNK)
        victim = leader_of(run.admin, run.topics[1], 0)
        paused = run.fault(f"SIGSTOP node {victim}")
        run.cluster.pause(victim)
        run.stages.open(1)
        try:
            run.wait_queued(1)
            time.sleep(max(0.0, paused + pause_s - time.monotonic()))
        finally:
            run.cluster.resume(victim)
        run.stages.outage.append((f"node {victim} paused", time.monotonic() - paused))
        run.cluster.wait_ready(120)
        run.stages.open(2)

    scenario(kafka3, "sigstop 6 s", windows, driver, request_timeout_ms=3000)


@pytest.mark.timeout(400)
def test_rolling_restart_of_every_node_while_producing(kafka3: kafka_cluster.Cluster) -> None:
    windows = [Window("before", 10, 35, 0.1)]
    for node in kafka3.nodes:
        windows.append(Window(f"node {node.node_id} down", 2, 10, 0.5))
        windows.append(Window(f"node {node.node_id} back", 2, 12, 0.2))
    windows[-1] = Window("after", 0, 0, 0.02)  # the last node back: the rest

    def driver(run: Run) -> None:
        run.wait_queued(0)
        run.wait_delivered(5 * CHUNK)
        window = 1
        for node in run.cluster.nodes:
            node_id = node.node_id
            down = run.fault(f"SIGTERM node {node_id}")
            run.cluster.stop_node(node_id)
            run.stages.open(window)
            run.wait_queued(window)
            run.cluster.restart(node_id)
            run.full_isrs()  # before the next node goes: no partition below min ISR
            run.stages.outage.append((f"node {node_id} down+resync", time.monotonic() - down))
            run.stages.open(window + 1)
            if window + 1 < len(windows) - 1:
                run.wait_queued(window + 1)
            window += 2

    scenario(kafka3, "rolling restart", windows, driver, timeout=350, request_timeout_ms=10_000)


@pytest.mark.timeout(400)
def test_two_of_three_nodes_down_records_delivered_after_recovery_or_failed_retriable(
    kafka3: kafka_cluster.Cluster,
) -> None:
    windows = [
        Window("before", 10, 40, 0.1),
        Window("2 nodes down", 1, 20, 0.1, stalled=True),
        Window("1 node back", 1, 20, 0.1),
        Window("after", 0, 0, 0.02),
    ]

    def driver(run: Run) -> None:
        run.wait_queued(0)
        run.wait_delivered(5 * CHUNK)
        first = leader_of(run.admin, run.topics[0], 0)
        second = next(n.node_id for n in run.cluster.nodes if n.node_id != first)
        down = run.fault(f"SIGKILL nodes {first}+{second}")
        run.cluster.kill(first)
        run.cluster.kill(second)
        run.stages.open(1)
        run.wait_queued(1)
        # The outage must outlast the impatient producers' delivery timeout: keep
        # both nodes down until each of them has seen a record fail.
        impatient = [s for s in run.senders if s.mode == "impatient"]
        wait_until(
            "a failure reported to each impatient producer",
            lambda: all(s.ledger.failed > 0 for s in impatient),
        )
        run.cluster.restart(first)  # min.insync.replicas met again
        run.stages.outage.append(("below min ISR", time.monotonic() - down))
        run.stages.open(2)
        run.wait_queued(2)
        run.cluster.restart(second)
        run.stages.outage.append(("a node down", time.monotonic() - down))
        run.stages.open(3)

    scenario(
        kafka3,
        "2 of 3 down",
        windows,
        driver,
        modes=("patient", "impatient"),
        timeout=350,
        request_timeout_ms=3000,
    )
