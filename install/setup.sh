#!/usr/bin/env bash
# bash install/setup.sh: set up a fresh Debian machine, build Born, register the kernel,
# run the main job. Safe to run again: each step skips what is already done.
set -euo pipefail
# shellcheck source=install/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"

say "dependencies"
bash install/deps.sh

need_cargo
say "build: cargo build --release --workspace"
cargo build --release --workspace

# The kernelspec goes into the venv (its Jupyter finds it) and the user's Jupyter dir
# (any other Jupyter of this user finds it). No Python is involved in installing it.
say "register the Born kernel"
target/release/born-kernel install --prefix "$VENV"
target/release/born-kernel install --user

# The main job lives in its own script so a later issue can swap it (the MNIST notebook)
# without touching the setup steps.
say "main job: install/main-job.sh"
bash install/main-job.sh
say "setup done: start JupyterLab with  .venv/bin/jupyter lab  and pick \"Born (Rust)\""
