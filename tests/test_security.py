"""TLS, SASL and ACLs on a real Apache Kafka broker, through ``kafkify.Producer``.

The ``kafka`` cluster (scripts/kafka_cluster.py) has a listener per security setup and
a PKI made at start, so every case here is a real handshake:

- **Accepted**: the settings the seed documents give (SASL_SSL + SCRAM-SHA-256 with
  kafka-python's option names and ``ssl_cafile``; SASL_SSL + PLAIN with confluent's raw
  librdkafka names through ``config=`` and ``Producer.from_config``), SCRAM-SHA-512,
  SASL_PLAINTEXT, mTLS with an encrypted client key, TLS without a client certificate,
  and a mismatched broker certificate with ``ssl_check_hostname=False``. Each record is
  sent with ``send()`` and read back byte for byte with an independent client
  (confluent-kafka's Consumer, over PLAINTEXT).
- **Refused**: a wrong password, a broker certificate from a CA we do not trust, a
  hostname mismatch, an mTLS listener without a client certificate. A blocking ``send``
  must raise ``AuthenticationError`` carrying librdkafka's reason as soon as every
  broker refuses us, not a ``KafkaTimeoutError`` after the delivery timeout: the
  delivery timeout here is far longer than the send's own timeout, so a timeout cannot
  pass for a refusal.
- **Not authorized**: an ACL lets only alice write to a topic; bob's record to it fails
  with ``AuthorizationError`` (``name == "TopicAuthorizationFailed"``), and the same
  producer keeps delivering bob's records to his other topics.
- **Secrets never leak**: across accepted and refused handshakes with librdkafka's
  ``debug=all`` logging and statistics on, no password, key passphrase or line of the
  client's private key appears in a log line, an error, ``repr(producer)``,
  ``producer.config`` or ``producer.metrics()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import kafkify

from helpers import create_topic, kafka_cluster, only_alice_writes, read_back

Cluster = kafka_cluster.Listeners
Options = dict[str, Any]

#: What a record would wait for without the refusal check: far longer than SEND_TIMEOUT.
DELIVERY_TIMEOUT_MS = 600_000
#: A blocking send's own bound. A refused record must fail well within it.
SEND_TIMEOUT = 30.0


def pki(cluster: Cluster) -> kafka_cluster.Pki:
    assert cluster.pki is not None, "the kafka fixture starts the cluster with its PKI"
    return cluster.pki


@contextlib.contextmanager
def producing(options: Options | None = None, **kwargs: Any) -> Iterator[kafkify.Producer]:
    """A producer closed at the end; a close that runs out of time (records of a
    refused producer, if any are left) does not hide the test's own outcome."""
    producer = kafkify.Producer(**{**(options or {}), **kwargs})
    try:
        yield producer
    finally:
        with contextlib.suppress(kafkify.KafkaTimeoutError):
            producer.close(timeout=5)


def send_and_read_back(producer: kafkify.Producer, bootstrap: str, case: str) -> None:
    """Send one keyed JSON record with headers; read it back over PLAINTEXT and
    compare every byte and where it landed."""
    topic = create_topic(bootstrap, 1, prefix="sec")
    value = {"case": case, "id": uuid.uuid4().hex, "amount": 12.5, "tags": ["a", "ü"]}
    meta = producer.send(
        topic, value, key=f"key-{case}", headers={"trace": b"\x00\xfftrace"}, timeout=SEND_TIMEOUT
    )
    [record] = read_back(bootstrap, topic, 1)
    assert (record.partition, record.offset) == (meta.partition, meta.offset)
    assert record.value == kafkify.dumps(value)
    assert record.key == f"key-{case}".encode()
    assert record.headers == [("trace", b"\x00\xfftrace")]


# ---------------------------------------------------------------------------------
# option sets, kafka-python-style names


def sasl_options(
    cluster: Cluster,
    mechanism: str,
    *,
    tls: bool = True,
    user: str = "alice",
    password: str | None = None,
) -> Options:
    protocol = "SASL_SSL" if tls else "SASL_PLAINTEXT"
    options: Options = {
        "bootstrap_servers": cluster.bootstrap(protocol),
        "security_protocol": protocol,
        "sasl_mechanism": mechanism,
        "sasl_plain_username": user,
        "sasl_plain_password": cluster.users[user] if password is None else password,
    }
    if tls:
        options["ssl_cafile"] = str(pki(cluster).ca)
    return options


def tls_options(
    cluster: Cluster, listener: str, *, ca: Path | None = None, client_cert: bool = False
) -> Options:
    p = pki(cluster)
    options: Options = {
        "bootstrap_servers": cluster.bootstrap(listener),
        "security_protocol": "SSL",
        "ssl_cafile": str(ca or p.ca),
    }
    if client_cert:
        options.update(
            ssl_certfile=str(p.client_cert),
            ssl_keyfile=str(p.client_key),
            ssl_password=p.client_key_passphrase,
        )
    return options


# ---------------------------------------------------------------------------------
# accepted


def test_seed_settings_sasl_ssl_scram_sha_256(kafka: Cluster, bootstrap: str) -> None:
    # The seed documents' settings, option for option.
    producer = kafkify.Producer(
        bootstrap_servers=kafka.bootstrap("SASL_SSL"),
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_plain_username="alice",
        sasl_plain_password=kafka.users["alice"],
        ssl_cafile=str(pki(kafka).ca),
    )
    with producer:
        send_and_read_back(producer, bootstrap, "seed-scram-sha-256")
        assert producer.config["sasl.mechanism"] == "SCRAM-SHA-256"
        assert producer.config["sasl.password"] == "********"


def confluent_style(kafka: Cluster) -> dict[str, str]:
    return {
        "bootstrap.servers": kafka.bootstrap("SASL_SSL"),
        "security.protocol": "SASL_SSL",
        "sasl.mechanisms": "PLAIN",
        "sasl.username": "alice",
        "sasl.password": kafka.users["alice"],
        "ssl.ca.location": str(pki(kafka).ca),
    }


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda conf: kafkify.Producer(config=conf), id="config="),
        pytest.param(kafkify.Producer.from_config, id="from_config"),
    ],
)
def test_confluent_style_sasl_ssl_plain(
    kafka: Cluster, bootstrap: str, make: Callable[[dict[str, str]], kafkify.Producer]
) -> None:
    producer = make(confluent_style(kafka))
    with producer:
        send_and_read_back(producer, bootstrap, "confluent-plain")
        assert producer.config["sasl.password"] == "********"


ACCEPTED: dict[str, Callable[[Cluster], Options]] = {
    "SASL_SSL SCRAM-SHA-512": lambda c: sasl_options(c, "SCRAM-SHA-512"),
    "SASL_SSL PLAIN (snake_case names)": lambda c: sasl_options(c, "PLAIN", user="bob"),
    "SASL_PLAINTEXT PLAIN": lambda c: sasl_options(c, "PLAIN", tls=False),
    "SASL_PLAINTEXT SCRAM-SHA-256": lambda c: sasl_options(c, "SCRAM-SHA-256", tls=False),
    "mTLS, encrypted client key": lambda c: tls_options(c, "MTLS", client_cert=True),
    "SSL without client certificate": lambda c: tls_options(c, "SSL"),
    "hostname mismatch, ssl_check_hostname=False": lambda c: {
        **tls_options(c, "BADHOST"),
        "ssl_check_hostname": False,
    },
}


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_accepted_handshake_delivers(kafka: Cluster, bootstrap: str, case: str) -> None:
    with producing(ACCEPTED[case](kafka)) as producer:
        send_and_read_back(producer, bootstrap, case)


# ---------------------------------------------------------------------------------
# refused


REFUSED: dict[str, tuple[Callable[[Cluster], Options], str, list[str]]] = {
    # case: (options, the error's name, what the message must say)
    "wrong password, SCRAM-SHA-256 over SASL_SSL": (
        lambda c: sasl_options(c, "SCRAM-SHA-256", password="not-alices-password"),
        "Authentication",
        ["SASL authentication error", "invalid credentials"],
    ),
    "wrong password, PLAIN over SASL_PLAINTEXT": (
        lambda c: sasl_options(c, "PLAIN", tls=False, password="not-alices-password"),
        "Authentication",
        ["SASL authentication error", "Invalid username or password"],
    ),
    "unknown CA (trusting only the rogue CA)": (
        lambda c: tls_options(c, "SSL", ca=pki(c).rogue_ca),
        "SSL",
        ["SSL handshake failed", "certificate verify failed"],
    ),
    "hostname mismatch, ssl_check_hostname=True": (
        lambda c: {**tls_options(c, "BADHOST"), "ssl_check_hostname": True},
        "SSL",
        ["SSL handshake failed", "certificate verify failed"],
    ),
    "hostname mismatch, default hostname check": (
        lambda c: tls_options(c, "BADHOST"),
        "SSL",
        ["SSL handshake failed", "certificate verify failed"],
    ),
    "mTLS listener without a client certificate": (
        lambda c: tls_options(c, "MTLS"),
        "SSL",
        ["bad certificate"],
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_handshake_fails_the_send_with_authentication_error(
    kafka: Cluster, bootstrap: str, case: str
) -> None:
    make_options, name, phrases = REFUSED[case]
    topic = create_topic(bootstrap, 1, prefix="refused")
    with producing(make_options(kafka), delivery_timeout_ms=DELIVERY_TIMEOUT_MS) as producer:
        with pytest.raises(kafkify.AuthenticationError) as refused:
            producer.send(topic, {"never": "delivered"}, timeout=SEND_TIMEOUT)
        error = refused.value
        assert not isinstance(error, kafkify.KafkaTimeoutError)
        assert error.name == name and not error.fatal, (error.name, str(error))
        message = str(error)
        assert f'delivery to topic "{topic}" failed' in message
        assert "the broker refused the connection" in message
        for phrase in phrases:
            assert phrase in message, message
        assert producer.metrics()["kafkify"]["failed"] == 1
    assert read_back(bootstrap, topic, 1, timeout=1) == []


@pytest.mark.parametrize(
    "case",
    ["wrong password, SCRAM-SHA-256 over SASL_SSL", "unknown CA (trusting only the rogue CA)"],
)
def test_refused_handshake_fails_metadata_waits_with_authentication_error(
    kafka: Cluster, case: str
) -> None:
    """start(), list_topics() and partitions_for() wait for metadata: with every broker
    refusing the client they raise the refusal, not a timeout after their wait."""
    make_options, name, phrases = REFUSED[case]
    with producing(make_options(kafka), max_block_ms=DELIVERY_TIMEOUT_MS) as producer:

        async def start() -> None:
            await producer.start(timeout=SEND_TIMEOUT)

        calls: dict[str, Callable[[], object]] = {
            "start": lambda: asyncio.run(start()),
            "list_topics": lambda: producer.list_topics(timeout=SEND_TIMEOUT),
            "partitions_for": lambda: producer.partitions_for("any-topic"),
        }
        for call, run in calls.items():
            with pytest.raises(kafkify.AuthenticationError) as refused:
                run()
            assert refused.value.name == name, (call, str(refused.value))
            assert "the broker refused the connection" in str(refused.value), call
            for phrase in phrases:
                assert phrase in str(refused.value), (call, str(refused.value))


# ---------------------------------------------------------------------------------
# authorization


def test_principal_without_write_gets_topic_authorization_failed(
    kafka: Cluster, bootstrap: str
) -> None:
    locked = create_topic(bootstrap, 1, prefix="alice-only")
    bobs = create_topic(bootstrap, 1, prefix="bobs")
    with only_alice_writes(bootstrap, locked):
        with producing(sasl_options(kafka, "SCRAM-SHA-256", user="bob")) as bob:
            for attempt in ("first", "again"):
                with pytest.raises(kafkify.AuthorizationError) as denied:
                    bob.send(locked, {"from": "bob", "attempt": attempt}, timeout=SEND_TIMEOUT)
                error = denied.value
                assert (error.name, error.code) == ("TopicAuthorizationFailed", 29), str(error)
                assert not error.fatal and not error.retriable
                assert locked in str(error)
                # The same producer keeps delivering bob's records to his own topic.
                bob.send(bobs, {"from": "bob", "after": attempt}, timeout=SEND_TIMEOUT)
        with producing(sasl_options(kafka, "SCRAM-SHA-256", user="alice")) as alice:
            alice.send(locked, {"from": "alice"}, timeout=SEND_TIMEOUT)
    assert [r.value for r in read_back(bootstrap, locked, 1)] == [kafkify.dumps({"from": "alice"})]
    assert [r.value for r in read_back(bootstrap, bobs, 2)] == [
        kafkify.dumps({"from": "bob", "after": "first"}),
        kafkify.dumps({"from": "bob", "after": "again"}),
    ]


# ---------------------------------------------------------------------------------
# secrets


WRONG_PASSWORD = "wr0ng-" + uuid.uuid4().hex  # unique, so any appearance is a leak


def pem_lines(pem: str) -> list[str]:
    """The body lines of a PEM text (not the armor); short last lines are left out
    so random text cannot match them by chance."""
    return [
        line.strip()
        for line in pem.splitlines()
        if line.strip()
        and not line.startswith("-----")
        and ":" not in line
        and len(line.strip()) >= 16
    ]


def secrets(cluster: Cluster) -> list[str]:
    """Every password, the key passphrase, and each line of the client key as
    stored (encrypted) and decrypted."""
    p = pki(cluster)
    stored = p.client_key.read_text()
    decrypted = subprocess.run(
        ["openssl", "pkey", "-in", str(p.client_key), "-passin", f"pass:{p.client_key_passphrase}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "PRIVATE KEY" in decrypted
    return [
        *cluster.users.values(),
        WRONG_PASSWORD,
        p.client_key_passphrase,
        *pem_lines(stored),
        *pem_lines(decrypted),
    ]


def pem_options(cluster: Cluster) -> Options:
    """mTLS with the key, certificate and CA given as PEM text (librdkafka names)."""
    p = pki(cluster)
    return {
        "bootstrap_servers": cluster.bootstrap("MTLS"),
        "config": {
            "security.protocol": "SSL",
            "ssl.ca.pem": p.ca.read_text(),
            "ssl.certificate.pem": p.client_cert.read_text(),
            "ssl.key.pem": p.client_key.read_text(),
            "ssl.key.password": p.client_key_passphrase,
        },
    }


HANDSHAKES: dict[str, tuple[Callable[[Cluster], Options], bool]] = {
    # case: (options, accepted)
    "SCRAM-SHA-256 over SASL_SSL, accepted": (lambda c: sasl_options(c, "SCRAM-SHA-256"), True),
    "PLAIN over SASL_PLAINTEXT, accepted": (
        lambda c: sasl_options(c, "PLAIN", tls=False, user="bob"),
        True,
    ),
    "mTLS, key file + passphrase, accepted": (
        lambda c: tls_options(c, "MTLS", client_cert=True),
        True,
    ),
    "mTLS, key and certificates as PEM text, accepted": (pem_options, True),
    "wrong PLAIN password over SASL_PLAINTEXT, refused": (
        lambda c: sasl_options(c, "PLAIN", tls=False, password=WRONG_PASSWORD),
        False,
    ),
    "wrong SCRAM-SHA-512 password over SASL_SSL, refused": (
        lambda c: sasl_options(c, "SCRAM-SHA-512", password=WRONG_PASSWORD),
        False,
    ),
    "mTLS key + passphrase, untrusted broker, refused": (
        lambda c: {
            **tls_options(c, "MTLS", client_cert=True),
            "ssl_cafile": str(pki(c).rogue_ca),
        },
        False,
    ),
}


def masked_secret_properties(config: dict[str, str]) -> list[str]:
    return [k for k in config if "password" in k or k.endswith(".pem")]


@pytest.mark.parametrize("case", list(HANDSHAKES))
def test_no_secret_in_logs_errors_repr_config_or_metrics(
    kafka: Cluster, bootstrap: str, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    make_options, accepted = HANDSHAKES[case]
    options = make_options(kafka)
    config = {**options.pop("config", {}), "debug": "all"}
    topic = create_topic(bootstrap, 1, prefix="secrets")
    # librdkafka's log level follows the logger's level when the producer is made.
    caplog.set_level(logging.DEBUG, logger="kafkify")
    texts: list[str] = []
    producer = kafkify.Producer(
        client_id="secrets-test",
        config=config,
        statistics_interval_ms=100,
        delivery_timeout_ms=DELIVERY_TIMEOUT_MS,
        **options,
    )
    try:
        try:
            producer.send(topic, {"case": case}, timeout=SEND_TIMEOUT)
            assert accepted, "the handshake should have been refused"
        except kafkify.AuthenticationError as e:
            assert not accepted, f"refused: {e}"
            texts += [str(e), repr(e)]
        deadline = time.monotonic() + 10
        while "brokers" not in producer.metrics():
            assert time.monotonic() < deadline, "no statistics after 10 s"
            time.sleep(0.05)
        metrics = producer.metrics()
        texts += [repr(producer), json.dumps(producer.config), json.dumps(metrics, default=str)]
        for prop in masked_secret_properties(producer.config):
            assert producer.config[prop] == "********", prop
    finally:
        with contextlib.suppress(kafkify.KafkaTimeoutError):
            producer.close(timeout=5)
    texts.append(repr(producer))
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("kafkify")]
    # librdkafka's debug output did reach the logger (the check below means something),
    # including its dump of the configuration, with the secrets redacted.
    assert len(logged) > 100
    assert any("password = [redacted]" in line for line in logged)
    texts += logged
    for secret in secrets(kafka):
        leaks = [t for t in texts if secret in t]
        assert not leaks, f"a secret ({secret[:4]}...) appears in: {leaks[0][:300]}"


def test_wrong_key_passphrase_is_a_config_error_without_either_passphrase(
    kafka: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kafkify")
    options = {**tls_options(kafka, "MTLS", client_cert=True), "ssl_password": WRONG_PASSWORD}
    with pytest.raises(kafkify.ConfigError, match=r"ssl\.key") as rejected:
        kafkify.Producer(config={"debug": "all"}, **options)
    texts = [str(rejected.value), repr(rejected.value), caplog.text]
    for secret in secrets(kafka):
        assert not [t for t in texts if secret in t], f"a secret ({secret[:4]}...) leaked"
