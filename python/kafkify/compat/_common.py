"""Pieces the shims share: option triage, partitioners, and delivery accounting."""

from __future__ import annotations

import importlib
import ssl
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import kafkify
from kafkify._kafkify import _core_accepts


def core_accepts(name: str) -> bool:
    """Whether the core takes option ``name`` itself: its kafka-python / aiokafka
    names, or a librdkafka property spelled with ``_`` (src/config/mod.rs
    ``accepts``; asked of the core, so the shims keep no copy of its names)."""
    return _core_accepts(name)


#: What a secret option's value reads as wherever a shim shows its configuration
#: (the core's ``Producer.config`` and repr mask the same way: src/config/value.rs, ``is_secret``).
MASK = "********"


def is_secret(name: str) -> bool:
    """Whether option ``name`` holds a secret (``sasl_plain_password``, ``ssl_password``,
    ...): src/config/value.rs's rule, for snake_case names too."""
    return "password" in name or "secret" in name or name.endswith("pem")


def masked(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` with every secret value (that is set) shown as :data:`MASK`."""
    return {k: MASK if is_secret(k) and v is not None else v for k, v in config.items()}


class IgnoredOptionWarning(UserWarning):
    """An option of the original client that means nothing on librdkafka."""


def triage(
    configs: Mapping[str, Any],
    *,
    known: Iterable[str],
    ignored: Mapping[str, str],
    unsupported: Mapping[str, str],
    error: Callable[[str], Exception],
    client: str,
) -> dict[str, Any]:
    """Split a peer's constructor options: return those for the core (or the
    shim), warn about ignored ones, raise ``error`` for unsupported or unknown ones."""
    known = frozenset(known)
    out: dict[str, Any] = {}
    unknown = []
    for name, value in configs.items():
        if name in unsupported:
            if value is None:
                continue
            raise error(f"{client} option {name!r} is not supported: {unsupported[name]}")
        if name in ignored:
            warnings.warn(
                f"{client} option {name!r} is accepted and ignored: {ignored[name]}",
                IgnoredOptionWarning,
                stacklevel=3,  # the user's constructor call
            )
            continue
        if name in known or core_accepts(name):
            out[name] = value
        else:
            unknown.append(name)
    if unknown:
        raise error(f"Unrecognized configs: {sorted(unknown)}")
    return out


def settle_acks(user: Mapping[str, Any], config: dict[str, Any], default_acks: Any) -> None:
    """Both peers: a transactional producer is idempotent, and an idempotent one
    defaults to acks="all" (any other explicit acks is an error, as in both)."""
    idempotent = bool(config.get("enable_idempotence")) or bool(config.get("transactional_id"))
    if "acks" not in user:
        config["acks"] = "all" if idempotent else default_acks
    elif idempotent and config["acks"] not in ("all", -1):
        raise kafkify.ConfigError("acks should be set to 'all' if enable_idempotence is True")
    config["enable_idempotence"] = idempotent


def partitioner_option(partitioner: Any) -> tuple[str | None, Callable[..., int] | None]:
    """A peer's ``partitioner=``: None/its default → librdkafka's Java-compatible
    murmur2 (random for null keys, as the Java client and both peers do); a
    librdkafka name → that; a callable ``(key_bytes, all, available) -> int`` →
    called by the shim before each send."""
    if partitioner is None or getattr(partitioner, "__name__", "") == "DefaultPartitioner":
        return "murmur2_random", None
    if isinstance(partitioner, str):
        return partitioner, None
    if callable(partitioner):
        return "murmur2_random", partitioner
    raise kafkify.ConfigError(
        f"invalid partitioner: {type(partitioner).__name__} (expected a callable or a name)"
    )


class PartitionChooser:
    """Runs a user's partitioner callable with the topic's partitions (cached)."""

    def __init__(self, producer: kafkify.Producer, fn: Callable[..., int]) -> None:
        self._producer = producer
        self._fn = fn
        self._partitions: dict[str, list[int]] = {}

    def __call__(self, topic: str, key_bytes: bytes | None) -> int:
        parts = self._partitions.get(topic)
        if parts is None:
            parts = sorted(self._producer.partitions_for(topic))
            self._partitions[topic] = parts
        return int(self._fn(key_bytes, parts, parts))


def deadline_after(timeout: float) -> float:
    return time.monotonic() + max(timeout, 0.0)


def remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(deadline - time.monotonic(), 0.0)


class SSLContextFiles(ssl.SSLContext):
    """An ``ssl.SSLContext`` that remembers the files and password it was made from
    (``create_ssl_context`` in the shims' ``helpers``), so the client certificate and
    key can reach librdkafka, which cannot take an SSLContext itself."""

    #: No CA was given: the system's CAs are trusted (librdkafka: ``ssl.ca.location=probe``).
    system_cas: bool = False
    capath: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    password: Callable[[], str | bytes | bytearray] | str | bytes | bytearray | None = None


def ssl_context_config(context: ssl.SSLContext) -> dict[str, str]:
    """librdkafka properties for what an ``ssl.SSLContext`` holds.

    From any SSLContext: the CA certificates it holds (``get_ca_certs``, which lists
    those loaded from files or data, not those of a ``capath`` directory) become
    ``ssl.ca.pem``, ``check_hostname`` becomes ``ssl.endpoint.identification.algorithm``
    and ``verify_mode=CERT_NONE`` turns certificate verification off. Its client
    certificate and key cannot be read back from a foreign context; an
    :class:`SSLContextFiles` also gives its files and key password.
    """
    props: dict[str, str] = {}
    cas = context.get_ca_certs(binary_form=True)
    if cas:
        props["ssl.ca.pem"] = "".join(ssl.DER_cert_to_PEM_cert(der) for der in cas)
    if isinstance(context, SSLContextFiles):
        if context.capath:  # a directory's certificates are not in get_ca_certs()
            props["ssl.ca.location"] = context.capath
        elif context.system_cas:
            props["ssl.ca.location"] = "probe"
        if context.certfile:
            props["ssl.certificate.location"] = context.certfile
            # load_cert_chain reads the key from the certificate file when no
            # keyfile is given; librdkafka finds it there too.
            props["ssl.key.location"] = context.keyfile or context.certfile
            password = context.password() if callable(context.password) else context.password
            if password is not None:
                props["ssl.key.password"] = (
                    password if isinstance(password, str) else bytes(password).decode()
                )
    props["ssl.endpoint.identification.algorithm"] = "https" if context.check_hostname else "none"
    if context.verify_mode == ssl.CERT_NONE:
        props["enable.ssl.certificate.verification"] = "false"
    return props


def ssl_options(options: dict[str, Any], error: Callable[[str], Exception]) -> dict[str, str]:
    """Take ``ssl_context`` out of a peer's options: the librdkafka properties for it
    when the protocol uses TLS (both peers use the context only then; kafka-python
    then ignores every other ``ssl_*`` option, so they are dropped), else nothing.

    Raises:
        ``error``: ``ssl_context`` is not an ``ssl.SSLContext``.
    """
    context = options.pop("ssl_context", None)
    if context is None:
        return {}
    if not isinstance(context, ssl.SSLContext):
        raise error(f"ssl_context must be an ssl.SSLContext, not {type(context).__name__}")
    protocol = str(options.get("security_protocol") or "PLAINTEXT").upper()
    if protocol not in ("SSL", "SASL_SSL"):
        return {}
    props = ssl_context_config(context)
    for name in [n for n in options if n.startswith("ssl_")]:
        del options[name]
    return props


def peer_attribute(module: str, name: str, names: frozenset[str], peer: str, package: str) -> Any:
    """A shim module's ``__getattr__``: the peer library's own ``name`` (one of
    ``names``, the non-producer names a migrating program imports beside the
    producer), cached in the shim module, so ``from <peer> import Consumer, Producer``
    needs one change.

    Raises:
        ImportError: the peer (``package`` on PyPI) is not installed, saying so.
        AttributeError: not one of ``names``, or not in the installed version.
    """
    if name not in names:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    try:
        real = importlib.import_module(peer)
    except ImportError as e:
        raise ImportError(
            f"{name} is {package}'s, not kafkify's (kafkify is a producer): "
            f"`pip install {package}` and {module} re-exports it",
            name=module,
        ) from e
    value = getattr(real, name)
    setattr(sys.modules[module], name, value)
    return value
