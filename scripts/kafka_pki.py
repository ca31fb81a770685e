"""The test PKI of scripts/kafka_cluster.py, made with ``openssl`` at each cluster's
start: a CA, the broker's certificate for 127.0.0.1, one for another host (the
BADHOST listener), a client certificate with an encrypted key (the MTLS listener),
and a rogue CA nobody uses."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

CLIENT_KEY_PASSPHRASE = "client-key-passphrase"
CLIENT_CN = "kafkify-client"


@dataclass(frozen=True)
class Pki:
    """Files made by ``make_pki``; every path is PEM."""

    ca: Path  # the CA that signed the broker's and the client's certificates
    rogue_ca: Path  # a CA nobody uses: trusting only it must fail the handshake
    server: Path  # key + chain for 127.0.0.1 / localhost
    badhost_server: Path  # key + chain for wrong-host.invalid only
    client_cert: Path  # CN=kafkify-client, signed by ``ca``
    client_key: Path  # encrypted with CLIENT_KEY_PASSPHRASE
    client_key_passphrase: str = CLIENT_KEY_PASSPHRASE


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(directory: Path) -> Pki:
    """Make a CA, server and client certificates with ``openssl`` (RSA 2048, 2 days)."""
    d = directory
    d.mkdir(parents=True, exist_ok=True)

    def ca(name: str) -> None:
        _openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.pem",
            cwd=d,
        )  # fmt: skip

    def signed(name: str, subject: str, ext: str, *key_args: str) -> None:
        _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                 *key_args, "-out", f"{name}.key", cwd=d)  # fmt: skip
        passin = ["-passin", f"pass:{CLIENT_KEY_PASSPHRASE}"] if key_args else []
        _openssl("req", "-new", "-key", f"{name}.key", *passin, "-subj", subject,
                 "-out", f"{name}.csr", cwd=d)  # fmt: skip
        (d / f"{name}.ext").write_text(ext)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext",
                 "-out", f"{name}.pem", cwd=d)  # fmt: skip

    ca("ca")
    ca("rogue-ca")
    server_ext = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
    signed("server", "/CN=localhost",
           server_ext + "subjectAltName=IP:127.0.0.1,DNS:localhost\n")  # fmt: skip
    signed("badhost", "/CN=wrong-host.invalid",
           server_ext + "subjectAltName=DNS:wrong-host.invalid\n")  # fmt: skip
    signed("client", f"/CN={CLIENT_CN}",
           "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
           "-aes256", "-pass", f"pass:{CLIENT_KEY_PASSPHRASE}")  # fmt: skip
    # Kafka's PEM keystore: an unencrypted PKCS#8 key followed by the chain.
    for name in ("server", "badhost"):
        (d / f"{name}-keystore.pem").write_text(
            (d / f"{name}.key").read_text()
            + (d / f"{name}.pem").read_text()
            + (d / "ca.pem").read_text()
        )
    return Pki(
        ca=d / "ca.pem",
        rogue_ca=d / "rogue-ca.pem",
        server=d / "server-keystore.pem",
        badhost_server=d / "badhost-keystore.pem",
        client_cert=d / "client.pem",
        client_key=d / "client.key",
    )
