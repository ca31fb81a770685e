#!/usr/bin/env bash
# Shared setup for scripts/test.sh and scripts/demo.sh (source it, don't run it).
#
# Checks the system prerequisites (installing Debian packages when run as root),
# creates the dev venv .venv from requirements-dev.txt, and fixes the cache paths:
#   CARGO_TARGET_DIR  ~/.cache/kafkify/target   (librdkafka + OpenSSL take ~5 min to build
#                                                 from scratch on 2 cores; reused when present)
#   PIP_CACHE_DIR     ~/.cache/kafkify/pip
#   KAFKIFY_CACHE     ~/.cache/kafkify           (the Tansu broker binary, Kafka's jars)
# NEED_KAFKA=1 (scripts/test.sh) also checks for Java, Maven and openssl;
# NEED_BENCH=1 (benches/run.sh) for wrk, valgrind and kcat.
# Nothing here depends on the caches being present.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# HOME may be unset in a stripped CI environment; fall back to the user's home from
# the password database, then to /tmp.
HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
export HOME="${HOME:-/tmp}"
export KAFKIFY_CACHE="${KAFKIFY_CACHE:-$HOME/.cache/kafkify}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$KAFKIFY_CACHE/target}"
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$KAFKIFY_CACHE/pip}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
PYTHON="${PYTHON:-python3}"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

need_system_packages() {
    local missing=()
    command -v cc >/dev/null || missing+=(build-essential)
    command -v make >/dev/null || missing+=(make)
    command -v perl >/dev/null || missing+=(perl)   # OpenSSL's and librdkafka's build scripts
    command -v git >/dev/null || missing+=(git)
    "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
    if [ "${NEED_KAFKA:-0}" = 1 ]; then  # the Apache Kafka test cluster (scripts/kafka_cluster.py)
        command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
        command -v mvn >/dev/null || missing+=(maven)
        command -v openssl >/dev/null || missing+=(openssl)  # the test PKI
    fi
    if [ "${NEED_BENCH:-0}" = 1 ]; then  # benches/run.sh's load generator and peers
        command -v wrk >/dev/null || missing+=(wrk)            # benches/fastapi_load.py
        command -v valgrind >/dev/null || missing+=(valgrind)  # benches/serialization.py
        command -v kcat >/dev/null || missing+=(kcat)          # workload (d)
    fi
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            step "installing system packages: ${missing[*]}"
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
        else
            echo "missing system packages: ${missing[*]}" >&2
            echo "install them with: sudo apt-get install ${missing[*]}" >&2
            exit 1
        fi
    fi
    if ! command -v cargo >/dev/null; then
        echo "cargo (Rust) is required: https://rustup.rs (then re-run)" >&2
        exit 1
    fi
}

make_venv() {  # make_venv DIR: a venv with the pinned dev requirements
    local dir="$1"
    if [ ! -x "$dir/bin/python" ]; then
        "$PYTHON" -m venv "$dir"
    fi
    "$dir/bin/python" -m pip install --quiet --upgrade "pip==26.3"
    "$dir/bin/python" -m pip install --quiet -r "$ROOT/requirements-dev.txt"
}

build_wheel() {  # build the release wheel into $ROOT/dist (replacing older ones)
    rm -rf "$ROOT/dist"
    # The shared target dir serves every checkout (clones, worktrees), and a cdylib's
    # file name carries no hash: another checkout's build overwrites it, and cargo,
    # which fingerprints by checkout, would call this checkout's copy fresh and ship
    # the other one's code. A missing output is always rebuilt (our crate only, ~20 s).
    rm -f "$CARGO_TARGET_DIR/release/deps/lib_kafkify.so" "$CARGO_TARGET_DIR/release/lib_kafkify.so"
    (cd "$ROOT" && "$ROOT/.venv/bin/maturin" build --release --locked --out "$ROOT/dist" --quiet)
    WHEEL="$(ls "$ROOT"/dist/kafkify-*.whl)"
    export WHEEL
}

need_system_packages
step "python dev venv (.venv)"
make_venv "$ROOT/.venv"
