"""kafkify.fastapi: examples/fastapi_app.py served by uvicorn as a real server
process on 127.0.0.1, driven with real HTTP requests (httpx), every event read back
from the broker."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

import kafkify
from kafkify.fastapi import get_producer, kafka_lifespan

from helpers import ROOT, closed_port, read_back


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str

    def interrupt(self) -> None:
        """SIGINT, what Ctrl+C sends: uvicorn stops accepting, finishes what is in
        flight, then runs the lifespan's shutdown."""
        self.process.send_signal(signal.SIGINT)

    def stop(self) -> str:
        """Interrupt, then wait for the graceful exit; returns the server's output."""
        self.interrupt()
        output, _ = self.process.communicate(timeout=60)
        return output


@contextmanager
def serving(bootstrap: str, topic: str, **env: str) -> Iterator[Server]:
    """examples/fastapi_app.py under uvicorn on a free port, with ``env`` added."""
    port = closed_port()
    app_dir = str(ROOT / "examples")
    command = [sys.executable, "-m", "uvicorn", "fastapi_app:app", "--app-dir", app_dir, "--host"]
    command += ["127.0.0.1", "--port", str(port), "--timeout-graceful-shutdown", "30"]
    process = subprocess.Popen(
        command,
        # Should the server die of a signal, say why: glibc writes its fatal messages
        # (heap corruption) to /dev/tty unless LIBC_FATAL_STDERR_ is set, and
        # faulthandler prints every thread's Python stack on SIGABRT/SIGSEGV.
        env={
            **os.environ,
            "KAFKA_BOOTSTRAP": bootstrap,
            "ORDERS_TOPIC": topic,
            "LIBC_FATAL_STDERR_": "1",
            "PYTHONFAULTHANDLER": "1",
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=str(ROOT / "tests"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.communicate()[0]
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start within 60 s"
            time.sleep(0.05)
        yield Server(process, url)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)


@pytest.fixture
def server(bootstrap: str, topic: str) -> Iterator[Server]:
    with serving(bootstrap, topic) as running:
        yield running


async def place_orders(
    url: str, count: int, in_flight: int, after: int | None = None, then: Any = None
) -> list[tuple[dict[str, Any], httpx.Response | Exception]]:
    """POST ``count`` orders, ``in_flight`` at a time; call ``then()`` once ``after``
    responses have arrived. Returns (order, response or the transport error)."""
    slots = asyncio.Semaphore(in_flight)
    answered = 0
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def one(i: int) -> tuple[dict[str, Any], httpx.Response | Exception]:
            nonlocal answered
            order = {"user_id": f"user-{i % 37}", "amount": i + 1.5, "items": [f"sku-{i}"]}
            async with slots:
                try:
                    response: httpx.Response | Exception = await client.post("/orders", json=order)
                except httpx.TransportError as e:
                    response = e
            answered += 1
            if answered == after:
                then()
            return order, response

        return await asyncio.gather(*(one(i) for i in range(count)))


def check_events(bootstrap: str, topic: str, placed: list[tuple[dict[str, Any], Any]]) -> None:
    """Every placed order's event is on the broker, where its response said."""
    events = read_back(bootstrap, topic, len(placed), timeout=120)
    stored = {(e.partition, e.offset): e for e in events}
    assert len(stored) == len(events) == len(placed)
    for order, answer in placed:
        event = stored[(answer["partition"], answer["offset"])]
        assert event.key == order["user_id"].encode()
        assert json.loads(event.value) == {
            "type": "order_placed",
            "order_id": answer["order_id"],
            **order,
        }


def test_a_thousand_requests_fifty_in_flight_every_event_on_the_broker(
    server: Server, bootstrap: str, topic: str
) -> None:
    results = asyncio.run(place_orders(server.url, 1000, in_flight=50))
    statuses = [r.status_code if isinstance(r, httpx.Response) else r for _, r in results]
    assert statuses == [201] * 1000
    placed = [(order, response.json()) for order, response in results]
    assert {answer["topic"] for _, answer in placed} == {topic}
    check_events(bootstrap, topic, placed)
    output = server.stop()
    assert server.process.returncode == 0, output
    assert "Application shutdown complete" in output


def test_shutdown_with_requests_in_flight_loses_nothing(
    server: Server, bootstrap: str, topic: str
) -> None:
    # Ctrl+C once 100 of 600 orders are answered, with 50 still in flight.
    results = asyncio.run(
        place_orders(server.url, 600, in_flight=50, after=100, then=server.interrupt)
    )
    output, _ = server.process.communicate(timeout=60)
    assert server.process.returncode == 0, output
    assert "Application shutdown complete" in output
    placed = [
        (order, r.json())
        for order, r in results
        if isinstance(r, httpx.Response) and r.status_code == 201
    ]
    refused = [r for _, r in results if not isinstance(r, httpx.Response)]
    assert len(placed) >= 100 and len(placed) + len(refused) == 600
    check_events(bootstrap, topic, placed)


def request_for(app: FastAPI, state: dict[str, Any] | None) -> Request:
    """The request object a route would get (Starlette copies the lifespan state in)."""
    scope: dict[str, Any] = {"type": "http", "app": app, "headers": []}
    if state is not None:
        scope["state"] = dict(state)
    return Request(scope)


def test_lifespan_composes_with_the_app_s_own(bootstrap: str, topic: str) -> None:
    seen: list[str] = []

    @asynccontextmanager
    async def own(app: FastAPI) -> AsyncIterator[dict[str, str]]:
        assert isinstance(app.state.kafkify_producer, kafkify.Producer)  # already there
        seen.append("startup")
        yield {"db": "connected"}
        seen.append("shutdown")

    app = FastAPI()
    lifespan = kafka_lifespan(own, bootstrap_servers=bootstrap, client_id="composed")

    async def serve() -> kafkify.Producer:
        async with lifespan(app) as state:
            request = request_for(app, state)
            assert request.state.db == "connected"
            producer = get_producer(request)
            await producer.send_async(topic, "from a route")
            return producer

    producer = asyncio.run(serve())
    assert seen == ["startup", "shutdown"]
    assert producer.closed, "closed at shutdown"
    assert [r.value for r in read_back(bootstrap, topic, 1)] == [b'"from a route"']


def test_startup_fails_clearly_without_a_broker_and_routes_need_the_lifespan() -> None:
    dead = f"127.0.0.1:{closed_port()}"
    app = FastAPI()

    async def start() -> None:
        async with kafka_lifespan(bootstrap_servers=dead, start_timeout=1)(app):
            pass

    with pytest.raises(kafkify.NoBrokersAvailable):
        asyncio.run(start())
    with pytest.raises(RuntimeError, match="kafka_lifespan"):
        get_producer(request_for(FastAPI(), None))


def test_with_opentelemetry_the_request_span_is_the_send_span_s_parent_and_the_event_its_child(
    bootstrap: str, topic: str, tmp_path: Path
) -> None:
    """ORDERS_TRACING=1: each request sends its own W3C traceparent (the caller's
    trace); the app's SERVER span continues it, kafkify's ``send`` span is that
    span's child, and the event read back carries the send span's traceparent: the
    same trace id the caller sent."""
    spans_file = tmp_path / "spans.jsonl"
    callers = {f"{i + 1:032x}": f"{i + 1:016x}" for i in range(20)}  # trace id -> caller span
    with serving(bootstrap, topic, ORDERS_TRACING="1", ORDERS_SPANS_FILE=str(spans_file)) as app:
        answers = {}
        for trace_id, caller_span in callers.items():
            order = {"user_id": f"user-{trace_id[-4:]}", "amount": 1.5}
            traceparent = f"00-{trace_id}-{caller_span}-01"
            response = httpx.post(
                f"{app.url}/orders", json=order, headers={"traceparent": traceparent}, timeout=30
            )
            assert response.status_code == 201, response.text
            answers[trace_id] = response.json()
        output = app.stop()
    assert app.process.returncode == 0, output
    spans = [json.loads(line) for line in spans_file.read_text().splitlines()]
    by_id = {s["context"]["span_id"]: s for s in spans}
    events = {(e.partition, e.offset): e for e in read_back(bootstrap, topic, len(callers))}
    for trace_id, answer in answers.items():
        event = events[(answer["partition"], answer["offset"])]
        [traceparent] = [v for k, v in event.headers if k == "traceparent"]
        assert traceparent is not None
        version, event_trace, send_span_id, flags = traceparent.decode().split("-")
        assert (version, event_trace, flags) == ("00", trace_id, "01")
        send = by_id[f"0x{send_span_id}"]
        assert (send["name"], send["kind"]) == (f"send {topic}", "SpanKind.PRODUCER")
        assert send["attributes"]["messaging.kafka.offset"] == answer["offset"]
        request = by_id[send["parent_id"]]
        assert request["kind"] == "SpanKind.SERVER" and request["name"] == "POST /orders"
        assert request["context"]["trace_id"] == f"0x{trace_id}"
        assert request["parent_id"] == f"0x{callers[trace_id]}"
