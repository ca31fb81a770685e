"""Drop-in for aiokafka's producer: ``from kafkify.compat.aiokafka import AIOKafkaProducer``.

``start``/``stop``/``async with``, ``send`` (two awaits), ``send_and_wait``,
``create_batch``/``send_batch``, transactions, and ``kafkify.compat.aiokafka.errors``.
The module path ``kafkify.compat.aiokafka.producer`` matches ``aiokafka.producer``.
See docs/migrating.md.
"""

from __future__ import annotations

from kafkify.compat._common import IgnoredOptionWarning, peer_attribute
from kafkify.compat.aiokafka import errors
from kafkify.compat.aiokafka.batch import BatchBuilder
from kafkify.compat.aiokafka.producer import AIOKafkaProducer
from kafkify.compat.aiokafka.structs import OffsetAndMetadata, RecordMetadata, TopicPartition

__all__ = [
    "AIOKafkaProducer",
    "BatchBuilder",
    "IgnoredOptionWarning",
    "OffsetAndMetadata",
    "RecordMetadata",
    "TopicPartition",
    "errors",
]


#: aiokafka's consumer names: re-exported from aiokafka itself when it is installed,
#: so ``from aiokafka import AIOKafkaConsumer, AIOKafkaProducer`` needs one change.
PEER_NAMES = frozenset(
    {
        "AIOKafkaClient",
        "AIOKafkaConsumer",
        "ConsumerRebalanceListener",
        "ConsumerRecord",
        "ConsumerStoppedError",
        "OffsetAndTimestamp",
    }
)


def __getattr__(name: str) -> object:
    """aiokafka's own ``name`` (see ``PEER_NAMES`` and ``_common.peer_attribute``)."""
    return peer_attribute(__name__, name, PEER_NAMES, "aiokafka", "aiokafka")
