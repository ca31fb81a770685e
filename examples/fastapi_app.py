"""A small orders API: each POST publishes an event and says where it landed.

    KAFKA_BOOTSTRAP=localhost:9092 uvicorn fastapi_app:app --app-dir examples

Environment: KAFKA_BOOTSTRAP (default localhost:9092), ORDERS_TOPIC (default "orders").

With ORDERS_TRACING=1 it runs with OpenTelemetry (needs opentelemetry-sdk and
opentelemetry-instrumentation-fastapi): each request gets a SERVER span (a
`traceparent` sent with the request is its parent), kafkify's `send orders`
span is its child, and the event carries that span's `traceparent` header, so
a consumer continues the same trace. Spans go to stdout, or as JSON lines to the
file ORDERS_SPANS_FILE names. Setting up OpenTelemetry is all it takes: the
producer traces because a tracer provider is configured.
"""

from __future__ import annotations

import os
import uuid

from fastapi import FastAPI
from pydantic import BaseModel, Field

from kafkify.fastapi import ProducerDep, kafka_lifespan

TOPIC = os.environ.get("ORDERS_TOPIC", "orders")


def set_up_tracing(app: FastAPI) -> None:
    """The standard OpenTelemetry setup; nothing in it is kafkify's."""
    from opentelemetry import trace
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    path = os.environ.get("ORDERS_SPANS_FILE")
    exporter = (
        ConsoleSpanExporter(
            out=open(path, "a", buffering=1),  # open for the process's life
            formatter=lambda span: span.to_json(indent=None) + "\n",
        )
        if path
        else ConsoleSpanExporter()
    )
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    FastAPIInstrumentor.instrument_app(app)


app = FastAPI(
    title="orders",
    lifespan=kafka_lifespan(
        bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP", "localhost:9092"),
        client_id="orders-api",
    ),
)
if os.environ.get("ORDERS_TRACING") == "1":
    # Before the lifespan creates the producer: it traces when a provider is set.
    set_up_tracing(app)


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
