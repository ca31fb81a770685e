"""Drop-in for kafka-python's producer: ``from kafkify.compat.kafka import KafkaProducer``.

Same constructor options (translated to librdkafka, or accepted and ignored with
an ``IgnoredOptionWarning`` where they mean nothing there), same ``send()`` →
``FutureRecordMetadata``, same ``kafka.errors`` names. See docs/migrating.md.
"""

from __future__ import annotations

from kafkify.compat._common import IgnoredOptionWarning
from kafkify.compat.kafka import errors, serializer
from kafkify.compat.kafka.future import Future, FutureRecordMetadata, RecordMetadata
from kafkify.compat.kafka.producer import KafkaProducer
from kafkify.compat.kafka.serializer import Deserializer, Serializer
from kafkify.compat.kafka.structs import OffsetAndMetadata, TopicPartition

__all__ = [
    "Deserializer",
    "Future",
    "FutureRecordMetadata",
    "IgnoredOptionWarning",
    "KafkaProducer",
    "OffsetAndMetadata",
    "RecordMetadata",
    "Serializer",
    "TopicPartition",
    "errors",
    "serializer",
]
