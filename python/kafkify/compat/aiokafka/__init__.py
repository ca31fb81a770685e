"""Drop-in for aiokafka's producer: ``from kafkify.compat.aiokafka import AIOKafkaProducer``.

``start``/``stop``/``async with``, ``send`` (two awaits), ``send_and_wait``,
``create_batch``/``send_batch``, transactions, and ``kafkify.compat.aiokafka.errors``.
The module path ``kafkify.compat.aiokafka.producer`` matches ``aiokafka.producer``.
See docs/migrating.md.
"""

from __future__ import annotations

from kafkify.compat._common import IgnoredOptionWarning
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
    """aiokafka's own ``name`` (see ``PEER_NAMES``).

    Raises:
        ImportError: aiokafka is not installed (saying what to install).
        AttributeError: not one of its names, or not in the installed version.
    """
    if name not in PEER_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib  # local: this block stands alone

    try:
        real = importlib.import_module("aiokafka")  # untyped: no stubs needed
    except ImportError as e:
        raise ImportError(
            f"{name} is aiokafka's, not kafkify's (kafkify is a producer): "
            f"`pip install aiokafka` and {__name__} re-exports it",
            name=__name__,
        ) from e
    value = getattr(real, name)
    globals()[name] = value
    return value
