"""The OpenTelemetry names kafkify's spans and metrics use, in one table.

They follow the messaging semantic conventions of OpenTelemetry semantic
conventions 1.44.0 (``SCHEMA_URL``; the ``opentelemetry-semantic-conventions``
0.66b2 package carries the same names, and ``tests/test_otel.py`` checks each
one against it). The messaging conventions are still marked "development"
upstream: when they change, change them here and bump ``SCHEMA_URL``.
"""

from __future__ import annotations

SCHEMA_URL = "https://opentelemetry.io/schemas/1.44.0"

# Span and metric attributes.
MESSAGING_SYSTEM = "messaging.system"
MESSAGING_OPERATION_NAME = "messaging.operation.name"
MESSAGING_OPERATION_TYPE = "messaging.operation.type"
MESSAGING_DESTINATION_NAME = "messaging.destination.name"
MESSAGING_DESTINATION_PARTITION_ID = "messaging.destination.partition.id"
MESSAGING_KAFKA_MESSAGE_KEY = "messaging.kafka.message.key"
MESSAGING_KAFKA_OFFSET = "messaging.kafka.offset"
MESSAGING_KAFKA_MESSAGE_TOMBSTONE = "messaging.kafka.message.tombstone"
MESSAGING_CLIENT_ID = "messaging.client.id"
MESSAGING_BATCH_MESSAGE_COUNT = "messaging.batch.message_count"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"

# Their values.
SYSTEM_KAFKA = "kafka"
OPERATION_SEND = "send"  # both messaging.operation.name and .type

# Metrics.
CLIENT_OPERATION_DURATION = "messaging.client.operation.duration"
CLIENT_SENT_MESSAGES = "messaging.client.sent.messages"
#: The spec's explicit bucket boundaries for messaging.client.operation.duration (s).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)

# kafkify's own gauges (the conventions define none for a producer's queue).
PRODUCER_IN_FLIGHT = "kafkify.producer.records.in_flight"
PRODUCER_QUEUE_SIZE = "kafkify.producer.queue.size"
