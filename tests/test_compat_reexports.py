"""The shims re-export their peer's consumer and admin names when the peer is
installed (one changed import line), and say what to install when it is not."""

from __future__ import annotations

import json
import warnings

import aiokafka
import confluent_kafka
import confluent_kafka.admin
import pytest

from helpers import run_script, unique_topic

with warnings.catch_warnings():
    # kafka-python 3.0 loads its protocol schemas with the deprecated
    # importlib.resources.read_text at import time.
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka

REEXPORTED = {
    "kafkify.compat.confluent_kafka": (
        confluent_kafka,
        ["Consumer", "DeserializingConsumer", "OFFSET_BEGINNING", "IsolationLevel", "Node"],
    ),
    "kafkify.compat.confluent_kafka.admin": (
        confluent_kafka.admin,
        ["AdminClient", "NewTopic", "NewPartitions", "ConfigResource", "ResourceType"],
    ),
    "kafkify.compat.kafka": (kafka, ["KafkaConsumer", "KafkaAdminClient"]),
    "kafkify.compat.aiokafka": (aiokafka, ["AIOKafkaConsumer", "ConsumerRecord"]),
}


@pytest.mark.parametrize("module", sorted(REEXPORTED))
def test_the_peers_own_objects_when_installed(module: str) -> None:
    shim = __import__(module, fromlist=["_"])
    peer, names = REEXPORTED[module]
    for name in names:
        assert getattr(shim, name) is getattr(peer, name), name
    assert not hasattr(shim, "NoSuchName")  # other names stay AttributeErrors


def test_confluent_program_with_one_changed_import(bootstrap: str) -> None:
    """confluent-kafka's admin + producer + consumer program, its imports changed to
    the shim's: the topic is made by AdminClient and read back by Consumer."""
    from kafkify.compat.confluent_kafka import Consumer, Producer
    from kafkify.compat.confluent_kafka.admin import AdminClient, NewTopic

    topic = unique_topic("reexport")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(topic, num_partitions=1)]).values():
        future.result(30)
    p = Producer({"bootstrap.servers": bootstrap})
    for i in range(5):
        p.produce(topic, value=f"m{i}".encode())
    assert p.flush(30) == 0
    c = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": topic, "auto.offset.reset": "earliest"}
    )
    c.subscribe([topic])
    values: list[bytes] = []
    try:
        for _ in range(60):
            msg = c.poll(1.0)
            if msg is not None and msg.error() is None:
                values.append(msg.value())
            if len(values) == 5:
                break
    finally:
        c.close()
    assert values == [f"m{i}".encode() for i in range(5)]


BLOCKED = """
import importlib.abc, json, sys

class Blocker(importlib.abc.MetaPathFinder):
    # The peers are hidden, as if not installed.
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("confluent_kafka", "kafka", "aiokafka"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Blocker())
out = {}
for module, name in json.loads(sys.argv[1]):
    try:
        exec(f"from {module} import {name}")
        out[f"{module}.{name}"] = ["ok", ""]
    except Exception as e:
        out[f"{module}.{name}"] = [type(e).__name__, str(e)]
print(json.dumps(out))
"""


def test_an_import_error_saying_what_to_install_when_not_installed() -> None:
    imports = [
        ("kafkify.compat.confluent_kafka", "Consumer"),
        ("kafkify.compat.confluent_kafka", "Producer"),
        ("kafkify.compat.confluent_kafka.admin", "AdminClient"),
        ("kafkify.compat.confluent_kafka.admin", "NewTopic"),
        ("kafkify.compat.kafka", "KafkaConsumer"),
        ("kafkify.compat.kafka", "KafkaAdminClient"),
        ("kafkify.compat.kafka", "KafkaProducer"),
        ("kafkify.compat.aiokafka", "AIOKafkaConsumer"),
        ("kafkify.compat.aiokafka", "AIOKafkaProducer"),
        ("kafkify.compat.kafka", "NoSuchName"),
    ]
    done = run_script(BLOCKED, json.dumps(imports), timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    install = {
        "kafkify.compat.confluent_kafka": "pip install confluent-kafka",
        "kafkify.compat.confluent_kafka.admin": "pip install confluent-kafka",
        "kafkify.compat.kafka": "pip install kafka-python",
        "kafkify.compat.aiokafka": "pip install aiokafka",
    }
    for module, name in imports:
        kind, message = seen[f"{module}.{name}"]
        if name.endswith("Producer"):
            assert kind == "ok", (name, message)  # the shims themselves need no peer
        elif name == "NoSuchName":
            assert kind == "ImportError" and "cannot import name" in message
        else:
            assert kind == "ImportError", (name, kind, message)
            assert install[module] in message and name in message, message
