#!/usr/bin/env bash
# The main job that setup.sh ends with: the MNIST tutorial (notebooks/03-mnist-mlp.ipynb)
# run headless through the real Born kernel by papermill, printing its test accuracy and
# where the executed notebook was written (MNIST where it can be downloaded, else
# Fashion-MNIST from Debian's package). Cells need cargo: the kernel compiles them.
set -euo pipefail
# shellcheck source=install/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
need_cargo
"$VENV_PY" install/main-job.py
