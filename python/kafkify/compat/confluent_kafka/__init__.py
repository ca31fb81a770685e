"""Drop-in for confluent-kafka's producer: ``from kafkify.compat.confluent_kafka import Producer``.

``Producer(conf)`` with librdkafka's dotted properties, ``produce``/``poll``/``flush``
with delivery callbacks ``(KafkaError | None, Message)`` served on the caller's
thread from ``poll``/``flush``, ``KafkaError`` with librdkafka's codes, and
``KafkaException``. See docs/migrating.md.
"""

from __future__ import annotations

import importlib
from typing import Any

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
    """confluent-kafka's own ``name`` (see ``PEER_NAMES``).

    Raises:
        ImportError: confluent-kafka is not installed (saying what to install).
        AttributeError: not a confluent-kafka name, or not in the installed version.
    """
    if name not in PEER_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        real = importlib.import_module(
            "confluent_kafka.serialization" if name == "serialization" else "confluent_kafka"
        )
    except ImportError as e:
        raise ImportError(
            f"{name} is confluent-kafka's, not kafkify's (kafkify is a producer): "
            f"`pip install confluent-kafka` and {__name__} re-exports it",
            name=__name__,
        ) from e
    value = real if name == "serialization" else getattr(real, name)
    globals()[name] = value
    return value
