"""aiokafka's ``aiokafka.helpers``: ``create_ssl_context`` for ``ssl_context=``.

The context is a real ``ssl.SSLContext`` (made as aiokafka makes it) that also
remembers its files and key password: librdkafka cannot take an SSLContext, so the
shim hands it those files. Any other SSLContext is accepted too, but only its CA
certificates and verification settings can be taken from it (docs/migrating.md).
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable

from kafkify.compat._common import SSLContextFiles

_Path = str | bytes | os.PathLike[str] | os.PathLike[bytes]


def _fspath(path: _Path | None) -> str | None:
    return None if path is None else os.fsdecode(path)


def create_ssl_context(
    *,
    cafile: _Path | None = None,
    capath: _Path | None = None,
    cadata: str | bytes | None = None,
    certfile: _Path | None = None,
    keyfile: _Path | None = None,
    password: Callable[[], str | bytes | bytearray] | str | bytes | bytearray | None = None,
) -> ssl.SSLContext:
    """An ``ssl.SSLContext`` for client sockets, as ``aiokafka.helpers.create_ssl_context``
    makes it (``check_hostname`` on, the system's CAs when no CA is given), that also
    remembers ``capath``, ``certfile``, ``keyfile`` and ``password`` for librdkafka.

    Raises:
        ssl.SSLError, OSError: a file cannot be read, or the key does not match
            the password (as with aiokafka, at once).
    """
    context = SSLContextFiles(ssl.PROTOCOL_TLS_CLIENT)  # verify_mode CERT_REQUIRED, check_hostname
    if cafile is not None or capath is not None or cadata is not None:
        context.load_verify_locations(cafile, capath, cadata)
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        context.system_cas = True
    if certfile is not None:
        context.load_cert_chain(certfile, keyfile, password)
    context.capath = _fspath(capath)
    context.certfile = _fspath(certfile)
    context.keyfile = _fspath(keyfile)
    context.password = password
    return context


__all__ = ["create_ssl_context"]
