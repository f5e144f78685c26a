#!/usr/bin/env bash
# The main job that setup.sh ends with: the engine's quickstart example, then a notebook
# run headless through the real Born kernel that trains an MLP on Fashion-MNIST and prints
# its test accuracy (the first run also builds the engine that cells link, once). Issue 7
# swaps the notebook for the MNIST tutorial.
set -euo pipefail
# shellcheck source=install/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
need_cargo

# --release: the same profile setup.sh just built, so this only links the example.
cargo run --release -p born --example quickstart
"$VENV_PY" install/main-job.py
