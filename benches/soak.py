"""Soak: N fire-and-forget records (``produce`` with a callback on every 100th), with
the process's RSS, threads and open file descriptors sampled over the run.

    python benches/soak.py BOOTSTRAP [--records 10000000] [--samples 20]

Prints one line per sample (records sent, RSS in MiB, threads, fds), then the
totals: delivered, failed, and RSS growth from the first sample after warm-up to
the last. A report for the issue notes, not a test threshold.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid

import kafkify


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def line(sample: tuple[int, float, int, int]) -> str:
    sent, rss, n_threads, n_fds = sample
    return f"{sent:>10,} sent  rss {rss:7.1f} MiB  threads {n_threads}  fds {n_fds}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("bootstrap")
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()

    topic = f"soak-{uuid.uuid4().hex[:8]}"
    producer = kafkify.Producer(
        bootstrap_servers=args.bootstrap, value_serializer="bytes", linger_ms=20
    )
    delivered = failed = 0

    def report(err: object, meta: object) -> None:
        nonlocal delivered, failed
        if err is None:
            delivered += 1
        else:
            failed += 1

    value = b"x" * 100
    every = max(1, args.records // args.samples)
    started = time.perf_counter()
    samples = []
    for i in range(args.records):
        if i % 100 == 0:
            producer.produce(topic, value, key=b"%d" % i, on_delivery=report)
        else:
            producer.produce(topic, value)
        if i % every == 0:
            sample = (i, rss_mib(), threads(), fds())
            samples.append(sample)
            print(line(sample), flush=True)
    producer.flush()
    elapsed = time.perf_counter() - started
    end = (args.records, rss_mib(), threads(), fds())
    print(line(end), "(flushed)")
    metrics = producer.metrics()["kafkify"]
    producer.close()
    warm = samples[min(1, len(samples) - 1)]
    print(
        f"{args.records:,} records in {elapsed:.1f} s ({args.records / elapsed:,.0f}/s); "
        f"callbacks: {delivered:,} delivered, {failed:,} failed (of {args.records // 100:,}); "
        f"core counters: {metrics}; RSS {warm[1]:.1f} -> {end[1]:.1f} MiB after warm-up "
        f"(peak {max(s[1] for s in [*samples, end]):.1f})"
    )


if __name__ == "__main__":
    main()
