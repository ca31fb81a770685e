"""examples/fastapi_app.py written with aiokafka: the same routes, models (imported
from the example), environment and producer settings, for benches/fastapi_load.py.

    PYTHONPATH=examples KAFKA_BOOTSTRAP=... ORDERS_TOPIC=... \
        uvicorn aiokafka_app:app --app-dir benches/apps

The producer is started in the lifespan and each request awaits its record's
acknowledgement (``send_and_wait``), as the example awaits ``send_async``.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from aiokafka import AIOKafkaProducer
from fastapi import Depends, FastAPI, Request
from fastapi_app import Order, Placed

TOPIC = os.environ.get("ORDERS_TOPIC", "orders")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    # benches/workload.py's RDKAFKA_SETTINGS in aiokafka's names (its compression
    # default is none already).
    producer = AIOKafkaProducer(
        bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP", "localhost:9092"),
        client_id="orders-api",
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        compression_type=None,
        value_serializer=lambda v: json.dumps(v).encode(),
        key_serializer=str.encode,
    )
    await producer.start()
    try:
        yield {"producer": producer}
    finally:
        await producer.stop()


# An async dependency like kafkify.fastapi's ProducerDep (a plain def would run on
# FastAPI's thread pool, a hop per request): keep the apps alike.
async def get_producer(request: Request) -> AIOKafkaProducer:
    producer: AIOKafkaProducer = request.state.producer
    return producer


ProducerDep = Annotated[AIOKafkaProducer, Depends(get_producer)]

app = FastAPI(title="orders", lifespan=lifespan)


@app.post("/orders", status_code=201)
async def place_order(order: Order, producer: ProducerDep) -> Placed:
    order_id = uuid.uuid4().hex
    event = {"type": "order_placed", "order_id": order_id, **order.model_dump()}
    meta = await producer.send_and_wait(TOPIC, event, key=order.user_id)
    return Placed(order_id=order_id, topic=meta.topic, partition=meta.partition, offset=meta.offset)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
