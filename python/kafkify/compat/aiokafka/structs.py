"""aiokafka's ``aiokafka.structs`` used by the producer API."""

from __future__ import annotations

from dataclasses import dataclass

from kafkify.compat.kafka.structs import OffsetAndMetadata, TopicPartition


@dataclass(frozen=True)
class RecordMetadata:
    """Where a record (or the first record of a batch) landed."""

    topic: str
    partition: int
    topic_partition: TopicPartition
    offset: int
    timestamp: int | None
    timestamp_type: int
    log_start_offset: int | None


__all__ = ["OffsetAndMetadata", "RecordMetadata", "TopicPartition"]
