"""Instructions per call of Python callables, counted by valgrind's callgrind: exact
and repeatable where wall-clock timings on a shared 2-core VM are not
(benches/serialization.py uses it).

A child Python process runs the loops under ``valgrind --tool=callgrind
--dump-before=getppid``: callgrind writes a profile each time libc's ``getppid`` is
entered, and the child calls ``os.getppid()`` (nothing else here does) after each
loop, so each loop gets a profile of its own and interpreter start-up and imports
are left in the first. Each loop is preceded by the same loop over ``len`` (a C
call that does next to nothing), whose count is subtracted: what remains is the
callee's own instructions, argument parsing included. Callgrind runs ~50x slower
than native code, but a few hundred calls are plenty: a run repeats its counts
exactly (PYTHONHASHSEED fixed), and other call counts move them by < 1 %.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

MARKER = "getppid"
BASELINE: Callable[[Any], Any] = len

Case = tuple[Callable[[Any], Any], Any, int]  # (callable, its one argument, calls)


def valgrind() -> str | None:
    return shutil.which("valgrind")


def loop(fn: Callable[[Any], Any], arg: Any, calls: int) -> None:
    for _ in itertools.repeat(None, calls):
        fn(arg)


def run_cases(cases: Sequence[Case]) -> None:
    """The child's side: each case's loop, after its baseline loop, each loop
    followed by the marker call. Every callable is called once first, so first-call
    costs (imports, caches) stay in start-up's profile."""
    for fn, arg, _ in cases:
        BASELINE(arg)
        fn(arg)
    os.getppid()  # ends start-up's profile
    for fn, arg, calls in cases:
        for f in (BASELINE, fn):
            loop(f, arg, calls)
            os.getppid()


def per_call(command: Sequence[str], calls: Sequence[int]) -> list[float]:
    """Instructions per call of each case that ``command`` (a Python process calling
    run_cases with cases of these call counts) runs, its baseline subtracted.

    Raises:
        RuntimeError: valgrind failed, or wrote an unexpected number of profiles.
    """
    tool = valgrind()
    if tool is None:
        raise RuntimeError("valgrind is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        done = subprocess.run(
            [
                tool,
                "--tool=callgrind",
                f"--dump-before={MARKER}",
                f"--callgrind-out-file={out}",
                *command,
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},  # the same dict layouts every run
        )
        if done.returncode != 0:
            raise RuntimeError(f"callgrind run failed:\n{done.stderr[-3000:]}")
        # out.1 is start-up, then one per loop (out.2, out.3, ...); `out` itself is the exit.
        dumps = sorted(Path(tmp).glob("callgrind.out.*"), key=lambda p: int(p.suffix[1:]))
        counts = [instructions(p) for p in dumps[1:]]
    if len(counts) != 2 * len(calls):
        raise RuntimeError(
            f"expected {2 * len(calls)} loop profiles, callgrind wrote {len(counts)}"
        )
    return [(counts[2 * i + 1] - counts[2 * i]) / n for i, n in enumerate(calls)]


def instructions(profile: Path) -> int:
    """The instructions (Ir) a callgrind profile counted: its ``summary:`` line."""
    for line in profile.read_text().splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError(f"no summary line in {profile}")
