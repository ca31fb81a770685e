"""Check a built wheel: auditwheel gives it the intended platform tag (manylinux or
musllinux), and its native module links nothing but the C runtime (librdkafka,
OpenSSL, zlib and zstd are static). Prints the tag, the libraries the module needs,
the highest GLIBC_ symbol version it asks for, and the wheel's size.

    python scripts/check_wheel.py dist/kafkify-*.whl
    python scripts/check_wheel.py WHEEL --expect-tag manylinux_2_17_aarch64 \
        --report wheelhouse/report.json --report-key aarch64-manylinux2014 --build-seconds 412
    python scripts/check_wheel.py WHEEL --expect-tag musllinux_1_2_x86_64 --libc musl/libc.so

--libc checks that a C library (musl's, where no musl Python can run the module here)
defines every symbol the module needs besides the interpreter's.
--report merges this wheel's figures into a JSON file under --report-key
(scripts/build_wheels.sh keeps one entry per target there).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

FORBIDDEN = ("librdkafka", "libssl", "libcrypto", "libz.", "libzstd", "liblz4", "libsasl2")


def needed_libraries(elf: ELFFile) -> list[str]:
    for section in elf.iter_sections():
        if isinstance(section, DynamicSection):
            return [t.needed for t in section.iter_tags() if t.entry.d_tag == "DT_NEEDED"]
    return []


def glibc_versions(elf: ELFFile) -> list[str]:
    """The GLIBC_x.y versions the module's symbols ask for (none for musl), oldest first."""
    found: set[tuple[int, ...]] = set()
    for section in elf.iter_sections():
        if isinstance(section, GNUVerNeedSection):
            for _, auxiliaries in section.iter_versions():
                for aux in auxiliaries:
                    m = re.fullmatch(r"GLIBC_(\d+(?:\.\d+)*)", aux.name)
                    if m:
                        found.add(tuple(int(p) for p in m.group(1).split(".")))
    return ["GLIBC_" + ".".join(map(str, v)) for v in sorted(found)]


def dynamic_symbols(elf: ELFFile, *, defined: bool) -> set[str]:
    """The names in .dynsym that the file defines, or (defined=False) the non-weak
    ones it needs from elsewhere."""
    table = elf.get_section_by_name(".dynsym")
    names: set[str] = set()
    for sym in table.iter_symbols() if table else ():
        undefined = sym["st_shndx"] == "SHN_UNDEF"
        if not sym.name or (not defined and sym["st_info"]["bind"] == "STB_WEAK"):
            continue
        if undefined != defined:
            names.add(sym.name)
    return names


def missing_from_libc(elf: ELFFile, libc: Path) -> list[str]:
    """The symbols the module needs, other than the interpreter's own (Py*, _Py*),
    that this libc does not define."""
    with open(libc, "rb") as f:
        provided = dynamic_symbols(ELFFile(f), defined=True)
    needed = dynamic_symbols(elf, defined=False)
    return sorted(n for n in needed - provided if not n.startswith(("Py", "_Py")))


def consistent_tag(report: str) -> str | None:
    """The tag auditwheel calls the wheel consistent with, e.g. manylinux_2_17_x86_64."""
    m = re.search(r'consistent\s+with\s+the\s+following\s+platform\s+tag:\s*"([^"]+)"', report)
    return m.group(1) if m else None


def check(
    wheel: Path, expect_tag: str | None, libc: Path | None
) -> tuple[dict[str, object], list[str]]:
    report = subprocess.run(
        [sys.executable, "-m", "auditwheel", "show", str(wheel)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    print(report.strip())
    failures: list[str] = []
    tag = consistent_tag(report)
    if tag is None or not tag.startswith(("manylinux_", "musllinux_")):
        failures.append(f"auditwheel does not call the wheel manylinux/musllinux ({tag})")
    elif expect_tag and tag != expect_tag:
        failures.append(f"auditwheel gives {tag}, not the intended {expect_tag}")
    if "external shared libraries are required" in " ".join(report.split()):
        failures.append("auditwheel finds external shared libraries")
    figures: dict[str, object] = {
        "wheel": wheel.name,
        "auditwheel_tag": tag,
        "size_bytes": wheel.stat().st_size,
    }
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.endswith(".so")]
        zf.extractall(tmp, names)
        for name in names:
            with open(Path(tmp) / name, "rb") as f:
                elf = ELFFile(f)
                needed = needed_libraries(elf)
                versions = glibc_versions(elf)
                missing = missing_from_libc(elf, libc) if libc else []
            print(f"{name} needs: {', '.join(needed)}")
            print(f"{name} highest glibc symbol version: {versions[-1] if versions else 'none'}")
            figures.update(needed=needed, highest_glibc=versions[-1] if versions else None)
            if libc:
                print(f"{name}: every C library symbol it needs is in {libc}: {not missing}")
                figures["missing_from_libc"] = missing
                if missing:
                    failures.append(f"{name} needs symbols {libc} lacks: {missing}")
            bad = [lib for lib in needed if lib.startswith(FORBIDDEN)]
            if bad:
                failures.append(f"{name} links {bad} dynamically")
    print(f"size: {figures['size_bytes'] / 1e6:.1f} MB")
    return figures, failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path)
    parser.add_argument("--expect-tag", help="the platform tag auditwheel must give")
    parser.add_argument(
        "--libc",
        type=Path,
        help="a C library (e.g. musl's libc.so) that must define every libc symbol needed",
    )
    parser.add_argument("--report", type=Path, help="a JSON file to merge the figures into")
    parser.add_argument("--report-key", help="this wheel's key in --report (default: its name)")
    parser.add_argument("--build-seconds", type=int, help="recorded in --report")
    args = parser.parse_args()
    figures, failures = check(args.wheel, args.expect_tag, args.libc)
    if args.report:
        entries = json.loads(args.report.read_text()) if args.report.exists() else {}
        figures.update(build_seconds=args.build_seconds, ok=not failures)
        entries[args.report_key or args.wheel.name] = figures
        args.report.write_text(json.dumps(entries, indent=2, sort_keys=True) + "\n")
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    if failures:
        return 1
    print(f"OK: {figures['auditwheel_tag']} wheel, native module self-contained")
    return 0


if __name__ == "__main__":
    sys.exit(main())
