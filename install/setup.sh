#!/usr/bin/env bash
# bash install/setup.sh: set up a fresh Debian machine, build Born, run the main job.
# Safe to run again: each step skips what is already done (cargo rebuilds only what changed).
set -euo pipefail
# shellcheck source=install/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"

say "dependencies"
bash install/deps.sh

need_cargo
say "build: cargo build --release --workspace"
cargo build --release --workspace

# The main job lives in its own script so a later issue can swap it (the MNIST notebook)
# without touching the setup steps.
say "main job: install/main-job.sh"
bash install/main-job.sh
say "setup done"
