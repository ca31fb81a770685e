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


def test_static_librdkafka_has_tls_sasl_and_every_codec() -> None:
    features = set(kafkify.librdkafka_features())
    assert {"ssl", "sasl_plain", "sasl_scram", "gzip", "snappy", "lz4", "zstd"} <= features
    # SASL_SSL from a username and password (seeds 001, 002) is accepted as configured
    p = kafkify.Producer(
        bootstrap_servers="127.0.0.1:1",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username="svc",
        sasl_plain_password="s3cret",
    )
    assert p.config["security.protocol"] == "SASL_SSL"
    assert p.config["sasl.mechanism"] == "SCRAM-SHA-512"
    assert p.config["sasl.password"] == "********"
    p.close(timeout=0)


def test_every_compression_codec_round_trips(bootstrap: str) -> None:
    for codec in [None, "gzip", "snappy", "lz4", "zstd"]:
        topic = create_topic(bootstrap, partitions=1)
        values = [(f"{codec}-{i}-" + "x" * i).encode() for i in range(200)]
        with kafkify.Producer(
            bootstrap_servers=bootstrap, compression_type=codec, value_serializer="bytes"
        ) as producer:
            for v in values:
                producer.produce(topic, v)
        assert [r.value for r in read_back(bootstrap, topic, expected=200)] == values, codec
