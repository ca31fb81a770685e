"""Check a built wheel: manylinux-compliant per auditwheel, and its native module
links nothing but the C runtime (librdkafka, OpenSSL, zlib and zstd are static).

    python scripts/check_wheel.py dist/kafkify-*.whl
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

FORBIDDEN = ("librdkafka", "libssl", "libcrypto", "libz.", "libzstd", "liblz4", "libsasl2")


def needed_libraries(so_path: Path) -> list[str]:
    with open(so_path, "rb") as f:
        elf = ELFFile(f)
        for section in elf.iter_sections():
            if isinstance(section, DynamicSection):
                return [t.needed for t in section.iter_tags() if t.entry.d_tag == "DT_NEEDED"]
    return []


def main(wheel: str) -> int:
    report = subprocess.run(
        [sys.executable, "-m", "auditwheel", "show", wheel],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    print(report.strip())
    if "manylinux_" not in report or "is consistent with" not in report:
        print("FAIL: auditwheel does not call the wheel manylinux-compliant", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.endswith(".so")]
        zf.extractall(tmp, names)
        for name in names:
            needed = needed_libraries(Path(tmp) / name)
            print(f"{name} needs: {', '.join(needed)}")
            bad = [lib for lib in needed if lib.startswith(FORBIDDEN)]
            if bad:
                print(f"FAIL: {name} links {bad} dynamically", file=sys.stderr)
                return 1
    print("OK: manylinux wheel, native module self-contained")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
