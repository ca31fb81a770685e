"""benches/compare.py still runs (a smoke run, so the benchmark does not rot between
full runs): a few workloads at a tenth of their records, on the mock cluster and on
the test session's Kafka, each run read back and checked by compare.py itself. No
figure is asserted: only that every check passed and the report has its targets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from helpers import ROOT

COMPARE = ROOT / "benches" / "compare.py"
QUICK = ("--quick", "--rounds", "1", "--no-extras")


def compare(tmp_path: Path, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, str(COMPARE), *QUICK, "--out", str(tmp_path), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    (saved,) = tmp_path.glob("*.json")
    result: dict = json.loads(saved.read_text())
    return result


def test_compare_on_the_mock_cluster(tmp_path: Path) -> None:
    run = compare(tmp_path, "--brokers", "mock", "--only", "fire_and_forget,asyncio,batch_bytes")
    rows = run["results"]["mock"]
    assert set(rows) == {"fire_and_forget", "asyncio", "batch_bytes"}
    assert "kafkify produce" in rows["fire_and_forget"]
    assert all(r["check"] == "ok" for w in rows.values() for r in w.values())
    assert any("(c')" in line for line in run["report"])


def test_compare_on_kafka(tmp_path: Path, bootstrap: str) -> None:
    run = compare(tmp_path, "--bootstrap", bootstrap, "--only", "first_record,shim_confluent_poll0")
    rows = run["results"]["kafka-1"]
    assert set(rows["first_record"]) == {
        "kafkify Producer() + send",
        "kafkify send after await start()",
        "confluent Producer() + produce + flush",
    }
    assert len(rows["shim_confluent_poll0"]) == 2
    checks = [r["check"] for w in rows.values() for r in w.values()]
    assert all(c.startswith("ok (") for c in checks), checks
    assert any("first_record (h)" in line for line in run["report"])


def test_otel_overhead_on_the_mock_cluster(tmp_path: Path) -> None:
    """benches/otel_overhead.py runs every configuration for both APIs, each run checked
    (records on the broker, one span per record where spans are recorded)."""
    saved = tmp_path / "otel.json"
    script = str(ROOT / "benches" / "otel_overhead.py")
    out = subprocess.run(
        [sys.executable, script, "--mock", "--quick", "--json", str(saved)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    results = json.loads(saved.read_text())["results"]
    configs = {"off", "sampled_out", "sampled_in", "metrics", "both"}
    assert {api: set(rows) for api, rows in results.items()} == {
        "produce": configs,
        "send_async": configs,
    }
    assert all(r["check"] == "ok" for rows in results.values() for r in rows.values())
    assert all(
        rows[c]["spans"] == rows[c]["records"]
        for rows in results.values()
        for c in ("sampled_in", "both")
    )
