#!/usr/bin/env bash
# The main job that setup.sh ends with: the engine's quickstart example, then the MNIST
# tutorial (notebooks/03-mnist-mlp.ipynb) run headless through the real Born kernel by
# papermill, printing its test accuracy and where the executed notebook was written
# (MNIST where it can be downloaded, else Fashion-MNIST from Debian's package).
set -euo pipefail
# shellcheck source=install/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
need_cargo

# --release: the same profile setup.sh just built, so this only links the example.
cargo run --release -p born --example quickstart
"$VENV_PY" install/main-job.py
