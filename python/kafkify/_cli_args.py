"""What the ``kafkify`` command's subcommands share (python/kafkify/cli.py dispatches
to produce_lines.py and bench.py, which use these): kept apart so that neither
subcommand imports the dispatcher that imports it."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

__all__ = ["CliError", "bootstrap_servers", "config_pairs"]


class CliError(Exception):
    """Something the user should fix; printed as ``kafkify: error: ...``, exit 1."""


def bootstrap_servers(args: argparse.Namespace) -> str | None:
    """``--bootstrap-servers``, else ``$KAFKA_BOOTSTRAP``, else None."""
    servers: str | None = args.bootstrap_servers or os.environ.get("KAFKA_BOOTSTRAP")
    return servers


def config_pairs(pairs: Sequence[str]) -> dict[str, str]:
    """``-X key=value`` options → librdkafka properties.

    Raises:
        CliError: an option without ``=``.
    """
    config = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise CliError(f"-X {pair!r}: expected key=value (a librdkafka property)")
        config[name.strip()] = value
    return config
