#!/usr/bin/env bash
# One command for the whole benchmark (issues 5 and 12): builds the release wheel, a
# venv with it and the peers (kafka-python, aiokafka, confluent-kafka, pinned in
# requirements-dev.txt), the Rust ceiling program (benches/rust_ceiling.rs), and
# installs Java/Maven (Apache Kafka), wrk, valgrind and kcat from Debian (as root);
# then runs benches/compare.py, which starts each broker in turn.
#   bash benches/run.sh [--rounds 3] [--quick] [--brokers kafka-1,kafka-3,tansu,mock]
#                       [--only asyncio,blocking] [--no-extras]
# kcat: Debian's package, run against the librdkafka that ships inside the
# confluent-kafka wheel: Debian's kcat bundles librdkafka 2.0.2, which fails
# against Tansu ("Protocol read buffer underflow for ApiVersion v3").
export NEED_KAFKA=1 NEED_BENCH=1
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"
cd "$ROOT"

step "release wheel and bench venv (.venv-bench)"
build_wheel
make_venv "$ROOT/.venv-bench"
.venv-bench/bin/python -m pip install --quiet --force-reinstall --no-deps "$WHEEL"

step "Rust ceiling program (same rdkafka crate and librdkafka build as the wheel)"
RUST_CEILING="$(cargo build --release --locked --bench rust_ceiling --message-format=json \
    | .venv/bin/python -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "rust_ceiling" and m.get("executable"):
        print(m["executable"])')"
echo "$RUST_CEILING"

step "kcat, with the confluent-kafka wheel's librdkafka"
KCAT_ARGS=()
if command -v kcat >/dev/null; then
    libs="$(.venv-bench/bin/python -c 'import confluent_kafka, pathlib; print(pathlib.Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs")')"
    KCAT_LIBRDKAFKA_DIR="$KAFKIFY_CACHE/kcat-librdkafka"
    mkdir -p "$KCAT_LIBRDKAFKA_DIR"
    # The wheel's library has a mangled name; kcat asks for librdkafka.so.1.
    ln -sf "$(ls "$libs"/librdkafka-*.so.1)" "$KCAT_LIBRDKAFKA_DIR/librdkafka.so.1"
    export KCAT_LIBRDKAFKA_DIR
    LD_LIBRARY_PATH="$KCAT_LIBRDKAFKA_DIR" kcat -V | head -2
    KCAT_ARGS=(--kcat "$(command -v kcat)")
fi

step "benchmark"
exec .venv-bench/bin/python benches/compare.py "${KCAT_ARGS[@]}" --rust-ceiling "$RUST_CEILING" "$@"
