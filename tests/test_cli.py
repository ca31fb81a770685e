"""The ``kafkify`` command: ``produce`` (JSON lines → records, progress bar on a
terminal) and ``bench``, run as real processes against the test broker."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

from helpers import ROOT, closed_port, read_back

KAFKIFY = [sys.executable, "-m", "kafkify"]
# The console script pip installed next to this interpreter.
KAFKIFY_SCRIPT = str(Path(sys.executable).parent / "kafkify")


def run(
    args: list[str], *, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=str(ROOT / "tests"),
        env={**os.environ, **(env or {})},
    )


def run_on_terminal(args: list[str]) -> tuple[int, str]:
    """Run with stdout and stderr on a pseudo-terminal; returns (status, output)."""
    controller, terminal = pty.openpty()
    # 40 rows x 120 columns, like a terminal window (a new pty has no size).
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        args, stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal, cwd=str(ROOT / "tests")
    )
    os.close(terminal)
    chunks = []
    try:
        while True:
            try:
                data = os.read(controller, 65536)
            except OSError:  # EIO: the process closed its end
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(controller)
    return proc.wait(timeout=60), b"".join(chunks).decode(errors="replace")


def test_produce_100k_lines_from_a_file_with_a_progress_bar(
    bootstrap: str, topic: str, tmp_path: Path
) -> None:
    lines = [
        json.dumps({"id": f"user-{i % 977}", "n": i, "text": "ünïcode ✓"}, ensure_ascii=False)
        for i in range(100_000)
    ]
    source = tmp_path / "events.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")

    status, output = run_on_terminal(
        [
            KAFKIFY_SCRIPT,
            "produce",
            topic,
            "--file",
            str(source),
            "--key-field",
            "id",
            "-b",
            bootstrap,
        ]
    )

    assert status == 0, output
    assert "100k/100k" in output and "rec/s" in output, output[-2000:]
    assert "delivered=100000, failed=0" in output
    assert "100000 record(s) to" in output and "100000 delivered, 0 failed" in output
    records = read_back(bootstrap, topic, 100_000, timeout=120)
    assert len(records) == 100_000
    sent = {line.encode(): json.loads(line)["id"].encode() for line in lines}
    assert {r.value: r.key for r in records} == sent


def test_stdin_with_headers_config_and_bootstrap_from_the_environment(
    bootstrap: str, topic: str
) -> None:
    result = run(
        [
            *KAFKIFY,
            "produce",
            topic,
            "--headers",
            "source=cli,v=1",
            "-H",
            "team=orders",
            "-X",
            "linger.ms=0",
            "--key-field",
            "k",
        ],
        stdin='{"k": 7, "v": "a"}\n\n{"k": "x", "v": null}\n',
        env={"KAFKA_BOOTSTRAP": bootstrap},
    )
    assert result.returncode == 0, result.stderr
    assert "rec/s" not in result.stderr, "no progress bar when stderr is not a terminal"
    assert "2 record(s) to" in result.stderr and "2 delivered, 0 failed" in result.stderr
    records = sorted(read_back(bootstrap, topic, 2), key=lambda r: r.key or b"")
    assert [(r.key, r.value) for r in records] == [
        (b"7", b'{"k": 7, "v": "a"}'),
        (b"x", b'{"k": "x", "v": null}'),
    ]
    assert records[0].headers == [("source", b"cli"), ("v", b"1"), ("team", b"orders")]


def test_a_malformed_line_stops_with_its_number_after_delivering_the_lines_before(
    bootstrap: str, topic: str, tmp_path: Path
) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text('{"n": 1}\n{"n": 2}\n{"n": 3}\n{"n": 4,\n{"n": 5}\n')
    result = run([*KAFKIFY, "produce", topic, "-f", str(source), "-b", bootstrap])
    assert result.returncode == 1
    assert "kafkify: error: line 4: not valid JSON" in result.stderr
    assert "3 delivered, 0 failed" in result.stderr
    assert sorted(r.value for r in read_back(bootstrap, topic, 3)) == [
        b'{"n": 1}',
        b'{"n": 2}',
        b'{"n": 3}',
    ]


def test_a_missing_key_field_names_the_line(bootstrap: str, topic: str) -> None:
    result = run(
        [*KAFKIFY, "produce", topic, "--key-field", "id", "-b", bootstrap],
        stdin='{"id": 1}\n[1, 2]\n',
    )
    assert result.returncode == 1
    assert "line 2: no field 'id' for --key-field" in result.stderr


def test_an_unreachable_broker_fails_after_the_timeout() -> None:
    servers = f"127.0.0.1:{closed_port()}"
    result = run([*KAFKIFY, "produce", "t", "-b", servers, "--timeout", "1"], stdin='{"a": 1}\n')
    assert result.returncode == 1
    assert f"kafkify: error: no broker at {servers} answered within 1 s" in result.stderr


def test_usage_errors_are_readable() -> None:
    result = run([*KAFKIFY, "produce", "t", "-b", "127.0.0.1:9", "-X", "linger.ms"], stdin="")
    assert result.returncode == 1
    assert "-X 'linger.ms': expected key=value" in result.stderr
    result = run([*KAFKIFY, "produce", "t"], stdin="", env={"KAFKA_BOOTSTRAP": ""})
    assert result.returncode == 1
    assert "no broker given" in result.stderr
    result = run([*KAFKIFY, "frobnicate"])
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_bench_runs_against_the_in_process_mock_cluster() -> None:
    result = run([KAFKIFY_SCRIPT, "bench", "--records", "5000", "--latency-samples", "50"])
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "in-process mock cluster" in out
    assert "records/s" in out and "5,000 records" in out
    assert "blocking send p50" in out and "blocking send p99" in out


def test_bench_against_a_given_broker(bootstrap: str, topic: str) -> None:
    result = run(
        [
            *KAFKIFY,
            "bench",
            "-n",
            "2000",
            "--latency-samples",
            "20",
            "-b",
            bootstrap,
            "--topic",
            topic,
        ]
    )
    assert result.returncode == 0, result.stderr
    assert f"broker             {bootstrap}" in result.stdout
    assert len(read_back(bootstrap, topic, 2000 + 20 + 1)) == 2000 + 20 + 1
