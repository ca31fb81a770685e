"""The PNGs of benches/scaling.py: one per dimension, records/s on the left and CPU
seconds per 100k records on the right, one line per API and kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on the benchmark machine

import matplotlib.pyplot as plt  # after the backend is chosen
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

COLOURS = {"produce": "tab:blue", "send_async": "tab:orange", "send_batch": "tab:green"}
STYLES = {"json": "-", "bytes": "--"}
MARKERS = {"json": "o", "bytes": "s"}
TITLES = {
    "size": "record size (1 partition, 1 thread)",
    "partitions": "partitions (100 B JSON records, 1 thread)",
    "threads": "Python threads sharing one Producer (100 B records, 1 partition)",
}
X_LABELS = {
    "size": "record value size (JSON: about)",
    "partitions": "partitions",
    "threads": "threads",
}
# Size spans three decades of records/s and of CPU: log axes. The others change by
# small factors, best read against zero.
LOG_Y = {"size"}


def size_label(value: float, _position: object = None) -> str:
    return f"{value / 1000:g} KB" if value >= 1000 else f"{value:g} B"


def count_label(value: float, _position: object = None) -> str:
    if value >= 1e6:
        return f"{value / 1e6:g}M"
    return f"{value / 1e3:g}k" if value >= 1e3 else f"{value:g}"


def plot(dimension: str, rows: list[dict[str, Any]], path: Path) -> None:
    fig, (rate_ax, cpu_ax) = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
    lines: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        lines.setdefault((r["api"], r["kind"]), []).append(r)
    for (api, kind), mine in lines.items():
        mine = sorted(mine, key=lambda r: r[dimension])
        xs = [r[dimension] for r in mine]
        style = {
            "color": COLOURS[api],
            "linestyle": STYLES[kind],
            "marker": MARKERS[kind],
            "label": f"{api} ({kind})",
        }
        rate_ax.plot(xs, [r["records_per_s"] for r in mine], **style)
        cpu_ax.plot(xs, [r["cpu_s_per_100k"] for r in mine], **style)
    ticks = sorted({r[dimension] for r in rows})
    for ax, ylabel in ((rate_ax, "records/s"), (cpu_ax, "CPU seconds per 100k records")):
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        formatter = size_label if dimension == "size" else lambda v, _p: f"{v:g}"
        ax.xaxis.set_major_formatter(FuncFormatter(formatter))
        ax.set_xlabel(X_LABELS[dimension])
        ax.set_ylabel(ylabel)
        if dimension in LOG_Y:
            ax.set_yscale("log")
        else:
            ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(FuncFormatter(count_label) if ax is rate_ax else "{x:g}")
        ax.grid(True, which="both", alpha=0.3)
    rate_ax.set_title("throughput")
    cpu_ax.set_title("CPU cost (process: all threads, librdkafka's too)")
    rate_ax.legend(fontsize="small")
    fig.suptitle(f"kafkify: how cost grows with {TITLES[dimension]}")
    fig.savefig(path, dpi=110)
    plt.close(fig)
