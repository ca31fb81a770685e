"""Fetch, start and stop a real Apache Kafka cluster (KRaft) on 127.0.0.1.

The broker of record for tests and benches. One module for all of them:
``tests/conftest.py`` (a 1-node cluster with every security listener, and a 3-node
cluster for the failure tests), ``benches/``, ``examples/demo.py``, and a CLI::

    python scripts/kafka_cluster.py fetch            # download the jars, print their dir
    python scripts/kafka_cluster.py run [-n 3]       # start, print bootstrap, wait for Ctrl+C

What it does:
- **Jars**: the pinned Kafka release (``scripts/kafka/pom.xml``) with its runtime
  dependencies, fetched from Maven Central (checksums checked) into
  ``$KAFKIFY_CACHE/kafka/<version>-<pom digest>/``: ~45 MB, ~10 s on first use.
- **Nodes**: N combined broker+controller KRaft nodes, storage in a temp dir, free
  127.0.0.1 ports (only 127.0.0.1 is ever used), 768 MB heap each. With N ≥ 3 topics
  default to replication factor 3 and ``min.insync.replicas=2``.
- **Listeners** (``security=True``; every node, each on its own port):

  | name           | protocol       | what                                               |
  |----------------|----------------|----------------------------------------------------|
  | PLAINTEXT      | PLAINTEXT      | no auth (principal ANONYMOUS, a super user)         |
  | SSL            | SSL            | server cert for 127.0.0.1/localhost, no client cert |
  | MTLS           | SSL            | client certificate required (principal = its CN)    |
  | SASL_PLAINTEXT | SASL_PLAINTEXT | PLAIN, SCRAM-SHA-256, SCRAM-SHA-512                 |
  | SASL_SSL       | SASL_SSL       | the same mechanisms over TLS                        |
  | BADHOST        | SSL            | a cert for ``wrong-host.invalid`` (hostname checks) |

  The PKI is made at start (scripts/kafka_pki.py). SCRAM users are created when
  storage is formatted (``--add-scram``), PLAIN users in the listener's JAAS config
  (``USERS``). StandardAuthorizer runs with ``allow.everyone.if.no.acl.found=true``:
  a topic is locked only once it has ACLs.
- **Ready** once every node answers and a metadata request lists all N brokers.
- **Stopped** by the PIDs it started: ``Cluster.stop()`` (also from ``with``), at exit,
  on SIGTERM in ``run``; each JVM gets ``PR_SET_PDEATHSIG``, so it dies with its parent.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import ctypes
import dataclasses
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from xml.etree import ElementTree

from kafka_pki import Pki, make_pki  # the scripts dir is on sys.path (run or imported)

HOST = "127.0.0.1"
HERE = Path(__file__).resolve().parent
POM = HERE / "kafka" / "pom.xml"
LOG4J_CONFIG = HERE / "kafka" / "log4j2.properties"


def _pinned_version() -> str:
    """The Kafka version pinned in the pom (its one source)."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    version = ElementTree.parse(POM).find("m:properties/m:kafka.version", ns)
    assert version is not None and version.text, f"no <kafka.version> in {POM}"
    return version.text.strip()


KAFKA_VERSION = _pinned_version()
HEAP = "-Xmx768m"

# Users of the SASL listeners: SCRAM-SHA-256/512 and PLAIN all know these.
# "bob" is the principal the authorization tests deny.
USERS = {"alice": "alice-s3cret-pw", "bob": "bob-s3cret-pw"}
SECURITY_LISTENERS = ("SSL", "MTLS", "SASL_PLAINTEXT", "SASL_SSL", "BADHOST")
PROTOCOL_OF = {
    "PLAINTEXT": "PLAINTEXT",
    "CONTROLLER": "PLAINTEXT",
    "SSL": "SSL",
    "MTLS": "SSL",
    "SASL_PLAINTEXT": "SASL_PLAINTEXT",
    "SASL_SSL": "SASL_SSL",
    "BADHOST": "SSL",
}


def cache_dir() -> Path:
    root = os.environ.get("KAFKIFY_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "kafkify"
    )
    return Path(root)


def create_topic(
    bootstrap: str,
    name: str,
    partitions: int,
    *,
    replication_factor: int = -1,
    config: dict[str, str] | None = None,
) -> None:
    """Create ``name`` (replication -1: the cluster's default, 3 on a 3-node cluster)
    and wait until every partition has a leader: CreateTopics returns once the
    controller has the topic, the broker serving it may learn of it a moment later.
    The tests and the benches both create their topics here.

    Raises:
        RuntimeError: partitions still without a leader after 30 s.
    """
    from confluent_kafka.admin import AdminClient, NewTopic  # the independent client

    admin = AdminClient({"bootstrap.servers": bootstrap})
    topic = NewTopic(
        name,
        num_partitions=partitions,
        replication_factor=replication_factor,
        config=config or {},
    )
    admin.create_topics([topic])[name].result(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        meta = admin.list_topics(name, timeout=10).topics.get(name)
        if (
            meta is not None
            and meta.error is None
            and len(meta.partitions) == partitions
            and all(p.leader >= 0 for p in meta.partitions.values())
        ):
            return
        time.sleep(0.05)
    raise RuntimeError(f"topic {name}: partitions without a leader after 30 s")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def fetch() -> Path:
    """The directory of the pinned Kafka's jars, fetched with Maven on first use."""
    # Keyed by the pom's digest too: a changed dependency list fetches anew.
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:12]
    target = cache_dir() / "kafka" / f"{KAFKA_VERSION}-{digest}"
    done = target / ".complete"
    if done.exists():
        return target / "jars"
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is required (scripts/setup.sh installs it with apt)")
    partial = target / "jars.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    result = subprocess.run(
        [
            "mvn",
            "--batch-mode",
            "--quiet",
            "--strict-checksums",
            "-Dstyle.color=never",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={partial}",
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise RuntimeError(f"mvn could not fetch Kafka's jars:\n{result.stdout}\n{result.stderr}")
    if not (partial / f"kafka_2.13-{KAFKA_VERSION}.jar").exists():
        raise RuntimeError(f"maven did not fetch kafka_2.13-{KAFKA_VERSION}.jar into {partial}")
    jars = target / "jars"
    shutil.rmtree(jars, ignore_errors=True)
    partial.rename(jars)
    done.touch()
    return jars


# ---------------------------------------------------------------------------------
# nodes


def _die_with_parent() -> None:
    """preexec_fn: the JVM gets SIGKILL when the process that started it dies."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Node:
    node_id: int
    ports: dict[str, int]  # listener name -> port
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.directory / "server.log"

    @property
    def properties_path(self) -> Path:
        return self.directory / "server.properties"

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def address(self, listener: str = "PLAINTEXT") -> str:
        return f"{HOST}:{self.ports[listener]}"


class Listeners(Protocol):
    """What the security tests need of a cluster: its listeners' addresses, its PKI
    and its users (a ``Cluster`` this module started, or an ``ExternalCluster``)."""

    pki: Pki | None
    users: dict[str, str]

    def bootstrap(self, listener: str = "PLAINTEXT") -> str: ...

    @property
    def bootstrap_servers(self) -> str: ...


@dataclass
class ExternalCluster:
    """A cluster somebody else runs, described by a JSON file in ``Cluster.describe``'s
    shape: ``{"listeners": {name: "host:port,..."}, "pki": {field: path, ...} | null,
    "users": {name: password}}``. Its PLAINTEXT principal must be a super user (the
    tests create topics and ACLs through it)."""

    listeners: dict[str, str]
    pki: Pki | None
    users: dict[str, str]

    @classmethod
    def load(cls, path: str | Path) -> ExternalCluster:
        data = json.loads(Path(path).read_text())
        pki = data.get("pki")
        return cls(
            listeners=dict(data["listeners"]),
            pki=None
            if pki is None
            else Pki(**{k: v if k == "client_key_passphrase" else Path(v) for k, v in pki.items()}),
            users=dict(data.get("users") or USERS),
        )

    def bootstrap(self, listener: str = "PLAINTEXT") -> str:
        return self.listeners[listener]

    @property
    def bootstrap_servers(self) -> str:
        return self.bootstrap("PLAINTEXT")


class Cluster:
    """A running Kafka cluster this module started (use ``start_cluster``)."""

    def __init__(self, nodes: list[Node], jars: Path, pki: Pki | None, workdir: Path) -> None:
        self.nodes = nodes
        self.jars = jars
        self.pki = pki
        self.workdir = workdir
        self.users = dict(USERS)

    # -- addresses ------------------------------------------------------------
    def bootstrap(self, listener: str = "PLAINTEXT") -> str:
        """``host:port,...`` of every node's ``listener``."""
        return ",".join(node.address(listener) for node in self.nodes)

    @property
    def bootstrap_servers(self) -> str:
        return self.bootstrap("PLAINTEXT")

    def describe(self) -> dict[str, object]:
        """This cluster as ``ExternalCluster.load`` reads it (``run --describe``)."""
        pki = None
        if self.pki is not None:
            pki = {k: str(v) for k, v in dataclasses.asdict(self.pki).items()}
        return {
            "listeners": {
                name: self.bootstrap(name) for name in self.nodes[0].ports if name != "CONTROLLER"
            },
            "pki": pki,
            "users": self.users,
        }

    def node(self, node_id: int) -> Node:
        [node] = [n for n in self.nodes if n.node_id == node_id]
        return node

    # -- faults -----------------------------------------------------------------
    def kill(self, node_id: int) -> None:
        """SIGKILL one node (by the PID we started) and reap it."""
        node = self.node(node_id)
        if node.running():
            assert node.process is not None
            os.kill(node.process.pid, signal.SIGKILL)
            node.process.wait()

    def pause(self, node_id: int) -> None:
        """SIGSTOP one node: it keeps its sockets but answers nothing."""
        process = self.node(node_id).process
        assert process is not None
        os.kill(process.pid, signal.SIGSTOP)

    def resume(self, node_id: int) -> None:
        process = self.node(node_id).process
        assert process is not None
        os.kill(process.pid, signal.SIGCONT)

    def stop_node(self, node_id: int, timeout: float = 30.0) -> None:
        """SIGTERM one node (controlled shutdown), SIGKILL after ``timeout``."""
        node = self.node(node_id)
        if node.running():
            assert node.process is not None
            os.kill(node.process.pid, signal.SIGCONT)  # a paused JVM cannot handle SIGTERM
            os.kill(node.process.pid, signal.SIGTERM)
            try:
                node.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(node.process.pid, signal.SIGKILL)
                node.process.wait()

    def restart(self, node_id: int, timeout: float = 90.0) -> None:
        """Start a stopped or killed node again on its storage; return once it is
        back in the cluster's metadata."""
        node = self.node(node_id)
        if node.running():
            raise RuntimeError(f"node {node_id} is still running")
        _launch(node, self.jars)
        self.wait_ready(timeout)

    # -- readiness ---------------------------------------------------------------
    def broker_ids(self, timeout: float = 5.0) -> set[int]:
        """The broker ids a metadata request lists (asked of the running nodes)."""
        from confluent_kafka.admin import AdminClient  # the tests' independent client

        live = ",".join(n.address() for n in self.nodes if n.running())
        # log_level 0: a node still starting must not fill stderr with refusals
        admin = AdminClient({"bootstrap.servers": live, "socket.timeout.ms": 3000, "log_level": 0})
        return set(admin.list_topics(timeout=timeout).brokers)

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait until every running node answers and metadata lists each of them."""
        want = {n.node_id for n in self.nodes if n.running()}
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            for node in self.nodes:
                if node.process is not None and node.process.poll() is not None:
                    if node.node_id in want:
                        raise RuntimeError(
                            f"kafka node {node.node_id} exited with {node.process.returncode}; "
                            f"log: {node.log_path}\n{_tail(node.log_path)}"
                        )
            try:
                if all(_listens(self.node(i).ports["PLAINTEXT"]) for i in want) and (
                    want <= self.broker_ids()
                ):
                    return
            except Exception as e:  # not up yet: retry until the deadline
                last_error = e
            time.sleep(0.2)
        raise RuntimeError(
            f"kafka cluster not ready within {timeout} s (want brokers {sorted(want)}; "
            f"last error: {last_error}); logs in {self.workdir}"
        )

    # -- lifecycle ---------------------------------------------------------------
    def stop(self) -> None:
        """Stop every node we started: SIGTERM all, SIGKILL what is left after 15 s."""
        for node in self.nodes:
            if node.running():
                assert node.process is not None
                with contextlib.suppress(ProcessLookupError):
                    os.kill(node.process.pid, signal.SIGCONT)
                    os.kill(node.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for node in self.nodes:
            if node.process is None:
                continue
            try:
                node.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(node.process.pid, signal.SIGKILL)
                node.process.wait()
        _started.discard(self)
        if not os.environ.get("KAFKIFY_KEEP_KAFKA_LOGS"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_started: set[Cluster] = set()


@atexit.register
def _stop_all() -> None:
    for cluster in list(_started):
        cluster.stop()


def _listens(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _properties(node: Node, voters: str, size: int, pki: Pki | None) -> str:
    listeners = [name for name in node.ports if name != "CONTROLLER"]
    replication = 3 if size >= 3 else 1
    min_isr = 2 if size >= 3 else 1
    props: dict[str, object] = {
        "process.roles": "broker,controller",
        "node.id": node.node_id,
        "controller.quorum.voters": voters,
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listeners": ",".join(f"{n}://{HOST}:{p}" for n, p in node.ports.items()),
        "advertised.listeners": ",".join(f"{n}://{node.address(n)}" for n in listeners),
        "listener.security.protocol.map": ",".join(f"{n}:{PROTOCOL_OF[n]}" for n in node.ports),
        "log.dirs": node.directory / "data",
        "num.partitions": 1,
        "default.replication.factor": replication,
        "min.insync.replicas": min_isr,
        # Internal topics: fewer partitions than the defaults (50) so the first
        # group or transaction does not wait for 50 partitions to be created.
        "offsets.topic.num.partitions": 4,
        "offsets.topic.replication.factor": replication,
        "transaction.state.log.num.partitions": 4,
        "transaction.state.log.replication.factor": replication,
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": replication,
        "share.coordinator.state.topic.min.isr": min_isr,
        "group.initial.rebalance.delay.ms": 0,
        # Faster failover than the defaults (2 s / 9 s): a SIGKILLed or SIGSTOPped
        # broker is fenced and its partitions get new leaders within ~3 s.
        "broker.heartbeat.interval.ms": 500,
        "broker.session.timeout.ms": 3000,
        "controller.quorum.election.timeout.ms": 1000,
        "controller.quorum.fetch.timeout.ms": 2000,
        "num.network.threads": 2,
        "num.io.threads": 4,
        "log.segment.bytes": 64 * 1024 * 1024,
        "log.retention.check.interval.ms": 3_600_000,
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        # PLAINTEXT (and the controller/inter-broker listeners) are ANONYMOUS.
        "super.users": "User:ANONYMOUS",
        "allow.everyone.if.no.acl.found": "true",
    }
    if pki is not None:
        plain_users = " ".join(f'user_{u}="{p}"' for u, p in USERS.items())
        props.update(
            {
                "ssl.keystore.type": "PEM",
                "ssl.keystore.location": pki.server,
                "ssl.truststore.type": "PEM",
                "ssl.truststore.location": pki.ca,
                "ssl.client.auth": "none",
                "listener.name.mtls.ssl.client.auth": "required",
                "listener.name.badhost.ssl.keystore.location": pki.badhost_server,
                # the principal of a client certificate is its CN, not the whole DN
                "ssl.principal.mapping.rules": "RULE:^CN=([^,]+).*$/$1/,DEFAULT",
                "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
            }
        )
        for listener in ("sasl_plaintext", "sasl_ssl"):
            prefix = f"listener.name.{listener}"
            props[f"{prefix}.plain.sasl.jaas.config"] = (
                f"org.apache.kafka.common.security.plain.PlainLoginModule required {plain_users};"
            )
            for mechanism in ("scram-sha-256", "scram-sha-512"):
                props[f"{prefix}.{mechanism}.sasl.jaas.config"] = (
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;"
                )
    return "".join(f"{k}={v}\n" for k, v in props.items())


def _java(jars: Path, main: str, *args: str) -> list[str]:
    return [
        "java",
        HEAP,
        "-Xms256m",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
        "-cp",
        f"{jars}/*",
        main,
        *args,
    ]


def _format(node: Node, jars: Path, cluster_id: str) -> None:
    scram = []
    for user, password in USERS.items():
        for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
            scram += ["--add-scram", f"{mechanism}=[name={user},password={password}]"]
    result = subprocess.run(
        _java(
            jars,
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            cluster_id,
            "--config",
            str(node.properties_path),
            *scram,
        ),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise RuntimeError(f"kafka-storage format failed:\n{result.stdout}\n{result.stderr}")


def _launch(node: Node, jars: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "OTEL_"))}
    with open(node.log_path, "ab") as log:
        node.process = subprocess.Popen(
            _java(jars, "kafka.Kafka", str(node.properties_path)),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            preexec_fn=_die_with_parent,
        )


def random_cluster_id() -> str:
    """A cluster id as Kafka makes them (a URL-safe base64 UUID), never starting with
    '-': StorageTool's argument parser would take ``--cluster-id -x...`` for an option
    and the format would fail, once in 64 starts (Kafka's Uuid.randomUuid skips those too)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def start_cluster(
    size: int = 1, *, security: bool = True, startup_timeout: float = 120.0
) -> Cluster:
    """Format and start ``size`` nodes; return once metadata lists all of them."""
    jars = fetch()
    workdir = Path(tempfile.mkdtemp(prefix=f"kafka-{size}n-"))
    pki = make_pki(workdir / "pki") if security else None
    names = ["PLAINTEXT", "CONTROLLER", *(SECURITY_LISTENERS if security else ())]
    nodes = [
        Node(node_id=i, ports={n: free_port() for n in names}, directory=workdir / f"node-{i}")
        for i in range(1, size + 1)
    ]
    voters = ",".join(f"{n.node_id}@{HOST}:{n.ports['CONTROLLER']}" for n in nodes)
    cluster_id = random_cluster_id()
    cluster = Cluster(nodes, jars, pki, workdir)
    _started.add(cluster)
    try:
        for node in nodes:
            node.directory.mkdir(parents=True)
            node.properties_path.write_text(_properties(node, voters, size, pki))
            _format(node, jars, cluster_id)
        for node in nodes:
            _launch(node, jars)
        cluster.wait_ready(startup_timeout)
    except BaseException:
        cluster.stop()
        raise
    return cluster


@contextlib.contextmanager
def running(size: int = 1, *, security: bool = True) -> Iterator[Cluster]:
    cluster = start_cluster(size, security=security)
    try:
        yield cluster
    finally:
        cluster.stop()


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="kafka_cluster.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="download the pinned Kafka's jars; print their directory")
    run = sub.add_parser("run", help="start a cluster, print its bootstrap, wait for Ctrl+C")
    run.add_argument("-n", "--nodes", type=int, default=1)
    run.add_argument("--no-security", action="store_true", help="PLAINTEXT listener only")
    describe = "write the listeners, PKI and users as JSON (for KAFKA_CLUSTER=FILE pytest)"
    run.add_argument("--describe", metavar="FILE", help=describe)
    args = parser.parse_args(argv[1:])
    if args.command == "fetch":
        print(fetch())
        return 0
    # `kill PID` of this script must stop the nodes too, not orphan them:
    # SystemExit unwinds through running(), which stops them by their PIDs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with running(args.nodes, security=not args.no_security) as cluster:
        print(cluster.bootstrap_servers, flush=True)
        if args.describe:
            Path(args.describe).write_text(json.dumps(cluster.describe(), indent=2))
        for listener in SECURITY_LISTENERS if cluster.pki else ():
            print(f"{listener}: {cluster.bootstrap(listener)}", file=sys.stderr)
        with contextlib.suppress(KeyboardInterrupt):
            while all(n.running() for n in cluster.nodes):
                time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
