#!/usr/bin/env bash
# The main job that setup.sh ends with. Now: the engine's quickstart example, a lazy
# tensor demo. Later: the MNIST notebook. Assumes install/deps.sh has run.
set -euo pipefail
# shellcheck source=install/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
need_cargo

# --release: the same profile setup.sh just built, so this only links the example.
cargo run --release -p born --example quickstart
