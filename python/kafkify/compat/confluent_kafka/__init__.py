"""Drop-in for confluent-kafka's producer: ``from kafkify.compat.confluent_kafka import Producer``.

``Producer(conf)`` with librdkafka's dotted properties, ``produce``/``poll``/``flush``
with delivery callbacks ``(KafkaError | None, Message)`` served on the caller's
thread from ``poll``/``flush``, ``KafkaError`` with librdkafka's codes, and
``KafkaException``. See docs/migrating.md.
"""

from __future__ import annotations

from typing import Any

from kafkify.compat._common import IgnoredOptionWarning, peer_attribute
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

#: confluent-kafka's names that are not the producer's: re-exported from confluent-kafka
#: itself when it is installed, so ``from confluent_kafka import Consumer, Producer``
#: needs one change (``kafkify.compat.confluent_kafka.admin`` does the same for
#: ``AdminClient``, ``NewTopic``, ...). ``SerializingProducer`` and ``aio`` are
#: confluent-kafka's own producers, so they are not re-exported.
PEER_NAMES = frozenset(
    {
        "AcknowledgeType",
        "ConcurrentModificationException",
        "Consumer",
        "ConsumerGroupState",
        "ConsumerGroupTopicPartitions",
        "ConsumerGroupType",
        "DeserializingConsumer",
        "DeserializingShareConsumer",
        "ElectionType",
        "IllegalStateException",
        "IsolationLevel",
        "Messages",
        "Node",
        "OFFSET_BEGINNING",
        "OFFSET_END",
        "OFFSET_INVALID",
        "OFFSET_STORED",
        "ShareConsumer",
        "ThrottleEvent",
        "TopicCollection",
        "TopicPartitionInfo",
        "Uuid",
        "consistent",
        "fnv1a",
        "libversion",
        "murmur2",
        "serialization",
        "version",
    }
)


def __getattr__(name: str) -> Any:
    """confluent-kafka's own ``name`` (see ``PEER_NAMES`` and ``_common.peer_attribute``)."""
    return peer_attribute(__name__, name, PEER_NAMES, "confluent_kafka", "confluent-kafka")
