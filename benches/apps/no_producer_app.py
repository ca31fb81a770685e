"""examples/fastapi_app.py without a producer: the same route and models, the event
built but not sent. benches/fastapi_load.py's ceiling row: what one uvicorn worker
serves when producing costs nothing, so no client's app can beat it.

    PYTHONPATH=examples uvicorn no_producer_app:app --app-dir benches/apps
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from fastapi import FastAPI
from fastapi_app import Order, Placed

TOPIC = os.environ.get("ORDERS_TOPIC", "orders")
app = FastAPI(title="orders")


@app.post("/orders", status_code=201)
async def place_order(order: Order) -> Placed:
    order_id = uuid.uuid4().hex
    event: dict[str, Any] = {"type": "order_placed", "order_id": order_id, **order.model_dump()}
    return Placed(order_id=event["order_id"], topic=TOPIC, partition=-1, offset=-1)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
