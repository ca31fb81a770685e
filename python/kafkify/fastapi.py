"""FastAPI integration: one shared producer per app, handed to routes.

    from fastapi import FastAPI
    from kafkify.fastapi import ProducerDep, kafka_lifespan

    app = FastAPI(lifespan=kafka_lifespan(bootstrap_servers="localhost:9092"))

    @app.post("/orders")
    async def create_order(order: dict, producer: ProducerDep) -> dict:
        meta = await producer.send_async("orders", order)
        return {"partition": meta.partition, "offset": meta.offset}

The producer is created at startup (after checking that a broker answers) and, at
shutdown, flushed and closed on a worker thread so the event loop keeps serving
whatever is still running. Needs ``pip install kafkify[fastapi]``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends
from starlette.requests import HTTPConnection

from kafkify import Producer

__all__ = ["ProducerDep", "get_producer", "kafka_lifespan"]

# Where the producer lives in the lifespan state (and so in `request.state`).
STATE_KEY = "kafkify_producer"

Lifespan = Callable[[Any], AbstractAsyncContextManager[Mapping[str, Any] | None]]


def kafka_lifespan(
    lifespan: Lifespan | None = None,
    *,
    start_timeout: float = 10.0,
    close_timeout: float | None = None,
    **options: Any,
) -> Callable[[Any], AbstractAsyncContextManager[dict[str, Any]]]:
    """A FastAPI/Starlette ``lifespan`` that owns one :class:`kafkify.Producer`.

    ``options`` go to ``Producer(...)``. ``lifespan``, when given, is your own
    lifespan: it runs inside this one, so it can already use the producer
    (``app.state.kafkify_producer``), and its state is kept. At shutdown the producer is
    flushed and closed (``close_timeout`` seconds at most; None waits for every
    record) without blocking the event loop.

    Raises (at startup):
        ConfigError: invalid producer options.
        NoBrokersAvailable: no broker answered within ``start_timeout`` seconds.
        KafkaTimeoutError: at shutdown, records were still undelivered after
            ``close_timeout``; they were reported to their callers as failed.
    """

    @asynccontextmanager
    async def run(app: Any) -> AsyncIterator[dict[str, Any]]:
        producer = Producer(**options)
        try:
            await producer.start(timeout=start_timeout)
            app.state.kafkify_producer = producer
            state: dict[str, Any] = {STATE_KEY: producer}
            if lifespan is None:
                yield state
            else:
                async with lifespan(app) as inner:
                    yield {**(inner or {}), **state}
        finally:
            await producer.stop(timeout=close_timeout)

    return run


def get_producer(connection: HTTPConnection) -> Producer:
    """The app's shared producer (a FastAPI dependency, for HTTP and WebSocket routes).

    Raises:
        RuntimeError: the app was not started with ``kafka_lifespan``.
    """
    producer = getattr(connection.state, STATE_KEY, None)
    if producer is None:
        producer = getattr(connection.app.state, STATE_KEY, None)
    if not isinstance(producer, Producer):
        raise RuntimeError(
            "no kafkify producer: create the app with FastAPI(lifespan=kafka_lifespan(...))"
        )
    return producer


async def _producer_dependency(connection: HTTPConnection) -> Producer:
    # An async dependency: FastAPI runs a plain-def one on its thread pool, a
    # thread hop per request that cost the example app a third of its requests/s
    # (benches/fastapi_load.py). get_producer stays a plain function for callers.
    return get_producer(connection)


ProducerDep = Annotated[Producer, Depends(_producer_dependency)]
"""Route parameter type: ``async def route(..., producer: ProducerDep)``."""
