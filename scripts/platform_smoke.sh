#!/usr/bin/env bash
# Run a smoke subset of the tests against a cross-built wheel, inside one of
# scripts/platform_root.sh's Debian roots, against real Apache Kafka on the host:
#
#   scripts/platform_smoke.sh ROOT WHEEL [PYTEST ARGS...]
#
#   ROOT   bookworm-arm64  (aarch64 under qemu-user: the aarch64 manylinux2014 wheel)
#          bullseye-amd64  (glibc 2.31, with the CPython 3.11 that platform_root.sh
#                           builds there: the x86_64 manylinux2014 wheel)
#   WHEEL  e.g. wheelhouse/aarch64-manylinux2014/kafkify-*.whl
#
# It makes the root if needed, starts a 1-node Kafka cluster on the host's 127.0.0.1
# (scripts/kafka_cluster.py; KAFKA_BOOTSTRAP=host:port reuses a running one instead),
# makes a fresh venv in the root with the wheel and the pinned test dependencies
# (binary wheels only: nothing is compiled under emulation), and runs SMOKE_TESTS
# there: send, send_async, batches, JSON and the mock cluster, each record read back
# with confluent-kafka's Consumer as in the full suite. The root shares the host's
# network, so the broker on 127.0.0.1 is the same one.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SMOKE_TESTS=(test_send.py test_batch.py test_json.py test_mock_cluster.py)
# The test dependencies, at the versions requirements-dev.txt pins.
SMOKE_DEPS=(pytest pytest-timeout confluent-kafka hypothesis pydantic)

[ $# -ge 2 ] || { sed -n '2,18s/^# \{0,1\}//p' "$0" >&2; exit 2; }
root_name="$1" wheel="$(realpath "$2")"
shift 2
# Under qemu-user the CPU-bound tests run ~10x slower: test_json.py's 10,000-example
# round-trip property alone takes ~6 min there, so the per-test timeout is raised.
case "$root_name" in
    bookworm-arm64) python=/usr/bin/python3 timeout=1800 ;;
    bullseye-amd64) python=/opt/python3.11/bin/python3.11 timeout=300 ;;
    *) echo "unknown root '$root_name'" >&2; exit 2 ;;
esac
[ -f "$wheel" ] || { echo "no wheel at $wheel" >&2; exit 2; }

bash "$ROOT/scripts/platform_root.sh" make "$root_name"
if [ "$root_name" = bullseye-amd64 ]; then
    bash "$ROOT/scripts/platform_root.sh" python "$root_name"
fi

broker_pid=""
work="$(mktemp -d)"
cleanup() {
    if [ -n "$broker_pid" ]; then kill "$broker_pid" 2>/dev/null || true; wait "$broker_pid" || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
if [ -z "${KAFKA_BOOTSTRAP:-}" ]; then
    source "$ROOT/scripts/setup.sh"  # the host's .venv, for kafka_cluster.py
    "$ROOT/.venv/bin/python" "$ROOT/scripts/kafka_cluster.py" run --no-security \
        --describe "$work/cluster.json" > "$work/broker.log" 2>&1 &
    broker_pid=$!
    for _ in $(seq 240); do
        [ -s "$work/cluster.json" ] && break
        kill -0 "$broker_pid" 2>/dev/null || { cat "$work/broker.log" >&2; exit 1; }
        sleep 1
    done
    KAFKA_BOOTSTRAP="$("$ROOT/.venv/bin/python" -c \
        'import json,sys; print(json.load(open(sys.argv[1]))["listeners"]["PLAINTEXT"])' \
        "$work/cluster.json")"
fi
echo "broker: $KAFKA_BOOTSTRAP"

mkdir -p "$work/wheel" && cp "$wheel" "$work/wheel/"
# requirements-dev.txt as a constraints file pins every test dependency.
inner="set -eu
rm -rf /opt/smoke-venv
$python -m venv /opt/smoke-venv
started=\$(date +%s)
/opt/smoke-venv/bin/python -m pip install --quiet --only-binary=:all: \
    -c /src/requirements-dev.txt ${SMOKE_DEPS[*]} /wheel/$(basename "$wheel")
echo \"pip install: \$((\$(date +%s) - started)) s\"
/opt/smoke-venv/bin/python -c 'import platform, sys, kafkify; print(platform.machine(), platform.libc_ver(), sys.version.split()[0], kafkify.__file__)'
cd /src/tests
exec /opt/smoke-venv/bin/python -m pytest -c /src/pyproject.toml --rootdir /src --timeout=$timeout $* ${SMOKE_TESTS[*]}"
started=$SECONDS
bash "$ROOT/scripts/platform_root.sh" run "$root_name" \
    --bind "$ROOT:/src" --bind "$work/wheel:/wheel" \
    --env "KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP" -- /bin/sh -c "$inner"
echo "smoke run in $root_name: $((SECONDS - started)) s"
