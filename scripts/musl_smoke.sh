#!/usr/bin/env bash
# Run the x86_64 musllinux wheel under a real musl CPython, here, against real Kafka:
#
#   scripts/musl_smoke.sh wheelhouse/x86_64-musllinux_1_2/kafkify-*.whl
#
# No registry here serves a musl Python, so this builds one: CPython 3.11.2 (the same
# Debian source tarball as platform_root.sh python) with Debian's musl-gcc, and zlib
# 1.2.13 (Debian's source, sha256-checked) for zipfile/importlib.metadata; cached in
# $KAFKIFY_CACHE/musl-python (~2 min, once). It runs on this glibc machine through
# musl's own loader (/lib/ld-musl-x86_64.so.1, Debian's musl package); nothing of
# glibc is loaded into it. Then, with the wheel and pytest installed for
# musllinux_1_2_x86_64 into a fresh directory (pip --target --platform, binary only):
#   - pytest test_mock_cluster.py (librdkafka's mock cluster, in process; --noconftest,
#     as the shared conftest needs confluent-kafka, which has no musl wheel);
#   - scripts/musl_roundtrip.py: 200 records through send, send_async, send_batch and
#     produce to a 1-node Kafka on 127.0.0.1, read back byte for byte by confluent-kafka
#     on the glibc side.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
if [ $# -ne 1 ] || [ ! -f "$1" ]; then
    echo "usage: scripts/musl_smoke.sh MUSLLINUX_X86_64_WHEEL" >&2
    exit 2
fi
wheel="$(realpath "$1")"

ZLIB_DEB=zlib_1.2.13.dfsg.orig.tar.bz2
ZLIB_SHA256=71feb7947e3c00ef125f83b79a4e529bde31171e5babe48b391f06758d1ab0a1
PREFIX="$KAFKIFY_CACHE/musl-python/3.11.2"
PYTHON="$PREFIX/bin/python3.11"

if [ ! -x "$PYTHON" ]; then
    command -v musl-gcc >/dev/null || apt-get install -y -qq musl musl-dev musl-tools
    started=$SECONDS
    build="$(mktemp -d)"
    # musl-gcc wraps the host gcc, which names the glibc multiarch triplet; CPython's
    # configure and setup.py ask for it and would add /usr/include/x86_64-linux-gnu.
    cat > "$build/cc" <<'EOF'
#!/bin/sh
case "$1" in --print-multiarch|-print-multiarch) echo x86_64-linux-musl; exit 0 ;; esac
exec musl-gcc "$@"
EOF
    chmod +x "$build/cc"
    zlib="$KAFKIFY_CACHE/$ZLIB_DEB"
    [ -f "$zlib" ] || curl -fsSL -o "$zlib" "http://deb.debian.org/debian/pool/main/z/zlib/$ZLIB_DEB"
    echo "$ZLIB_SHA256  $zlib" | sha256sum -c --quiet
    mkdir -p "$build/zlib" "$build/python"
    tar -xjf "$zlib" -C "$build/zlib" --strip-components=1
    (cd "$build/zlib" && CC=musl-gcc CFLAGS="-O2 -fPIC" ./configure --static --prefix="$build/zlib-inst" >/dev/null \
        && make -j2 >/dev/null && make install >/dev/null)
    tar -xzf "$(bash scripts/platform_root.sh python-source)" -C "$build/python" --strip-components=1
    (cd "$build/python" \
        && CC="$build/cc" CPPFLAGS="-I$build/zlib-inst/include" LDFLAGS="-L$build/zlib-inst/lib" \
            ./configure --prefix="$PREFIX" --without-ensurepip > configure.log 2>&1 \
        && make -j2 > make.log 2>&1 && make install > install.log 2>&1) \
        || { tail -30 "$build/python/"*.log; exit 1; }
    rm -rf "$build"
    echo "built a musl CPython 3.11.2 into $PREFIX in $((SECONDS - started)) s"
fi
"$PYTHON" -c 'import sys, sysconfig; print(sys.version.split()[0], sysconfig.get_config_var("HOST_GNU_TYPE"))'

site="$(mktemp -d)"
trap 'rm -rf "$site"' EXIT
.venv/bin/python -m pip install --quiet --target "$site" --only-binary=:all: \
    --platform musllinux_1_2_x86_64 --python-version 3.11 --implementation cp \
    -c requirements-dev.txt pytest pytest-timeout "$wheel"
step "the shared libraries mapped once kafkify is imported (musl's libc and the module only)"
PYTHONPATH="$site" "$PYTHON" -c '
import kafkify
libs = sorted({l.split()[-1] for l in open("/proc/self/maps") if ".so" in l})
print("\n".join(libs))
assert not any("libc.so.6" in lib for lib in libs), "glibc is loaded"'
step "pytest test_mock_cluster.py under the musl CPython"
(cd tests && PYTHONPATH="$site" "$PYTHON" -m pytest -c "$ROOT/pyproject.toml" --rootdir "$ROOT" \
    --noconftest -q test_mock_cluster.py)
step "send, send_async, send_batch, produce to Kafka under the musl CPython; read back with confluent-kafka"
.venv/bin/python scripts/musl_roundtrip.py "$PYTHON" "$site"
