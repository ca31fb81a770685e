"""confluent-kafka's two producer loops, through kafkify.compat.confluent_kafka and
on confluent-kafka itself, against one broker (the loops are
benches/shim_contenders.py's ``shim_confluent_poll0`` and
``shim_confluent_backpressure``, with the benchmark's records and settings):

- ``poll0``: ``produce(..., callback=cb)`` + ``poll(0)`` per record (its README's loop);
- ``backpressure``: ``produce`` until ``BufferError``, then ``poll(0.1)`` (a 10,000-record
  queue, so the loop keeps hitting it).

    python benches/confluent_shim_loop.py BOOTSTRAP [--records N] [--rounds R] [--profile]

Prints records/s of each loop, alternating shim and real for R rounds (each run on
a fresh topic, read back and checked: a failed check fails the run), then each
one's best and the shim/real ratio of the bests; with ``--profile`` the shim's
cProfile top entries.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys

import contenders
import shim_contenders as s
import workload as w


def run(
    workload: str, row: str, bootstrap: str, records: int, profile: cProfile.Profile | None = None
) -> float:
    """Records/s of one checked run (flush included), profiled when ``profile`` is given."""
    topic = w.unique_topic(workload.replace("_", "-"))
    args = argparse.Namespace(workload=workload, topic=topic, records=records, bootstrap=bootstrap)
    if profile:
        profile.enable()
    result = contenders.CONTENDERS[workload][row](args)
    if profile:
        profile.disable()
    check = w.verify(bootstrap, topic, records, "json")
    if result["failed"] or not check.ok:
        sys.exit(f"{workload} / {row}: {result['failed']} failed deliveries, {check.describe()}")
    return float(records / result["wall"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("bootstrap")
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    for style in s.CONFLUENT_LOOPS:
        workload = f"shim_confluent_{style}"
        spec = s.SHIM_WORKLOADS[workload]
        rows = {"shim": spec["ours"], "real": spec["peer"]}
        best = dict.fromkeys(rows, 0.0)
        for _ in range(args.rounds):
            for name, row in rows.items():
                rate = run(workload, row, args.bootstrap, args.records)
                best[name] = max(best[name], rate)
                print(f"{style} {name}: {rate:,.0f} records/s", flush=True)
        print(
            f"{style}: best shim {best['shim']:,.0f}, best real {best['real']:,.0f} records/s;"
            f" shim/real {best['shim'] / best['real']:.2f}"
        )
    if args.profile:
        prof = cProfile.Profile()
        ours = s.SHIM_WORKLOADS["shim_confluent_poll0"]["ours"]
        run("shim_confluent_poll0", ours, args.bootstrap, args.records // 4, prof)
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()
