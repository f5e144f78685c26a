#!/usr/bin/env bash
# bash install/setup.sh: set up a fresh Debian machine, build Born, register the kernel,
# run the main job. Safe to run again: each step skips what is already done.
set -euo pipefail
# shellcheck source=install/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"

say "dependencies: Debian packages"
bash install/deps.sh --only system

# The venv fills (pip, mostly downloads) while cargo compiles; its log is shown if it fails.
say "dependencies: the Python venv, in the background ($ROOT/target/setup-venv.log)"
mkdir -p target
bash install/deps.sh --only python >target/setup-venv.log 2>&1 &
venv_pid=$!

need_cargo
# Only the binaries: the kernel does not link the engine, which is built once, for notebook
# cells, by the prebuild below (the tests build the whole workspace).
say "build: cargo build --release -p born-kernel"
cargo build --release -p born-kernel

if ! wait "$venv_pid"; then
  cat target/setup-venv.log >&2
  die "the Python venv could not be set up (log above)"
fi
cat target/setup-venv.log

# The binaries go on PATH: /usr/local/bin as root, else ~/.local/bin. They keep using
# this checkout's engine/ (compiled in), so run this again after pulling changes.
if [ "$(id -u)" = 0 ]; then BIN_DIR=/usr/local/bin; else BIN_DIR="$HOME/.local/bin"; fi
say "install born-repl and born-kernel into $BIN_DIR"
mkdir -p "$BIN_DIR"
install -m 755 target/release/born-repl target/release/born-kernel "$BIN_DIR/"
case ":$PATH:" in
  *":$BIN_DIR:"*) ;;
  *) say "note: $BIN_DIR is not on PATH; add it there to start born-repl by name" ;;
esac

# The kernelspec (pointing at the installed born-kernel) goes into the venv (its Jupyter
# finds it) and the user's Jupyter dir (any other Jupyter of this user finds it). No
# Python is involved in installing it.
say "register the Born kernel"
"$BIN_DIR/born-kernel" install --prefix "$VENV"
"$BIN_DIR/born-kernel" install --user

# Cells compile against the engine, built once (optimized, with its JIT) into the cell
# cache (~/.cache/born/evcxr): doing it here keeps a notebook's first engine cell fast.
# Quick when the engine has not changed since the last run.
say "prebuild the engine for cells"
"$BIN_DIR/born-repl" --eval 'Tensor::zeros([2], DType::F32).sum_all().item::<f32>()' >/dev/null

# The main job (the MNIST tutorial through the kernel) lives in its own script.
say "main job: install/main-job.sh"
bash install/main-job.sh
say "setup done in ${SECONDS} s: start JupyterLab with  .venv/bin/jupyter lab  and pick \"Born (Rust)\""
