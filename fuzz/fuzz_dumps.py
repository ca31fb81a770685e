"""Fuzz kafkify.dumps with atheris: build nested Python values from the fuzzer's
bytes (every supported type, plus unsupported ones, NaN, lone surrogates, cycles,
deep nesting) and check each call either returns JSON that means the same as
json.dumps's output, or raises SerializationError. Any other exception, or a
crash, is a finding.

    python fuzz/fuzz_dumps.py -atheris_runs=50000          # bounded (CI)
    python fuzz/fuzz_dumps.py -max_total_time=600 corpus/  # longer, keeping a corpus
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import json
import math
import sys
import uuid
from typing import Any

import atheris

# The native module cannot be instrumented from here; instrumenting this file's
# functions (the value builder above all) gives libFuzzer coverage to steer by:
# which types, how deep, which error paths.
import kafkify


class Color(enum.Enum):
    RED = "red"
    ONE = 1


@dataclasses.dataclass
class Point:
    x: Any
    y: Any


class Opaque:
    pass


@atheris.instrument_func
def build(fdp: atheris.FuzzedDataProvider, depth: int) -> Any:
    kind = fdp.ConsumeIntInRange(0, 19 if depth < 40 else 10)
    if kind == 0:
        return None
    if kind == 1:
        return fdp.ConsumeBool()
    if kind == 2:
        return fdp.ConsumeInt(fdp.ConsumeIntInRange(1, 40))
    if kind == 3:
        return fdp.ConsumeFloat()  # includes NaN and infinities
    if kind == 4:
        return fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 30))  # may hold surrogates
    if kind == 5:
        return decimal.Decimal(fdp.ConsumeIntInRange(-(10**6), 10**6)) / 100
    if kind == 6:
        return uuid.UUID(int=fdp.ConsumeIntInRange(0, 2**64))
    if kind == 7:
        return dt.datetime.fromtimestamp(fdp.ConsumeIntInRange(0, 2**31), dt.timezone.utc)
    if kind == 8:
        return Color.RED if fdp.ConsumeBool() else Color.ONE
    if kind == 9:
        return Opaque() if fdp.ConsumeBool() else {1, 2}
    if kind == 10:
        return fdp.ConsumeBytes(4)
    if kind in (11, 12, 13):
        return [build(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    if kind in (14, 15, 16):
        d: dict[Any, Any] = {}
        for _ in range(fdp.ConsumeIntInRange(0, 4)):
            key_kind = fdp.ConsumeIntInRange(0, 3)
            key: Any = (
                fdp.ConsumeUnicode(8)
                if key_kind < 2
                else fdp.ConsumeInt(2)
                if key_kind == 2
                else None
            )
            d[key] = build(fdp, depth + 1)
        if fdp.ConsumeIntInRange(0, 30) == 0:
            d["cycle"] = d
        return d
    if kind == 17:
        return tuple(build(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 3)))
    if kind == 18:
        return Point(build(fdp, depth + 1), build(fdp, depth + 1))
    nested: Any = build(fdp, depth + 1)  # long chains probe the depth limit
    for _ in range(fdp.ConsumeIntInRange(0, 300)):
        nested = [nested]
    return nested


@atheris.instrument_func
def reference(value: Any) -> Any:
    """What json.dumps makes of the value, with kafkify's extra types spelled out."""

    def default(o: Any) -> Any:
        if isinstance(o, (dt.date, dt.time)):
            return o.isoformat()
        if isinstance(o, uuid.UUID):
            return str(o)
        if isinstance(o, decimal.Decimal):
            return float(o)
        if isinstance(o, enum.Enum):
            return o.value
        if dataclasses.is_dataclass(o):
            return {f.name: getattr(o, f.name) for f in dataclasses.fields(o)}
        raise TypeError(type(o).__name__)

    return json.loads(json.dumps(value, default=default, allow_nan=False))


@atheris.instrument_func
def TestOneInput(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    value = build(fdp, 0)
    try:
        out = kafkify.dumps(value, sort_keys=fdp.ConsumeBool())
    except kafkify.SerializationError:
        return
    decoded = json.loads(out.decode("utf-8"))
    try:
        expected = reference(value)
    except (TypeError, ValueError, RecursionError):
        return  # json cannot say; kafkify produced valid JSON, which is all we can check
    if not same(decoded, expected):
        raise AssertionError(f"{value!r}: {out!r} != {expected!r}")


@atheris.instrument_func
def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
