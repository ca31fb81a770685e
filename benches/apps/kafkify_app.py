"""examples/fastapi_app.py as shipped, with the benchmark's producer settings.

    PYTHONPATH=examples KAFKA_BOOTSTRAP=... ORDERS_TOPIC=... \
        uvicorn kafkify_app:app --app-dir benches/apps

The routes, models and dependency are the example's own (imported, not copied); only
its lifespan is replaced by one with the same options plus compression_type="none":
kafkify defaults to lz4, and benches/workload.py's RDKAFKA_SETTINGS (which
benches/fastapi_load.py gives every app) say no compression. acks=all, idempotence and
linger 5 ms are kafkify's defaults already.
"""

from __future__ import annotations

import os

from fastapi_app import app

from kafkify.fastapi import kafka_lifespan

__all__ = ["app"]

app.router.lifespan_context = kafka_lifespan(
    bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP", "localhost:9092"),
    client_id="orders-api",
    acks="all",
    enable_idempotence=True,
    linger_ms=5,
    compression_type="none",
)
