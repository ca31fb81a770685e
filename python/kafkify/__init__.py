"""kafkify: a Kafka producer for Python with a Rust core (librdkafka, linked statically).

producer = kafkify.Producer(bootstrap_servers="localhost:9092")
meta = producer.send("orders", {"order_id": 1}, key="user-1")   # blocks until acked
meta = await producer.send_async("orders", {"order_id": 2})      # asyncio
producer.produce("events", {"type": "click"}, on_delivery=cb)    # fire-and-forget
producer.close()                                                  # flushes first
"""

from __future__ import annotations

import atexit

from kafkify import errors
from kafkify._kafkify import (
    Producer,
    RecordMetadata,
    Transaction,
    __version__,
    _shutdown_all,
    dumps,
    librdkafka_error_codes,
    librdkafka_features,
    librdkafka_version,
)
from kafkify.errors import (
    AuthenticationError,
    AuthorizationError,
    ConfigError,
    IllegalStateError,
    InvalidArgumentError,
    InvalidTopicError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NoBrokersAvailable,
    ProducerClosedError,
    ProducerFencedError,
    ProducerForkedError,
    QueueFullError,
    RecordPurgedError,
    SerializationError,
    SerializationRecursionError,
    UnknownTopicOrPartitionError,
)

# Producers nobody closed are flushed here, before the interpreter finalizes:
# later, no thread may touch Python (see src/client.rs).
atexit.register(_shutdown_all)

__all__ = [
    "Producer",
    "RecordMetadata",
    "Transaction",
    "__version__",
    "dumps",
    "errors",
    "librdkafka_error_codes",
    "librdkafka_features",
    "librdkafka_version",
    "AuthenticationError",
    "AuthorizationError",
    "ConfigError",
    "IllegalStateError",
    "InvalidArgumentError",
    "InvalidTopicError",
    "KafkaConnectionError",
    "KafkaError",
    "KafkaTimeoutError",
    "MessageSizeTooLargeError",
    "NoBrokersAvailable",
    "ProducerClosedError",
    "ProducerFencedError",
    "ProducerForkedError",
    "QueueFullError",
    "RecordPurgedError",
    "SerializationError",
    "SerializationRecursionError",
    "UnknownTopicOrPartitionError",
]
