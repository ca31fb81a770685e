"""The ``kafkify`` command (also ``python -m kafkify``).

``kafkify produce TOPIC``: JSON lines (stdin or ``--file``) into a topic, one record
per line, with a progress bar on a terminal and a summary at the end.
``kafkify bench``: a quick throughput/latency check (see :mod:`kafkify.bench`).

Exit status: 0 when every record was delivered, 1 when anything failed (a bad
JSON line, an unreachable broker, a failed delivery), 2 for bad usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from kafkify._cli_args import CliError
from kafkify.errors import KafkaError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "produce":
            from kafkify.produce_lines import run

            return run(args)
        from kafkify.bench import run as run_bench

        return run_bench(args)
    except CliError as e:
        print(f"kafkify: error: {e}", file=sys.stderr)
        return 1
    except KafkaError as e:
        print(f"kafkify: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("kafkify: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kafkify", description="Produce to Kafka from the command line (kafkify)."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def connection(p: argparse.ArgumentParser, default: str) -> None:
        p.add_argument(
            "-b",
            "--bootstrap-servers",
            metavar="HOST:PORT[,...]",
            help=f"brokers to connect to (default: {default})",
        )
        p.add_argument(
            "-X",
            dest="config",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a librdkafka property, e.g. -X linger.ms=20 (repeatable)",
        )

    produce = commands.add_parser(
        "produce",
        help="send JSON lines to a topic",
        description="Send one record per JSON line (from --file or stdin) to TOPIC. "
        "Stops at the first line that is not valid JSON and names it.",
    )
    produce.add_argument("topic", metavar="TOPIC")
    produce.add_argument("-f", "--file", help="read this file instead of stdin")
    produce.add_argument(
        "-k", "--key-field", metavar="FIELD", help="use this top-level field as the record key"
    )
    produce.add_argument(
        "-H",
        "--headers",
        action="append",
        default=[],
        metavar="K=V[,K=V...]",
        help="headers for every record (repeatable)",
    )
    produce.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long to wait for a broker to answer before giving up (default: 10)",
    )
    produce.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar (default: when stderr is a terminal)",
    )
    connection(produce, "$KAFKA_BOOTSTRAP")

    bench = commands.add_parser(
        "bench",
        help="measure throughput and latency",
        description="Measure fire-and-forget throughput and blocking-send latency, against "
        "an in-process mock cluster (default) or the brokers given.",
    )
    bench.add_argument(
        "-n", "--records", type=int, default=100_000, help="records for the throughput run"
    )
    bench.add_argument(
        "--value-size", type=int, default=100, help="approximate JSON value size in bytes"
    )
    bench.add_argument(
        "--latency-samples", type=int, default=1000, help="blocking sends for the latency run"
    )
    bench.add_argument("--topic", default="kafkify-bench", help="topic (default: kafkify-bench)")
    connection(bench, "an in-process mock cluster")
    return parser
