"""A small orders API: each POST publishes an event and says where it landed.

    KAFKA_BOOTSTRAP=localhost:9092 uvicorn fastapi_app:app --app-dir examples

Environment: KAFKA_BOOTSTRAP (default localhost:9092), ORDERS_TOPIC (default "orders").
"""

from __future__ import annotations

import os
import uuid

from fastapi import FastAPI
from pydantic import BaseModel, Field

from kafkify.fastapi import ProducerDep, kafka_lifespan

TOPIC = os.environ.get("ORDERS_TOPIC", "orders")

app = FastAPI(
    title="orders",
    lifespan=kafka_lifespan(
        bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP", "localhost:9092"),
        client_id="orders-api",
    ),
)


class Order(BaseModel):
    user_id: str
    amount: float = Field(gt=0)
    items: list[str] = []


class Placed(BaseModel):
    order_id: str
    topic: str
    partition: int
    offset: int


@app.post("/orders", status_code=201)
async def place_order(order: Order, producer: ProducerDep) -> Placed:
    order_id = uuid.uuid4().hex
    event = {"type": "order_placed", "order_id": order_id, **order.model_dump()}
    # Keyed by user: one user's orders stay in order on one partition.
    meta = await producer.send_async(TOPIC, event, key=order.user_id)
    return Placed(order_id=order_id, topic=meta.topic, partition=meta.partition, offset=meta.offset)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
