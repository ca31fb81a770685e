#!/usr/bin/env bash
# The main job, from a fresh clone: build kafkify, start a local Tansu broker,
# produce records with kafkify, read them back with an independent client, print them.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
step "release wheel"
build_wheel
.venv/bin/python -m pip install --quiet --force-reinstall --no-deps "$WHEEL"
step "demo"
.venv/bin/python examples/demo.py "$@"
