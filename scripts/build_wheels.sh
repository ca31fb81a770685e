#!/usr/bin/env bash
# Build kafkify's abi3 wheels for the Linux platforms users run, on this x86_64 machine,
# and check each one (scripts/check_wheel.py):
#
#   target                  Rust target                  zig target              wheel tag
#   x86_64-manylinux2014    x86_64-unknown-linux-gnu     x86_64-linux-gnu.2.17   manylinux_2_17_x86_64
#   aarch64-manylinux2014   aarch64-unknown-linux-gnu    aarch64-linux-gnu.2.17  manylinux_2_17_aarch64
#   x86_64-musllinux_1_2    x86_64-unknown-linux-musl    x86_64-linux-musl       musllinux_1_2_x86_64
#   aarch64-musllinux_1_2   aarch64-unknown-linux-musl   aarch64-linux-musl      musllinux_1_2_aarch64
#
#   scripts/build_wheels.sh [TARGET...]     (default: all four)
#
# Output: wheelhouse/TARGET/kafkify-*.whl, and wheelhouse/report.json with one entry
# per target (tag, size, highest GLIBC_ symbol version, libraries needed, build seconds).
# Each wheel is checked by scripts/check_wheel.py: auditwheel must give the tag above
# and find no external libraries; a musllinux module must need no C library symbol
# that Debian's musl 1.2.3 libc.so lacks (no musl Python runs here, so that is checked
# statically). musllinux modules first get their libc's name fixed
# (scripts/musl_libc_needed.py: zig names it libc.so).
#
# How: maturin's --zig cross-compiles our crate and links it with zig (pinned by
# requirements-wheels.txt, from PyPI), and zig's bundled libc headers and stubs give
# the glibc 2.17 (or musl 1.2) floor without a sysroot. The C dependencies that the
# cc crate builds (OpenSSL, zlib, zstd) get zig through maturin's CC_<target>; but
# rdkafka-sys builds librdkafka with its own ./configure + make, which reads only the
# plain CC/CXX/AR/RANLIB, so those point at small wrappers around the same zig
# (made here under $KAFKIFY_CACHE/zig/). Two more details librdkafka needs:
#   - LDFLAGS=-Wl,--undefined-version: its `make` also links librdkafka.so (unused
#     here), whose version script names a symbol (rd_ut_coverage_check) that only
#     coverage builds define; zig's lld refuses that by default, GNU ld does not.
#   - CXX: its `make libs` builds librdkafka++ too, with g++ unless told otherwise.
# The cross builds keep their own cargo target dir ($KAFKIFY_CACHE/target-cross), so
# they never disturb the native build that scripts/test.sh tests. A cold build of one
# target (OpenSSL + librdkafka + the crate) takes ~6-8 min on 2 cores; a warm one ~3.
# Needs rustup (it adds the Rust targets) and, like setup.sh, Debian with Rust.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"

ALL_TARGETS=(x86_64-manylinux2014 aarch64-manylinux2014 x86_64-musllinux_1_2 aarch64-musllinux_1_2)
OUT="$ROOT/wheelhouse"
CROSS_TARGET_DIR="$KAFKIFY_CACHE/target-cross"
VENV="$ROOT/.venv"

# Debian's musl 1.2.3 (its libc.so, not installed: unpacked into the cache), to check
# that the musllinux modules need nothing that musl lacks; no musl Python runs here.
MUSL_DEB_VERSION=1.2.3-1
declare -A MUSL_DEB_SHA256=(
    [amd64]=4fc1e3d9b579f5c682ca99a4d45aec08d72a2e6b82b4c2e1bbcb7095466ae96d
    [arm64]=6ccf2bf0f479b00411cb8e1eeb048e648718170db5d63bbb4bf4a89350b81468
)

# TARGET -> "RUST_TRIPLE ZIG_TARGET MATURIN_COMPATIBILITY TAG"
target_spec() {
    local arch="${1%%-*}" platform="${1#*-}"
    case "$1" in
        x86_64-manylinux2014 | aarch64-manylinux2014)
            echo "$arch-unknown-linux-gnu $arch-linux-gnu.2.17 manylinux2014 manylinux_2_17_$arch" ;;
        x86_64-musllinux_1_2 | aarch64-musllinux_1_2)
            echo "$arch-unknown-linux-musl $arch-linux-musl $platform ${platform}_$arch" ;;
        *)
            echo "unknown target '$1' (known: ${ALL_TARGETS[*]})" >&2
            return 1 ;;
    esac
}

# make_zig_wrappers ZIG_TARGET: prints a directory with cc, c++, ar and ranlib for it.
# `maturin zig cc` is zig cc plus the argument fixes maturin applies for the cc crate.
make_zig_wrappers() {
    local zig_target="$1" dir="$KAFKIFY_CACHE/zig/$1" tool
    mkdir -p "$dir"
    for tool in cc c++; do
        cat > "$dir/$tool" <<EOF
#!/bin/sh
# made by scripts/build_wheels.sh: zig $tool for $zig_target (librdkafka's ./configure)
export CARGO_ZIGBUILD_ZIG_COMMAND="$VENV/bin/python" CARGO_ZIGBUILD_ZIG_COMMAND_ARGS="-m ziglang"
exec "$VENV/bin/maturin" zig $tool -- -target $zig_target "\$@"
EOF
    done
    for tool in ar ranlib; do
        printf '#!/bin/sh\nexec "%s/bin/python" -m ziglang %s "$@"\n' "$VENV" "$tool" > "$dir/$tool"
    done
    chmod +x "$dir"/*
    echo "$dir"
}

musl_libc() {  # musl_libc ARCH (x86_64|aarch64): prints the path of Debian's musl libc.so
    local arch="$1" deb_arch dir deb
    deb_arch="$([ "$arch" = x86_64 ] && echo amd64 || echo arm64)"
    dir="$KAFKIFY_CACHE/musl/$MUSL_DEB_VERSION-$deb_arch"
    if [ ! -f "$dir/lib/$arch-linux-musl/libc.so" ]; then
        deb="$KAFKIFY_CACHE/musl/musl_${MUSL_DEB_VERSION}_$deb_arch.deb"
        mkdir -p "$dir"
        curl -fsSL -o "$deb" \
            "http://deb.debian.org/debian/pool/main/m/musl/musl_${MUSL_DEB_VERSION}_$deb_arch.deb"
        echo "${MUSL_DEB_SHA256[$deb_arch]}  $deb" | sha256sum -c --quiet
        dpkg-deb -x "$deb" "$dir"
    fi
    echo "$dir/lib/$arch-linux-musl/libc.so"
}

build_target() {  # build_target TARGET: builds and checks one wheel
    local target="$1" triple zig_target compat tag wrappers started seconds wheel
    read -r triple zig_target compat tag < <(target_spec "$target")
    step "$target: rustup target add $triple"
    rustup target add "$triple" >/dev/null
    wrappers="$(make_zig_wrappers "$zig_target")"
    step "$target: maturin build --zig --target $triple --compatibility $compat"
    rm -rf "${OUT:?}/$target"
    # The cdylib's file name has no hash: a missing one is always relinked (see
    # build_wheel in setup.sh), so a wheel never ships another checkout's build.
    rm -f "$CROSS_TARGET_DIR/$triple/release/deps/lib_kafkify.so" \
        "$CROSS_TARGET_DIR/$triple/release/lib_kafkify.so"
    started=$SECONDS
    CARGO_TARGET_DIR="$CROSS_TARGET_DIR" \
        CC="$wrappers/cc" CXX="$wrappers/c++" AR="$wrappers/ar" RANLIB="$wrappers/ranlib" \
        LDFLAGS="-Wl,--undefined-version" PATH="$VENV/bin:$PATH" \
        "$VENV/bin/maturin" build --release --locked --zig --target "$triple" \
        --compatibility "$compat" --out "$OUT/$target" --quiet
    seconds=$((SECONDS - started))
    wheel="$(ls "$OUT/$target"/kafkify-*.whl)"
    echo "built $wheel in $seconds s"
    local check_libc=()
    if [[ "$tag" == musllinux_* ]]; then
        PATH="$VENV/bin:$PATH" "$VENV/bin/python" scripts/musl_libc_needed.py "$wheel"
        check_libc=(--libc "$(musl_libc "${target%%-*}")")
    fi
    step "$target: check the wheel"
    "$VENV/bin/python" scripts/check_wheel.py "$wheel" --expect-tag "$tag" "${check_libc[@]}" \
        --report "$OUT/report.json" --report-key "$target" --build-seconds "$seconds"
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")
for target in "${targets[@]}"; do target_spec "$target" >/dev/null; done

step "wheel tools (requirements-wheels.txt: zig)"
"$VENV/bin/python" -m pip install --quiet -r "$ROOT/requirements-wheels.txt"
command -v rustup >/dev/null || { echo "rustup is needed to add the Rust targets" >&2; exit 1; }
mkdir -p "$OUT"
for target in "${targets[@]}"; do build_target "$target"; done
step "wheels in $OUT (report: $OUT/report.json)"
ls -l "$OUT"/*/kafkify-*.whl
