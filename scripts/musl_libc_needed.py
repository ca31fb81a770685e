"""Give a musllinux wheel's native module the libc name musl systems have.

zig links a musl target against its own libc stub, whose soname is plain
``libc.so``, so the module's DT_NEEDED says ``libc.so``. musl's loader accepts that
(it takes any ``libc.*`` name for itself), but the name Alpine and every musllinux
system install is ``libc.musl-<arch>.so.1``, which is also the only name auditwheel's
musllinux policy allows. This rewrites the entry with patchelf and updates the
wheel's RECORD, in place:

    python scripts/musl_libc_needed.py wheelhouse/x86_64-musllinux_1_2/kafkify-*.whl
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ARCH = re.compile(r"musllinux_\d+_\d+_(\w+)\.whl$")


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def main(wheel: Path) -> int:
    m = ARCH.search(wheel.name)
    if not m:
        print(f"{wheel.name} is not a musllinux wheel", file=sys.stderr)
        return 2
    musl_libc = f"libc.musl-{m.group(1)}.so.1"
    with zipfile.ZipFile(wheel) as zf:
        entries = [(info, zf.read(info)) for info in zf.infolist()]
    patched: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for info, data in entries:
            if not info.filename.endswith(".so"):
                continue
            path = Path(tmp) / "module.so"
            path.write_bytes(data)
            subprocess.run(
                ["patchelf", "--replace-needed", "libc.so", musl_libc, str(path)], check=True
            )
            patched[info.filename] = path.read_bytes()
            print(f"{info.filename}: DT_NEEDED libc.so -> {musl_libc}")
    record_name = next(info.filename for info, _ in entries if info.filename.endswith("/RECORD"))
    records = []
    for info, data in entries:
        if info.filename != record_name:
            records.append(record_line(info.filename, patched.get(info.filename, data)))
    records.append(f"{record_name},,")
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for info, data in entries:
            if info.filename == record_name:
                data = ("\n".join(records) + "\n").encode()
            zf.writestr(info, patched.get(info.filename, data))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
