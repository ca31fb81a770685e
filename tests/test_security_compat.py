"""TLS, SASL and ACLs through the drop-in shims, with each peer's own option names,
side by side with the real peer against the same broker.

The matrix of ``test_security.py`` (accepted handshakes, refused ones, a principal
without WRITE) runs through ``kafkify.compat.kafka.KafkaProducer`` (kafka-python's
``security_protocol``, ``sasl_*``, ``ssl_cafile``/``ssl_certfile``/``ssl_keyfile``/
``ssl_password``, ``ssl_check_hostname``), ``kafkify.compat.aiokafka.AIOKafkaProducer``
(``ssl_context=create_ssl_context(...)``, from the shim's ``helpers`` and from
aiokafka's own, plus plain ``ssl.SSLContext`` objects) and
``kafkify.compat.confluent_kafka.Producer`` (librdkafka's names). Each case also runs
on the real kafka-python 3.0, aiokafka 0.14 or confluent-kafka 2.x, and the shim's
outcome is checked against the peer's: both deliver (every record read back byte for
byte over PLAINTEXT), or the shim's error is an instance of the shim's class of the
same name as the peer's error (kafka-python: ``KafkaTimeoutError`` from its
constructor's bootstrap; aiokafka: ``KafkaConnectionError`` from ``start()``;
confluent-kafka: the code its ``error_cb`` reports), so handlers written for the peer
still catch it. The peers get short bootstrap/request timeouts so each case stays
within a few seconds.
"""

from __future__ import annotations

import asyncio
import gc
import ssl
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiokafka
import aiokafka.errors
import aiokafka.helpers
import confluent_kafka
import pytest

import kafkify
from kafkify.compat import aiokafka as aiokafka_shim
from kafkify.compat import confluent_kafka as confluent_shim
from kafkify.compat.aiokafka.helpers import create_ssl_context
from kafkify.compat.kafka import KafkaProducer
from kafkify.compat.kafka import errors as shim_errors

from helpers import create_topic, kafka_cluster, only_alice_writes, read_back

with warnings.catch_warnings():
    # kafka-python 3.0 loads its protocol schemas with the deprecated
    # importlib.resources.read_text at import time.
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka as kafka_python
    import kafka.errors as kafka_python_errors

Cluster = kafka_cluster.Listeners
Options = dict[str, Any]

pytestmark = [
    # The peers leave sockets of refused connections to the garbage collector.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(autouse=True)
def collect_peer_garbage() -> Iterator[None]:
    """Collect what a peer left behind (a kafka-python producer whose constructor
    failed keeps its sockets in reference cycles) while this module's warning filters
    apply, not in some later test."""
    yield
    gc.collect()


#: The shims' records would wait this long without the refusal check.
DELIVERY_TIMEOUT_MS = 600_000
#: A shim's blocking wait for one record.
WAIT = 30.0
#: How long the peers (and aiokafka's shim, whose start() waits for metadata) try
#: to bootstrap from a broker that refuses them.
PEER_BOOTSTRAP_MS = 1500


@dataclass(frozen=True)
class Case:
    """One security setup, written in each client's own option names below."""

    listener: str  # a listener of scripts/kafka_cluster.py
    mechanism: str | None = None  # SASL mechanism, for the SASL listeners
    user: str = "alice"
    password: str | None = None  # None: the user's real password
    ca: str = "ca"  # the Pki field the client trusts: "ca" or "rogue_ca"
    client_cert: bool = False
    check_hostname: bool | None = None  # None: the client's default (on)
    reason: tuple[str, ...] = ()  # for refusals: what the error message must say

    @property
    def protocol(self) -> str:
        return self.listener if self.listener.startswith("SASL") else "SSL"

    @property
    def tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def sasl_refusal(self) -> bool:
        return self.mechanism is not None


ACCEPTED = {
    "SASL_SSL SCRAM-SHA-256": Case("SASL_SSL", "SCRAM-SHA-256"),
    "SASL_SSL PLAIN": Case("SASL_SSL", "PLAIN"),
    "SASL_SSL SCRAM-SHA-512": Case("SASL_SSL", "SCRAM-SHA-512", user="bob"),
    "SASL_PLAINTEXT SCRAM-SHA-256": Case("SASL_PLAINTEXT", "SCRAM-SHA-256"),
    "mTLS, encrypted client key": Case("MTLS", client_cert=True),
    "SSL without client certificate": Case("SSL"),
    "hostname mismatch, check off": Case("BADHOST", check_hostname=False),
}

CERTIFICATE_VERIFY_FAILED = ("SSL handshake failed", "certificate verify failed")
REFUSED = {
    "wrong password, SCRAM-SHA-256 over SASL_SSL": Case(
        "SASL_SSL",
        "SCRAM-SHA-256",
        password="not-alices-password",
        reason=("SASL authentication error", "invalid credentials"),
    ),
    "wrong password, PLAIN over SASL_PLAINTEXT": Case(
        "SASL_PLAINTEXT",
        "PLAIN",
        password="not-alices-password",
        reason=("SASL authentication error", "Invalid username or password"),
    ),
    "unknown CA": Case("SSL", ca="rogue_ca", reason=CERTIFICATE_VERIFY_FAILED),
    "hostname mismatch": Case("BADHOST", check_hostname=True, reason=CERTIFICATE_VERIFY_FAILED),
    "mTLS without client certificate": Case("MTLS", reason=("bad certificate",)),
}


def pki(cluster: Cluster) -> kafka_cluster.Pki:
    assert cluster.pki is not None, "the kafka fixture starts the cluster with its PKI"
    return cluster.pki


def password(cluster: Cluster, case: Case) -> str:
    return cluster.users[case.user] if case.password is None else case.password


def kafka_python_options(cluster: Cluster, case: Case) -> Options:
    """kafka-python's names (the shim takes the same)."""
    p = pki(cluster)
    options: Options = {
        "bootstrap_servers": cluster.bootstrap(case.listener),
        "security_protocol": case.protocol,
    }
    if case.mechanism:
        options.update(
            sasl_mechanism=case.mechanism,
            sasl_plain_username=case.user,
            sasl_plain_password=password(cluster, case),
        )
    if case.tls:
        options["ssl_cafile"] = str(getattr(p, case.ca))
    if case.client_cert:
        options.update(
            ssl_certfile=str(p.client_cert),
            ssl_keyfile=str(p.client_key),
            ssl_password=p.client_key_passphrase,
        )
    if case.check_hostname is not None:
        options["ssl_check_hostname"] = case.check_hostname
    return options


def aiokafka_options(
    cluster: Cluster, case: Case, make_context: Callable[..., ssl.SSLContext]
) -> Options:
    """aiokafka's names: TLS settings travel in an ``ssl_context``."""
    p = pki(cluster)
    options: Options = {
        "bootstrap_servers": cluster.bootstrap(case.listener),
        "security_protocol": case.protocol,
    }
    if case.mechanism:
        options.update(
            sasl_mechanism=case.mechanism,
            sasl_plain_username=case.user,
            sasl_plain_password=password(cluster, case),
        )
    if case.tls:
        files: Options = {"cafile": str(getattr(p, case.ca))}
        if case.client_cert:
            files.update(
                certfile=str(p.client_cert),
                keyfile=str(p.client_key),
                password=p.client_key_passphrase,
            )
        context = make_context(**files)
        if case.check_hostname is not None:
            context.check_hostname = case.check_hostname
        options["ssl_context"] = context
    return options


def librdkafka_options(cluster: Cluster, case: Case) -> dict[str, str]:
    """confluent-kafka's (librdkafka's) names."""
    p = pki(cluster)
    conf = {
        "bootstrap.servers": cluster.bootstrap(case.listener),
        "security.protocol": case.protocol,
    }
    if case.mechanism:
        conf.update(
            {
                "sasl.mechanisms": case.mechanism,
                "sasl.username": case.user,
                "sasl.password": password(cluster, case),
            }
        )
    if case.tls:
        conf["ssl.ca.location"] = str(getattr(p, case.ca))
    if case.client_cert:
        conf.update(
            {
                "ssl.certificate.location": str(p.client_cert),
                "ssl.key.location": str(p.client_key),
                "ssl.key.password": p.client_key_passphrase,
            }
        )
    if case.check_hostname is not None:
        conf["ssl.endpoint.identification.algorithm"] = "https" if case.check_hostname else "none"
    return conf


def assert_read_back(bootstrap: str, topic: str, expected: dict[int, bytes]) -> None:
    """The topic holds exactly ``expected`` (offset → value), byte for byte."""
    records = read_back(bootstrap, topic, len(expected))
    assert {r.offset: r.value for r in records} == expected


def assert_same_class(shim_error: BaseException, peer_error: BaseException, module: Any) -> None:
    """The shim's error is an instance of the shim's class named like the peer's."""
    name = type(peer_error).__name__
    expected = getattr(module, name, None)
    assert isinstance(expected, type), f"the shim has no {name} ({peer_error!r})"
    assert isinstance(shim_error, expected), (shim_error, peer_error)


BOB = Case("SASL_SSL", "SCRAM-SHA-256", user="bob")


# ---------------------------------------------------------------------------------
# kafka-python: kafkify.compat.kafka.KafkaProducer vs kafka.KafkaProducer


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_kafka_python_accepted(kafka: Cluster, bootstrap: str, case: str) -> None:
    options = kafka_python_options(kafka, ACCEPTED[case])
    topic = create_topic(bootstrap, 1, prefix="kp-sec")
    with KafkaProducer(**options) as shim:
        shim_meta = shim.send(topic, b"shim:" + case.encode(), key=b"k").get(timeout=WAIT)
    peer = kafka_python.KafkaProducer(**options, bootstrap_timeout_ms=20000)
    try:
        peer_meta = peer.send(topic, b"peer:" + case.encode(), key=b"k").get(timeout=WAIT)
    finally:
        peer.close(timeout=5)
    assert_read_back(
        bootstrap,
        topic,
        {shim_meta.offset: b"shim:" + case.encode(), peer_meta.offset: b"peer:" + case.encode()},
    )


def test_kafka_python_ssl_context(kafka: Cluster, bootstrap: str) -> None:
    """kafka-python's ``ssl_context`` (which replaces the ``ssl_*`` file options): the
    shim takes the CA certificates and the hostname check from it."""
    topic = create_topic(bootstrap, 1, prefix="kp-ctx")
    delivered = {}
    for who, make in (("shim", KafkaProducer), ("peer", kafka_python.KafkaProducer)):
        context = ssl.create_default_context(cafile=str(pki(kafka).ca))
        context.check_hostname = False  # the BADHOST listener's certificate names another host
        producer = make(
            bootstrap_servers=kafka.bootstrap("BADHOST"),
            security_protocol="SSL",
            ssl_context=context,
            ssl_cafile=str(pki(kafka).rogue_ca),  # ignored next to ssl_context, by both
        )
        try:
            meta = producer.send(topic, who.encode()).get(timeout=WAIT)
        finally:
            producer.close(timeout=5)
        delivered[meta.offset] = who.encode()
    assert_read_back(bootstrap, topic, delivered)


@pytest.mark.parametrize("case", list(REFUSED))
def test_kafka_python_refused(kafka: Cluster, bootstrap: str, case: str) -> None:
    setup = REFUSED[case]
    options = kafka_python_options(kafka, setup)
    with pytest.raises(kafka_python_errors.KafkaError) as peer_refused:
        # kafka-python bootstraps in its constructor and gives up after this.
        kafka_python.KafkaProducer(**options, bootstrap_timeout_ms=PEER_BOOTSTRAP_MS).close()
    topic = create_topic(bootstrap, 1, prefix="kp-refused")
    with KafkaProducer(**options, delivery_timeout_ms=DELIVERY_TIMEOUT_MS) as shim:
        future = shim.send(topic, b"never delivered")
        with pytest.raises(shim_errors.KafkaError) as shim_refused:
            future.get(timeout=WAIT)
    # kafka-python: KafkaTimeoutError("Unable to bootstrap from ...").
    assert isinstance(peer_refused.value, kafka_python_errors.KafkaTimeoutError)
    error = shim_refused.value
    assert_same_class(error, peer_refused.value, shim_errors)
    # ... and named for the cause, as kafka-python's connection names it in its log.
    if setup.sasl_refusal:
        assert isinstance(error, shim_errors.SaslAuthenticationFailedError)
        assert error.errno == 58
    else:
        assert isinstance(error, shim_errors.KafkaConnectionError)
    assert not error.retriable
    assert isinstance(error.__cause__, kafkify.AuthenticationError)
    for phrase in setup.reason:
        assert phrase in str(error), str(error)


def test_kafka_python_topic_authorization_failed(kafka: Cluster, bootstrap: str) -> None:
    locked = create_topic(bootstrap, 1, prefix="alice-only")
    bobs = create_topic(bootstrap, 1, prefix="bobs")
    options = kafka_python_options(kafka, BOB)
    delivered = {}
    with only_alice_writes(bootstrap, locked):
        for who, make in (("shim", KafkaProducer), ("peer", kafka_python.KafkaProducer)):
            producer = make(**options, max_block_ms=10000)
            try:
                with pytest.raises(Exception) as denied:
                    producer.send(locked, b"bob").get(timeout=WAIT)
                meta = producer.send(bobs, who.encode()).get(timeout=WAIT)  # still works
            finally:
                producer.close(timeout=5)
            delivered[meta.offset] = who.encode()
            if who == "shim":
                shim_denied = denied.value
            else:
                peer_denied = denied.value
    assert isinstance(peer_denied, kafka_python_errors.TopicAuthorizationFailedError)
    assert_same_class(shim_denied, peer_denied, shim_errors)
    assert isinstance(shim_denied, shim_errors.AuthorizationError) and shim_denied.errno == 29
    assert_read_back(bootstrap, bobs, delivered)
    assert read_back(bootstrap, locked, 1, timeout=1) == []


# ---------------------------------------------------------------------------------
# aiokafka: kafkify.compat.aiokafka.AIOKafkaProducer vs aiokafka.AIOKafkaProducer


async def aiokafka_send(
    make: Callable[..., Any], options: Options, topic: str, value: bytes
) -> int:
    producer = make(**options, request_timeout_ms=20000)
    await producer.start()
    try:
        meta = await producer.send_and_wait(topic, value, key=b"k")
        return int(meta.offset)
    finally:
        await producer.stop()


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_aiokafka_accepted(kafka: Cluster, bootstrap: str, case: str) -> None:
    topic = create_topic(bootstrap, 1, prefix="aio-sec")
    shim_options = aiokafka_options(kafka, ACCEPTED[case], create_ssl_context)
    peer_options = aiokafka_options(kafka, ACCEPTED[case], aiokafka.helpers.create_ssl_context)

    async def main() -> dict[int, bytes]:
        shim = await aiokafka_send(aiokafka_shim.AIOKafkaProducer, shim_options, topic, b"shim")
        peer = await aiokafka_send(aiokafka.AIOKafkaProducer, peer_options, topic, b"peer")
        return {shim: b"shim", peer: b"peer"}

    assert_read_back(bootstrap, topic, asyncio.run(main()))


def stdlib_context(cafile: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cafile)


def unverified_context(cafile: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cafile)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def no_hostname_check_context(cafile: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cafile)
    context.check_hostname = False
    return context


FOREIGN_CONTEXTS: dict[str, tuple[str, Callable[[str], ssl.SSLContext], str]] = {
    # case: (listener, context maker, the CA it trusts)
    "aiokafka.helpers.create_ssl_context, SASL_SSL": (
        "SASL_SSL",
        lambda cafile: aiokafka.helpers.create_ssl_context(cafile=cafile),
        "ca",
    ),
    "ssl.create_default_context, SSL": ("SSL", stdlib_context, "ca"),
    "check_hostname off, mismatched certificate": ("BADHOST", no_hostname_check_context, "ca"),
    "verify_mode CERT_NONE, trusting only the rogue CA": ("SSL", unverified_context, "rogue_ca"),
}


@pytest.mark.parametrize("case", list(FOREIGN_CONTEXTS))
def test_aiokafka_foreign_ssl_context(kafka: Cluster, bootstrap: str, case: str) -> None:
    """An SSLContext the shim did not make: its CA certificates (get_ca_certs),
    check_hostname and verify_mode are what librdkafka gets; the peer, given the same
    context, must agree."""
    listener, make_context, ca = FOREIGN_CONTEXTS[case]
    topic = create_topic(bootstrap, 1, prefix="aio-ctx")
    options: Options = {
        "bootstrap_servers": kafka.bootstrap(listener),
        "security_protocol": "SASL_SSL" if listener == "SASL_SSL" else "SSL",
    }
    if listener == "SASL_SSL":
        options.update(
            sasl_mechanism="SCRAM-SHA-256",
            sasl_plain_username="alice",
            sasl_plain_password=kafka.users["alice"],
        )
    cafile = str(getattr(pki(kafka), ca))

    async def main() -> dict[int, bytes]:
        out = {}
        for who, make in (
            ("shim", aiokafka_shim.AIOKafkaProducer),
            ("peer", aiokafka.AIOKafkaProducer),
        ):
            offset = await aiokafka_send(
                make, {**options, "ssl_context": make_context(cafile)}, topic, who.encode()
            )
            out[offset] = who.encode()
        return out

    assert_read_back(bootstrap, topic, asyncio.run(main()))


@pytest.mark.parametrize("case", list(REFUSED))
def test_aiokafka_refused(kafka: Cluster, case: str) -> None:
    setup = REFUSED[case]

    async def start(make: Callable[..., Any], options: Options) -> BaseException:
        producer = make(**options, request_timeout_ms=PEER_BOOTSTRAP_MS)
        try:
            await producer.start()
        except Exception as e:
            return e
        finally:
            await producer.stop()
        raise AssertionError(f"{make.__module__}: start() succeeded")

    async def main() -> tuple[BaseException, BaseException]:
        peer = await start(
            aiokafka.AIOKafkaProducer,
            aiokafka_options(kafka, setup, aiokafka.helpers.create_ssl_context),
        )
        shim = await start(
            aiokafka_shim.AIOKafkaProducer, aiokafka_options(kafka, setup, create_ssl_context)
        )
        return peer, shim

    async def send_without_start() -> BaseException:
        # Not aiokafka's way (it needs start()), but the shim's records must fail with
        # the refusal at once too.
        producer = aiokafka_shim.AIOKafkaProducer(
            **aiokafka_options(kafka, setup, create_ssl_context),
            request_timeout_ms=DELIVERY_TIMEOUT_MS,
        )
        try:
            with pytest.raises(aiokafka_shim.errors.KafkaError) as refused:
                await asyncio.wait_for(producer.send_and_wait("never-created", b"x"), WAIT)
            return refused.value
        finally:
            await producer.stop()

    peer_error, shim_error = asyncio.run(main())
    assert isinstance(peer_error, aiokafka.errors.KafkaConnectionError), repr(peer_error)
    assert_same_class(shim_error, peer_error, aiokafka_shim.errors)
    record_error = asyncio.run(send_without_start())
    assert_same_class(record_error, peer_error, aiokafka_shim.errors)
    refusal = (
        aiokafka_shim.errors.SaslAuthenticationRefusedError
        if setup.sasl_refusal
        else aiokafka_shim.errors.SSLHandshakeRefusedError
    )
    assert isinstance(record_error, refusal), repr(record_error)
    for phrase in setup.reason:
        assert phrase in str(record_error), str(record_error)


def test_aiokafka_topic_authorization_failed(kafka: Cluster, bootstrap: str) -> None:
    locked = create_topic(bootstrap, 1, prefix="alice-only")
    bobs = create_topic(bootstrap, 1, prefix="bobs")

    async def as_bob(
        make: Callable[..., Any], context: Callable[..., ssl.SSLContext], who: str
    ) -> tuple[BaseException, int]:
        producer = make(**aiokafka_options(kafka, BOB, context), request_timeout_ms=20000)
        await producer.start()
        try:
            with pytest.raises(Exception) as denied:
                await producer.send_and_wait(locked, b"bob")
            meta = await producer.send_and_wait(bobs, who.encode())  # still works
            return denied.value, int(meta.offset)
        finally:
            await producer.stop()

    async def main() -> tuple[tuple[BaseException, int], tuple[BaseException, int]]:
        shim = await as_bob(aiokafka_shim.AIOKafkaProducer, create_ssl_context, "shim")
        peer = await as_bob(aiokafka.AIOKafkaProducer, aiokafka.helpers.create_ssl_context, "peer")
        return shim, peer

    with only_alice_writes(bootstrap, locked):
        (shim_denied, shim_offset), (peer_denied, peer_offset) = asyncio.run(main())
    assert isinstance(peer_denied, aiokafka.errors.TopicAuthorizationFailedError)
    assert_same_class(shim_denied, peer_denied, aiokafka_shim.errors)
    assert_read_back(bootstrap, bobs, {shim_offset: b"shim", peer_offset: b"peer"})
    assert read_back(bootstrap, locked, 1, timeout=1) == []


# ---------------------------------------------------------------------------------
# confluent-kafka: kafkify.compat.confluent_kafka.Producer vs confluent_kafka.Producer


def deliver(producer: Any, topic: str, value: bytes) -> tuple[Any, Any]:
    """Produce one record with confluent-kafka's API, flush, and return its delivery
    report's ``(err, msg)``."""
    reports: list[tuple[Any, Any]] = []
    producer.produce(
        topic, value, key=b"k", on_delivery=lambda err, msg: reports.append((err, msg))
    )
    assert producer.flush(WAIT) == 0
    [report] = reports
    return report


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_confluent_accepted(kafka: Cluster, bootstrap: str, case: str) -> None:
    conf = librdkafka_options(kafka, ACCEPTED[case])
    topic = create_topic(bootstrap, 1, prefix="ck-sec")
    delivered = {}
    for who, make in (("shim", confluent_shim.Producer), ("peer", confluent_kafka.Producer)):
        err, msg = deliver(make(conf), topic, who.encode())
        assert err is None, (who, err)
        delivered[msg.offset()] = who.encode()
    assert_read_back(bootstrap, topic, delivered)


def refusal_kind(error: Any) -> str:
    """An error_cb error's name, with librdkafka's two reports of an untrusted broker
    certificate as one: `_SSL` ("SSL handshake failed: ...") when SSL_do_handshake
    finds it, `_TRANSPORT` with the same OpenSSL reason when a socket write during
    the handshake finds it first (rdkafka_ssl.c, rd_kafka_transport_ssl_io_event).
    Which one comes first is a race inside librdkafka, whose same code the peer
    bundles: one CI run got `_TRANSPORT` from the shim and `_SSL` from the peer (40
    runs of each, here, all gave `_SSL`)."""
    if error.name() == "_TRANSPORT" and "certificate verify failed" in error.str():
        return "_SSL"
    return str(error.name())


def refusal_codes(errors: list[Any]) -> list[str]:
    """The kinds of error_cb's errors, without the "all brokers down" that follows."""
    return [refusal_kind(e) for e in errors if e.name() != "_ALL_BROKERS_DOWN"]


@pytest.mark.parametrize("case", list(REFUSED))
def test_confluent_refused(kafka: Cluster, bootstrap: str, case: str) -> None:
    setup = REFUSED[case]
    conf = librdkafka_options(kafka, setup)
    topic = create_topic(bootstrap, 1, prefix="ck-refused")

    # The real confluent-kafka: librdkafka reports the refusal to error_cb and keeps
    # the record until message.timeout.ms; we stop once error_cb has spoken.
    peer_errors: list[Any] = []
    peer = confluent_kafka.Producer(
        {**conf, "error_cb": peer_errors.append, "message.timeout.ms": DELIVERY_TIMEOUT_MS}
    )
    peer.produce(topic, b"peer")
    deadline = time.monotonic() + 20
    while not refusal_codes(peer_errors) and time.monotonic() < deadline:
        peer.poll(0.1)
    peer.purge()
    peer.flush(5)
    peer_code = refusal_codes(peer_errors)[0]

    shim_errors_seen: list[Any] = []
    shim = confluent_shim.Producer(
        {**conf, "error_cb": shim_errors_seen.append, "message.timeout.ms": DELIVERY_TIMEOUT_MS}
    )
    err, _ = deliver(shim, topic, b"shim")  # fails at once: flush has nothing left to wait for
    shim.close()
    # error_cb tells the same story as the peer's ...
    assert refusal_codes(shim_errors_seen)[0] == peer_code
    # ... and the record fails with it instead of _MSG_TIMED_OUT. A client certificate
    # the broker refused is a transport error to librdkafka (its reason is the TLS
    # alert); kafkify reports it as the TLS refusal it is (src/refusal.rs).
    expected = "_SSL" if setup.listener == "MTLS" else peer_code
    if setup.listener == "MTLS":
        assert peer_code == "_TRANSPORT"
    assert err is not None and err.name() == expected, err
    assert not err.retriable() and not err.fatal()
    for phrase in setup.reason:
        assert phrase in err.str(), err.str()
    assert read_back(bootstrap, topic, 1, timeout=1) == []


def test_confluent_topic_authorization_failed(kafka: Cluster, bootstrap: str) -> None:
    locked = create_topic(bootstrap, 1, prefix="alice-only")
    bobs = create_topic(bootstrap, 1, prefix="bobs")
    conf = librdkafka_options(kafka, BOB)
    delivered = {}
    with only_alice_writes(bootstrap, locked):
        for who, make in (("shim", confluent_shim.Producer), ("peer", confluent_kafka.Producer)):
            producer = make(conf)
            denied, _ = deliver(producer, locked, b"bob")
            assert denied is not None, who
            assert denied.name() == "TOPIC_AUTHORIZATION_FAILED", (who, denied)
            assert denied.code() == confluent_kafka.KafkaError.TOPIC_AUTHORIZATION_FAILED
            err, msg = deliver(producer, bobs, who.encode())  # the same producer still delivers
            assert err is None, (who, err)
            delivered[msg.offset()] = who.encode()
    assert_read_back(bootstrap, bobs, delivered)
    assert read_back(bootstrap, locked, 1, timeout=1) == []
