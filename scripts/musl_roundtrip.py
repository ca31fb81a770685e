"""Records sent by a musllinux wheel under a musl CPython, read back from real Kafka.

    .venv/bin/python scripts/musl_roundtrip.py MUSL_PYTHON SITE_DIR

Run by scripts/musl_smoke.sh with this machine's (glibc) dev venv, which has
confluent-kafka and the test helpers. It starts a 1-node Kafka on 127.0.0.1
(``KAFKA_BOOTSTRAP=host:port`` reuses one), creates a topic, has MUSL_PYTHON (with
SITE_DIR, where the wheel is installed, on its path) send records through send,
send_async, send_batch and produce, and reads them back with confluent-kafka's
Consumer: every key, value and header must come back byte for byte, at the partition
and offset the musl side was told.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from helpers import create_topic, kafka_cluster, read_back  # noqa: E402

# Runs under the musl CPython: prints one JSON line per record it sent.
PRODUCE = r"""
import asyncio, json, platform, sys
import kafkify

bootstrap, topic = sys.argv[1:3]
sent = []

def note(how, key, value, headers, meta):
    sent.append({"how": how, "key": key.hex() if key is not None else None,
                 "value": value.hex(), "headers": [[k, v.hex()] for k, v in headers],
                 "partition": meta.partition, "offset": meta.offset})

with kafkify.Producer(bootstrap_servers=bootstrap, client_id="musl-json") as p:
    for i in range(50):
        key, headers, value = f"k{i % 5}".encode(), [("n", str(i).encode())], {"t": "é" * i}
        meta = p.send(topic, value, key=key, headers=headers)
        note("send", key, kafkify.dumps(value), headers, meta)
    values = [{"batch": i} for i in range(50)]
    metas = p.send_batch(topic, values, keys=[b"b"] * 50, raise_on_error=True)
    for value, meta in zip(values, metas):
        note("send_batch", b"b", kafkify.dumps(value), [], meta)

with kafkify.Producer(bootstrap_servers=bootstrap, value_serializer="bytes") as p:
    async def main():
        values = [bytes([i]) * (i + 1) for i in range(50)]
        metas = await asyncio.gather(*(p.send_async(topic, v) for v in values))
        for v, meta in zip(values, metas):
            note("send_async", None, v, [], meta)
    asyncio.run(main())

    done = []
    for i in range(50):
        p.produce(topic, f"produce-{i}".encode(),
                  on_delivery=lambda err, meta, i=i: done.append((i, err, meta)))
    p.flush()
    for i, err, meta in sorted(done, key=lambda d: d[0]):
        assert err is None, err
        note("produce", None, f"produce-{i}".encode(), [], meta)

print(json.dumps({"machine": platform.machine(), "python": sys.version.split()[0],
                  "kafkify": kafkify.__file__, "sent": sent}))
"""


@contextlib.contextmanager
def broker() -> Iterator[str]:
    if os.environ.get("KAFKA_BOOTSTRAP"):
        yield os.environ["KAFKA_BOOTSTRAP"]
        return
    with kafka_cluster.running(1, security=False) as cluster:
        yield cluster.bootstrap_servers


def main(musl_python: str, site: str) -> int:
    with broker() as bootstrap:
        topic = create_topic(bootstrap, 3, prefix="musl")
        out = subprocess.run(
            [musl_python, "-c", PRODUCE, bootstrap, topic],
            env={"PYTHONPATH": site, "PATH": os.environ.get("PATH", "")},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if out.returncode != 0:
            print(out.stdout, out.stderr, file=sys.stderr)
            return 1
        report = json.loads(out.stdout.splitlines()[-1])
        sent = report["sent"]
        got = {(r.partition, r.offset): r for r in read_back(bootstrap, topic, len(sent))}
        wrong = []
        for s in sent:
            r = got.get((s["partition"], s["offset"]))
            expected = (
                bytes.fromhex(s["key"]) if s["key"] is not None else None,
                bytes.fromhex(s["value"]),
                [(k, bytes.fromhex(v)) for k, v in s["headers"]],
            )
            if r is None or (r.key, r.value, r.headers) != expected:
                wrong.append((s, r))
        print(
            f"musl CPython {report['python']} on {report['machine']} ({report['kafkify']}): "
            f"{len(sent)} records sent to {topic}, {len(got)} read back with "
            f"confluent-kafka, {len(sent) - len(wrong)} identical byte for byte"
        )
        for s, r in wrong[:5]:
            print(f"  MISMATCH sent {s} read {r}", file=sys.stderr)
        return 1 if wrong or len(got) != len(sent) else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
