"""examples/fastapi_app.py written with confluent-kafka's AIOProducer: the same
routes, models (imported from the example), environment and producer settings, for
benches/fastapi_load.py.

    PYTHONPATH=examples:benches KAFKA_BOOTSTRAP=... ORDERS_TOPIC=... \
        uvicorn aio_producer_app:app --app-dir benches/apps

Tuned as benches/contenders.py's aio_producer_asyncio is (see its docstring): a
delivery future resolves only when something calls poll(), and with every request
waiting on its own delivery nothing does but the buffer-timeout monitor, which looks
at most every 100 ms. So: a 5 ms buffer_timeout, a batch_size, and a task in the
lifespan that keeps calling poll().
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from confluent_kafka.aio import AIOProducer
from fastapi import Depends, FastAPI, Request
from fastapi_app import Order, Placed
from workload import RDKAFKA_SETTINGS

TOPIC = os.environ.get("ORDERS_TOPIC", "orders")
# Records handed to librdkafka per thread-pool hop: as in contenders.py, the number of
# concurrent senders (benches/fastapi_load.py passes wrk's connection count). More
# than that and a batch fills only when the 100 ms monitor looks: a fixed 100 at 50
# connections served ~450 requests/s, against ~1,200 with 50 (or with 1).
BATCH_SIZE = int(os.environ.get("AIO_PRODUCER_BATCH_SIZE", "100"))


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    conf = {
        **RDKAFKA_SETTINGS,
        "bootstrap.servers": os.environ.get("KAFKA_BOOTSTRAP", "localhost:9092"),
        "client.id": "orders-api",
    }
    producer = AIOProducer(conf, batch_size=BATCH_SIZE, buffer_timeout=0.005)
    polling = True

    async def poller() -> None:
        while polling:
            await producer.poll(0.1)  # returns as soon as a delivery report is served

    poll_task = asyncio.create_task(poller())
    try:
        yield {"producer": producer}
    finally:
        polling = False
        await poll_task
        await producer.close()


# An async dependency like kafkify.fastapi's ProducerDep (a plain def would run on
# FastAPI's thread pool, a hop per request): keep the apps alike.
async def get_producer(request: Request) -> AIOProducer:
    producer: AIOProducer = request.state.producer
    return producer


ProducerDep = Annotated[AIOProducer, Depends(get_producer)]

app = FastAPI(title="orders", lifespan=lifespan)


@app.post("/orders", status_code=201)
async def place_order(order: Order, producer: ProducerDep) -> Placed:
    order_id = uuid.uuid4().hex
    event = {"type": "order_placed", "order_id": order_id, **order.model_dump()}
    delivered = await producer.produce(TOPIC, json.dumps(event).encode(), key=order.user_id)
    msg = await delivered  # raises KafkaException when the record failed
    return Placed(
        order_id=order_id, topic=msg.topic(), partition=msg.partition(), offset=msg.offset()
    )


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}
