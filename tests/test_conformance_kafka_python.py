"""kafka-python's own producer tests, from its pinned sdist, through the shim.

``scripts/kafka_python_conformance.py`` downloads kafka-python's sdist (cached, never
committed), and runs its producer tests (``test/integration/test_producer_integration.py``,
``test/test_serializer.py``, ``test/test_future.py``) twice in subprocess pytests against
our broker: with kafka-python itself, then with ``kafka.KafkaProducer``,
``kafka.serializer`` and ``kafka.future`` resolving to ``kafkify.compat.kafka``'s. Only
its broker fixtures are replaced; what the tests check with a consumer or the admin
client is read back by kafka-python's own. The expectation is the peer's own result in
the same run: the shim must pass every test kafka-python passes, except the ones listed
in ``KNOWN_SHIM_FAILURES`` with the reason (each needs a core change, and must fail, so
the list cannot go stale). The counts go to the run's summary (``helpers.FIGURES``).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import kafka_python_conformance as conformance

from helpers import FIGURES, kafka_cluster

#: Tests kafka-python passes and the shim does not, and why.
KNOWN_SHIM_FAILURES: dict[str, str] = {}


def test_kafka_python_sdist_producer_tests_pass_through_the_shim(bootstrap: str) -> None:
    """Every sdist producer test that passes with kafka-python passes through the shim
    (against the same broker, in the same run), apart from ``KNOWN_SHIM_FAILURES``."""
    sdist = conformance.fetch_sdist(conformance.pinned_version())
    version = os.environ.get("KAFKA_VERSION", kafka_cluster.KAFKA_VERSION)
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = conformance.make_run_dir(sdist, Path(tmp))
        real, real_output = conformance.run("real", run_dir, bootstrap, version)
        shim, shim_output = conformance.run("shim", run_dir, bootstrap, version)

    real_passed = {t for t, o in real.items() if o == "passed"}
    shim_passed = {t for t, o in shim.items() if o == "passed"}
    lines = FIGURES.setdefault("kafka-python conformance", [])
    not_passed = {o: sorted(t for t in real if real[t] == o) for o in set(real.values())}
    not_passed.pop("passed", None)
    lines.append(
        f"kafka-python {conformance.pinned_version()} sdist producer tests: {len(real)} run, "
        f"{len(real_passed)} passed with kafka-python, {len(shim_passed)} through the shim, "
        f"{len(conformance.DESELECTED)} deselected"
    )
    for outcome, tests in sorted(not_passed.items()):
        lines.append(f"{outcome} with kafka-python itself ({len(tests)}): {', '.join(tests)}")
    for test, reason in KNOWN_SHIM_FAILURES.items():
        lines.append(f"known shim failure {test}: {reason}")

    assert real_passed, f"kafka-python passed nothing: the run is broken\n{real_output}"
    assert set(shim) == set(real), "the two runs collected different tests"
    missing = real_passed - shim_passed - set(KNOWN_SHIM_FAILURES)
    assert not missing, f"fail through the shim only: {sorted(missing)}\n{shim_output}"
    stale = set(KNOWN_SHIM_FAILURES) & shim_passed
    assert not stale, f"now pass through the shim; drop them from KNOWN_SHIM_FAILURES: {stale}"
    unexplained = set(KNOWN_SHIM_FAILURES) - real_passed
    assert not unexplained, f"kafka-python itself did not pass: {unexplained}\n{real_output}"
