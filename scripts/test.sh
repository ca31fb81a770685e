#!/usr/bin/env bash
# Run every check and test, from a fresh clone: the README's test command and CI's.
#   lint (cargo fmt, clippy -D warnings, ruff, import circles) → cargo test → release wheel
#   → auditwheel → install the wheel into a fresh venv → pytest against it
#   (real Apache Kafka clusters on 127.0.0.1, started and stopped by the tests)
#   → fuzz → one cross-built wheel (aarch64 manylinux2014, built with zig and checked).
# Extra arguments go to pytest (e.g. scripts/test.sh -k blocking -x).
NEED_KAFKA=1
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
started=$SECONDS

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy (release profile: shares the C build with the wheel)"
cargo clippy --release --locked --all-targets -- -D warnings
step "cargo test"
cargo test --release --locked
step "ruff"
.venv/bin/ruff check python tests scripts benches examples fuzz
.venv/bin/ruff format --check python tests scripts benches examples fuzz
step "import circles (Rust crate:: paths, Python imports)"
.venv/bin/python scripts/import_cycles.py

step "release wheel"
build_wheel
echo "$WHEEL ($(du -h "$WHEEL" | cut -f1))"
step "auditwheel: manylinux, and no librdkafka/libssl/libcrypto/libz/libzstd at run time"
.venv/bin/python scripts/check_wheel.py "$WHEEL"

step "fresh venv with the wheel installed (not an editable build)"
rm -rf "$ROOT/.venv-test"
make_venv "$ROOT/.venv-test"
.venv-test/bin/python -m pip install --quiet --force-reinstall --no-deps "$WHEEL"

step "stubs match the module (mypy stubtest)"
(cd /tmp && "$ROOT/.venv-test/bin/python" -m mypy.stubtest kafkify --mypy-config-file "$ROOT/pyproject.toml" --allowlist "$ROOT/tests/stubtest-allowlist.txt")

step "Apache Kafka $(.venv/bin/python -c 'import sys; sys.path.insert(0, "scripts"); import kafka_cluster; print(kafka_cluster.KAFKA_VERSION)') jars (Maven Central, cached)"
.venv/bin/python scripts/kafka_cluster.py fetch

step "pytest (against the installed wheel)"
# Run from tests/ so `import kafkify` can only find the installed wheel.
(cd "$ROOT/tests" && "$ROOT/.venv-test/bin/python" -m pytest -c "$ROOT/pyproject.toml" --rootdir "$ROOT" "$@")

step "fuzz kafkify.dumps (atheris, ${FUZZ_SECONDS:=30} s; log: .fuzz.log)"
if ! (cd /tmp && "$ROOT/.venv-test/bin/python" "$ROOT/fuzz/fuzz_dumps.py" \
        -max_total_time="$FUZZ_SECONDS" > "$ROOT/.fuzz.log" 2>&1); then
    tail -40 "$ROOT/.fuzz.log"
    echo "FAIL: the fuzzer found a crash or a wrong result (see .fuzz.log)" >&2
    exit 1
fi
grep -E "^Done [0-9]+ runs" "$ROOT/.fuzz.log"

step "one cross-built wheel (scripts/build_wheels.sh aarch64-manylinux2014), so the script does not rot"
bash scripts/build_wheels.sh aarch64-manylinux2014

step "all checks passed in $((SECONDS - started)) s"
