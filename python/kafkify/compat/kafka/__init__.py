"""Drop-in for kafka-python's producer: ``from kafkify.compat.kafka import KafkaProducer``.

Same constructor options (translated to librdkafka, or accepted and ignored with
an ``IgnoredOptionWarning`` where they mean nothing there), same ``send()`` →
``FutureRecordMetadata``, same ``kafka.errors`` names. See docs/migrating.md.
"""

from __future__ import annotations

from kafkify.compat._common import IgnoredOptionWarning, peer_attribute
from kafkify.compat.kafka import errors, serializer
from kafkify.compat.kafka.future import Future, FutureRecordMetadata, RecordMetadata
from kafkify.compat.kafka.producer import KafkaProducer
from kafkify.compat.kafka.serializer import (
    DefaultSerializer,
    Deserializer,
    JsonSerializer,
    Serializer,
)
from kafkify.compat.kafka.structs import OffsetAndMetadata, TopicPartition

__all__ = [
    "DefaultSerializer",
    "Deserializer",
    "Future",
    "FutureRecordMetadata",
    "IgnoredOptionWarning",
    "JsonSerializer",
    "KafkaProducer",
    "OffsetAndMetadata",
    "RecordMetadata",
    "Serializer",
    "TopicPartition",
    "errors",
    "serializer",
]


#: kafka-python's consumer and admin names: re-exported from kafka-python itself when
#: it is installed, so ``from kafka import KafkaConsumer, KafkaProducer`` needs one change.
PEER_NAMES = frozenset(
    {
        "AsyncConsumerRebalanceListener",
        "ConsumerGroupMetadata",
        "ConsumerRebalanceListener",
        "IsolationLevel",
        "KafkaAdminClient",
        "KafkaConsumer",
        "OffsetSpec",
        "TopicPartitionReplica",
    }
)


def __getattr__(name: str) -> object:
    """kafka-python's own ``name`` (see ``PEER_NAMES`` and ``_common.peer_attribute``)."""
    return peer_attribute(__name__, name, PEER_NAMES, "kafka", "kafka-python")
