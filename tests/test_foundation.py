"""Issue 2: the wheel imports, and keyed bytes sent to a real broker come back exact."""

from __future__ import annotations

import collections

import kafkify

from helpers import create_topic, read_back


def test_native_module_is_the_installed_wheel() -> None:
    # Tests run from tests/, so this is the installed wheel, not python/ in the repo.
    assert "site-packages" in kafkify.__file__
    assert kafkify.librdkafka_version() == "2.12.1"


def test_1000_keyed_records_round_trip_byte_identical(bootstrap: str) -> None:
    topic = create_topic(bootstrap, partitions=3)
    sent = {}
    with kafkify.Producer(bootstrap_servers=bootstrap, value_serializer="bytes") as producer:
        for i in range(1000):
            key = f"user-{i % 37}".encode()
            value = bytes([i % 256]) * (i % 50) + f"payload-{i}".encode() + b"\x00\xff"
            meta = producer.send(topic, value, key=key)
            assert meta.topic == topic
            sent[(meta.partition, meta.offset)] = (key, value)

    records = read_back(bootstrap, topic, expected=1000)
    held = {(r.partition, r.offset): (r.key, r.value) for r in records}
    # Same records, byte for byte, at exactly the partition/offset send() reported.
    assert held == sent
    partitions_per_key = collections.defaultdict(set)
    for r in records:
        partitions_per_key[r.key].add(r.partition)
    assert len(partitions_per_key) == 37
    assert all(len(p) == 1 for p in partitions_per_key.values())
    assert {r.partition for r in records} == {0, 1, 2}
