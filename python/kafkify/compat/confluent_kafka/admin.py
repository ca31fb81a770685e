"""confluent-kafka's metadata classes (``confluent_kafka.admin``), as
``Producer.list_topics()`` returns them."""

from __future__ import annotations

from typing import Any

from kafkify.compat._common import peer_attribute
from kafkify.compat.confluent_kafka.error import KafkaError


class BrokerMetadata:
    def __init__(self, id: int, host: str, port: int) -> None:
        self.id = id
        self.host = host
        self.port = port

    def __str__(self) -> str:
        return f"{self.host}:{self.port}/{self.id}"


class PartitionMetadata:
    def __init__(
        self, id: int, leader: int, replicas: list[int], isrs: list[int], error: KafkaError | None
    ) -> None:
        self.id = id
        self.leader = leader
        self.replicas = replicas
        self.isrs = isrs
        self.error = error


class TopicMetadata:
    def __init__(
        self, topic: str, partitions: dict[int, PartitionMetadata], error: KafkaError | None
    ) -> None:
        self.topic = topic
        self.partitions = partitions
        self.error = error

    def __str__(self) -> str:
        return self.topic


class ClusterMetadata:
    def __init__(self) -> None:
        self.cluster_id: str | None = None
        self.controller_id = -1
        self.brokers: dict[int, BrokerMetadata] = {}
        self.topics: dict[str, TopicMetadata] = {}
        self.orig_broker_id = -1
        self.orig_broker_name: str | None = None

    @classmethod
    def from_core(cls, md: dict[str, Any]) -> ClusterMetadata:
        """Build from ``kafkify.Producer.list_topics()``'s plain data."""
        out = cls()
        out.orig_broker_id = md["orig_broker_id"]
        out.orig_broker_name = md["orig_broker_name"]
        out.brokers = {i: BrokerMetadata(i, h, p) for i, (h, p) in md["brokers"].items()}
        for name, t in md["topics"].items():
            parts = {
                i: PartitionMetadata(i, p["leader"], p["replicas"], p["isrs"], _error(p["error"]))
                for i, p in t["partitions"].items()
            }
            out.topics[name] = TopicMetadata(name, parts, _error(t["error"]))
        return out


def _error(code: int | None) -> KafkaError | None:
    return KafkaError(code) if code else None


#: ``confluent_kafka.admin``'s other names, re-exported from it when confluent-kafka
#: is installed (``from kafkify.compat.confluent_kafka.admin import AdminClient, NewTopic``).
PEER_NAMES = frozenset(
    {
        "AclBinding",
        "AclBindingFilter",
        "AclOperation",
        "AclPermissionType",
        "AdminClient",
        "AlterConfigOpType",
        "ConfigEntry",
        "ConfigResource",
        "ConfigSource",
        "ConsumerGroupDescription",
        "ConsumerGroupListing",
        "DeletedRecords",
        "DescribeClusterResult",
        "GroupMember",
        "GroupMetadata",
        "ListConsumerGroupsResult",
        "ListOffsetsResultInfo",
        "MemberAssignment",
        "MemberDescription",
        "NewPartitions",
        "NewTopic",
        "OffsetSpec",
        "ResourcePatternType",
        "ResourceType",
        "ScramCredentialInfo",
        "ScramMechanism",
        "TopicDescription",
        "UserScramCredentialAlteration",
        "UserScramCredentialDeletion",
        "UserScramCredentialUpsertion",
        "UserScramCredentialsDescription",
    }
)


def __getattr__(name: str) -> Any:
    """confluent-kafka's own ``name`` (see ``PEER_NAMES`` and ``_common.peer_attribute``)."""
    return peer_attribute(__name__, name, PEER_NAMES, "confluent_kafka.admin", "confluent-kafka")
