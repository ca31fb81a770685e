"""Run kafka-python's own producer tests (from its pinned sdist) against a broker,
once with kafka-python itself and once through ``kafkify.compat.kafka``.

The sdist (never committed) is fetched with ``pip download --no-deps --no-binary
:all: kafka-python==<pin from requirements-dev.txt>`` into
``$KAFKIFY_CACHE/kafka-python-sdist/`` (default ``~/.cache/kafkify``) and unpacked
there; its ``test/`` tree is copied to a fresh run directory where
``kafka_python_conformance_conftest.py`` replaces the broker fixtures (the sdist's
``test/integration/conftest.py``, which starts ZooKeeper and Kafka from a download,
is dropped). Each run is a subprocess pytest, so the two never share ``kafka`` modules.

    python scripts/kafka_python_conformance.py --bootstrap 127.0.0.1:9092 --kafka-version 4.1.1

``tests/test_conformance_kafka_python.py`` drives it in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFTEST = Path(__file__).resolve().parent / "kafka_python_conformance_conftest.py"

#: The sdist's tests that exercise the producer (the sdist has no producer unit-test
#: module; its unit tests of the producer's internals, the accumulator and sender, are
#: not shipped). Everything else in it is consumer, admin, network layer, codec,
#: metrics or its mock broker: nothing the shim provides.
TESTS = [
    "test/integration/test_producer_integration.py",
    "test/test_serializer.py",
    "test/test_future.py",
]

#: Deselected, with the reason (node id prefix -> reason). None yet: the consumers and
#: the admin client the producer tests use to check the result stay kafka-python's own.
DESELECTED: dict[str, str] = {}

#: Topics the sdist's tests hard-code. Both runs use the same broker, so they are
#: deleted and created afresh before each run, with the sdist's broker's
#: ``num.partitions`` (4): ``test_transactional_producer_offsets`` uses partition 1.
FIXED_TOPICS = ["transactional_test_topic", "idempotent_test_topic"]
FIXED_PARTITIONS = 4

#: Per-test limit in the subprocess runs (pytest-timeout), so a hang fails one test.
TEST_TIMEOUT_S = 60


def cache_dir() -> Path:
    base = os.environ.get("KAFKIFY_CACHE")
    return Path(base) if base else Path.home() / ".cache" / "kafkify"


def pinned_version() -> str:
    """kafka-python's version pinned in requirements-dev.txt (its one source)."""
    text = (ROOT / "requirements-dev.txt").read_text()
    match = re.search(r"^kafka-python==(\S+)", text, re.MULTILINE)
    assert match, "no kafka-python== pin in requirements-dev.txt"
    return match.group(1)


def fetch_sdist(version: str, python: str = sys.executable) -> Path:
    """The unpacked sdist directory, downloading it on first use."""
    target = cache_dir() / "kafka-python-sdist"
    unpacked = target / f"kafka_python-{version}"
    if (unpacked / "test" / "integration" / "test_producer_integration.py").exists():
        return unpacked
    target.mkdir(parents=True, exist_ok=True)
    archive = target / f"kafka_python-{version}.tar.gz"
    if not archive.exists():
        subprocess.run(
            [
                python,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"kafka-python=={version}",
                "-d",
                str(target),
            ],
            check=True,
            timeout=300,
        )
    with tempfile.TemporaryDirectory(dir=target) as tmp, tarfile.open(archive) as tar:
        tar.extractall(tmp, filter="data")
        shutil.rmtree(unpacked, ignore_errors=True)
        os.replace(Path(tmp) / unpacked.name, unpacked)
    return unpacked


def make_run_dir(sdist: Path, into: Path) -> Path:
    """A copy of the sdist's ``test/`` with our conftest at its root and an ini that
    drops the sdist's pytest options (``--timeout`` etc.) and our warning filters."""
    shutil.copytree(sdist / "test", into / "test")
    (into / "test" / "integration" / "conftest.py").unlink()
    # ``test`` has no __init__.py in the sdist: as a namespace package it would lose to
    # the standard library's ``test`` package, and ``test.testutil`` would not import.
    (into / "test" / "__init__.py").touch()
    shutil.copy(CONFTEST, into / "conftest.py")
    (into / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    return into


def reset_fixed_names(bootstrap: str) -> None:
    """Delete and re-create the topics the sdist's tests hard-code, so each run starts
    as on the sdist's fresh broker (their committed group offsets go with them)."""
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = admin.list_topics(timeout=30).topics
    doomed = [t for t in FIXED_TOPICS if t in existing]
    if doomed:
        for future in admin.delete_topics(doomed, operation_timeout=30).values():
            future.result(timeout=60)
    deadline = time.monotonic() + 60
    while True:
        try:
            new = [NewTopic(t, FIXED_PARTITIONS, -1) for t in FIXED_TOPICS]
            for future in admin.create_topics(new, operation_timeout=30).values():
                future.result(timeout=60)
            break
        except Exception:  # deletion still in progress: TopicExistsError
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    while time.monotonic() < deadline:
        topics = admin.list_topics(timeout=30).topics
        if all(
            t in topics
            and topics[t].error is None
            and len(topics[t].partitions) == FIXED_PARTITIONS
            and all(p.leader >= 0 for p in topics[t].partitions.values())
            for t in FIXED_TOPICS
        ):
            return
        time.sleep(0.1)
    raise RuntimeError(f"topics {FIXED_TOPICS}: no leaders 60 s after creation")


def run(
    target: str,
    run_dir: Path,
    bootstrap: str,
    kafka_version: str,
    python: str = sys.executable,
    timeout: float = 600,
) -> tuple[dict[str, str], str]:
    """Run the tests with ``target`` ("real" or "shim"): ({nodeid: outcome}, output)."""
    reset_fixed_names(bootstrap)
    report = run_dir / f"outcomes-{target}.json"
    deselect = [arg for prefix in DESELECTED for arg in ("--deselect", prefix)]
    env = {
        **os.environ,
        "KAFKIFY_CONFORMANCE_TARGET": target,
        "KAFKA_BOOTSTRAP": bootstrap,
        "KAFKA_VERSION": kafka_version,
        "KAFKIFY_CONFORMANCE_REPORT": str(report),
    }
    proc = subprocess.run(
        [
            python,
            "-m",
            "pytest",
            "-q",
            "-rfEs",
            "-c",
            "pytest.ini",
            f"--timeout={TEST_TIMEOUT_S}",
            "-W",
            "ignore::DeprecationWarning",
            *deselect,
            *TESTS,
        ],
        cwd=run_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if not report.exists():
        raise RuntimeError(f"{target} run wrote no report:\n{proc.stdout}\n{proc.stderr}")
    outcomes: dict[str, str] = json.loads(report.read_text())
    return outcomes, proc.stdout + proc.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--kafka-version", required=True)
    args = parser.parse_args()
    sdist = fetch_sdist(pinned_version())
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = make_run_dir(sdist, Path(tmp))
        results = {t: run(t, run_dir, args.bootstrap, args.kafka_version) for t in ("real", "shim")}
    for target, (outcomes, output) in results.items():
        print(f"--- {target}: {sorted(outcomes.items())}")
        print(output[-3000:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
