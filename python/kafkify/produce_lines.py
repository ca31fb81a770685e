"""``kafkify produce``: JSON lines → records, with progress and exact accounting.

Each line's bytes are sent as the record value exactly as read (minus the line
ending); ``json.loads`` only checks them and finds the key field. Blank lines are
skipped. At the first line that is not valid JSON, reading stops, the records
before it are still delivered, and the command fails naming the line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import IO, Any

from tqdm import tqdm

from kafkify import Producer, RecordMetadata
from kafkify._cli_args import CliError, bootstrap_servers, config_pairs
from kafkify.errors import KafkaError, KafkaTimeoutError, NoBrokersAvailable

# How often (records) the progress bar's delivered/failed figures are refreshed.
PROGRESS_EVERY = 2000


@dataclass
class Tally:
    """Delivery outcomes, updated from kafkify's callback thread."""

    delivered: int = 0
    failed: int = 0
    first_failure: str | None = None
    failures: list[int] = field(default_factory=list)

    def on_delivery(self, line: int, err: KafkaError | None, _meta: RecordMetadata) -> None:
        if err is None:
            self.delivered += 1
            return
        self.failed += 1
        self.failures.append(line)
        if self.first_failure is None:
            self.first_failure = f"line {line}: {type(err).__name__}: {err}"

    def show(self, bar: tqdm[Any], refresh: bool = True) -> None:
        # A string: tqdm would print the counts scaled (1e+5) like the bar's unit.
        bar.set_postfix_str(f"delivered={self.delivered}, failed={self.failed}", refresh=refresh)


def run(args: argparse.Namespace) -> int:
    """Produce every line; returns the exit status (0: all delivered).

    Raises:
        CliError: no broker given or reachable, a bad line, an unreadable file.
    """
    servers = bootstrap_servers(args)
    if not servers:
        raise CliError("no broker given: use --bootstrap-servers HOST:PORT or set KAFKA_BOOTSTRAP")
    headers = _headers(args.headers)
    producer = Producer(
        servers,
        config=config_pairs(args.config),
        value_serializer="bytes",
        key_serializer="str",
        client_id="kafkify-cli",
    )
    with ExitStack() as stack:
        stack.callback(producer.close)
        _check_connection(producer, servers, args.timeout)
        source = stack.enter_context(_open(args.file))
        total = _count_lines(args.file) if args.file else None
        bar = stack.enter_context(
            tqdm(
                total=total,
                unit=" rec",
                unit_scale=True,
                desc=args.topic,
                file=sys.stderr,
                disable=_progress_disabled(args.progress),
                dynamic_ncols=True,
            )
        )
        tally = Tally()
        started = time.monotonic()
        sent, bad_line = _produce_lines(producer, args, headers, source, tally, bar)
        _drain(producer, tally, bar)
        tally.show(bar)
        elapsed = time.monotonic() - started
    rate = tally.delivered / elapsed if elapsed > 0 else 0.0
    print(
        f"{sent} record(s) to {args.topic!r}: {tally.delivered} delivered, {tally.failed} failed "
        f"in {elapsed:.2f} s ({rate:,.0f} records/s)",
        file=sys.stderr,
    )
    if tally.first_failure:
        print(f"kafkify: error: first failed record: {tally.first_failure}", file=sys.stderr)
    if bad_line:
        raise CliError(bad_line)
    return 1 if tally.failed else 0


def _produce_lines(
    producer: Producer,
    args: argparse.Namespace,
    headers: list[tuple[str, str]] | None,
    source: IO[bytes],
    tally: Tally,
    bar: tqdm[Any],
) -> tuple[int, str | None]:
    """Queue a record per line; returns (records queued, the bad-line message or None)."""
    sent = 0
    for number, line in enumerate(source, start=1):
        value = line.rstrip(b"\r\n")
        if not value.strip():
            bar.update(1)
            continue
        try:
            parsed = json.loads(value)
        except ValueError as e:
            return sent, f"line {number}: not valid JSON: {e}"
        try:
            key = _key(parsed, args.key_field, number) if args.key_field else None
        except CliError as e:
            return sent, str(e)
        producer.produce(
            args.topic,
            value,
            key,
            headers=headers,
            on_delivery=partial(tally.on_delivery, number),
        )
        sent += 1
        bar.update(1)
        if sent % PROGRESS_EVERY == 0:
            tally.show(bar, refresh=False)
    return sent, None


def _drain(producer: Producer, tally: Tally, bar: tqdm[Any]) -> None:
    """Flush in short slices so the bar keeps moving while the last records land."""
    while True:
        try:
            producer.flush(timeout=0.2)
            return
        except KafkaTimeoutError:
            tally.show(bar)


def _check_connection(producer: Producer, servers: str, timeout: float) -> None:
    async def start() -> None:
        await producer.start(timeout=timeout)

    try:
        asyncio.run(start())
    except NoBrokersAvailable as e:
        raise CliError(f"no broker at {servers} answered within {timeout:g} s ({e})") from e


def _key(parsed: object, field_name: str, number: int) -> str:
    if not isinstance(parsed, dict) or field_name not in parsed:
        raise CliError(f"line {number}: no field {field_name!r} for --key-field")
    key = parsed[field_name]
    if isinstance(key, str):
        return key
    # Numbers, booleans, objects: their JSON text, so 7 and "7" both become "7".
    return json.dumps(key, separators=(",", ":"), ensure_ascii=False)


def _headers(specs: list[str]) -> list[tuple[str, str]] | None:
    headers = []
    for spec in specs:
        for item in spec.split(","):
            name, sep, value = item.partition("=")
            if not sep or not name.strip():
                raise CliError(f"--headers {spec!r}: expected KEY=VALUE[,KEY=VALUE...]")
            headers.append((name.strip(), value))
    return headers or None


def _open(path: str | None) -> AbstractContextManager[IO[bytes]]:
    if path is None:
        return nullcontext(sys.stdin.buffer)
    try:
        return open(path, "rb")
    except OSError as e:
        raise CliError(f"cannot read {path}: {e.strerror}") from e


def _count_lines(path: str) -> int:
    """Lines in the file (for the bar's total and ETA): one fast pass over the bytes."""
    count = 0
    last = b"\n"
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _progress_disabled(choice: bool | None) -> bool | None:
    # tqdm's `disable=None` means "only on a terminal".
    return None if choice is None else not choice
