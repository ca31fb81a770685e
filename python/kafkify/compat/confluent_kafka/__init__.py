"""Drop-in for confluent-kafka's producer: ``from kafkify.compat.confluent_kafka import Producer``.

``Producer(conf)`` with librdkafka's dotted properties, ``produce``/``poll``/``flush``
with delivery callbacks ``(KafkaError | None, Message)`` served on the caller's
thread from ``poll``/``flush``, ``KafkaError`` with librdkafka's codes, and
``KafkaException``. See docs/migrating.md.
"""

from __future__ import annotations

from kafkify.compat._common import IgnoredOptionWarning
from kafkify.compat.confluent_kafka.error import KafkaError, KafkaException
from kafkify.compat.confluent_kafka.message import (
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_LOG_APPEND_TIME,
    TIMESTAMP_NOT_AVAILABLE,
    Message,
)
from kafkify.compat.confluent_kafka.producer import Producer
from kafkify.compat.confluent_kafka.structs import TopicPartition

__all__ = [
    "IgnoredOptionWarning",
    "KafkaError",
    "KafkaException",
    "Message",
    "Producer",
    "TIMESTAMP_CREATE_TIME",
    "TIMESTAMP_LOG_APPEND_TIME",
    "TIMESTAMP_NOT_AVAILABLE",
    "TopicPartition",
]
