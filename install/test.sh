#!/usr/bin/env bash
# bash install/test.sh: run every test (what CI runs, through .ci/run).
# Installs what the tests need first (install/deps.sh --test: apt packages, .venv, the
# browser test's chromium and playwright-core), then runs
# each check below. A failing check does not stop the others: the summary at the end
# lists them all, and the script exits non-zero if any failed.
set -euo pipefail
# shellcheck source=install/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
t0=$SECONDS
# One cache for the engine that notebook cells link (built once, minutes on 2 cores),
# shared by the session tests and the Jupyter tests.
export BORN_CACHE_DIR="${BORN_CACHE_DIR:-$ROOT/target/born-cache}"
# The GPU tests run on llvmpipe (mesa-vulkan-drivers, installed by deps.sh): here a missing
# GPU adapter is a failure, not a skip.
export BORN_REQUIRE_GPU=1

say "dependencies"
bash install/deps.sh --test   # no point testing without them: a failure here stops the run
need_cargo

# ---- the checks ------------------------------------------------------------

# Regenerate the golden values with NumPy and compare them with the committed
# golden.json: the committed file must be what the committed script produces.
GOLDEN_GEN=engine/tests/golden/gen_golden.py
golden_fresh() {
  "$VENV_PY" "$GOLDEN_GEN" --check
}

# Release profile: tensor kernels are far too slow in debug, and release shares its
# dependency builds with setup.sh's `cargo build --release`. Plain cargo test: the
# session test has its own main (evcxr runs the test executable as the cell process),
# which cargo-nextest cannot list.
run_tests() {
  cargo test --workspace --release
}

# The engine's property tests (random shapes, broadcasting, non-contiguous views, fused
# chains, reductions, matmul, gather/scatter against naive references) again with every
# new tensor on the GPU (llvmpipe here). Same build as run_tests (--workspace).
gpu_properties() {
  BORN_DEVICE=gpu cargo test --workspace --release --test properties
}

# The binaries (born-kernel, born-repl) and examples the end-to-end tests run, as the test
# build made them: `cargo test` puts them in target/release too. A plain `cargo build -p ..`
# here would resolve dependency features without the dev-dependencies' (serde_json's
# float_roundtrip, proptest's regex features) and rebuild evcxr, rust-analyzer's crates and
# the engine: 10 minutes of CI for each of the steps below.
test_binaries() {
  cargo test --workspace --release --no-run
}

# The Jupyter kernel against real clients (tests/jupyter/): jupyter_kernel_test, protocol
# tests, a notebook through nbclient, jupyter console, 200 cells within 100 MB of resident
# memory. Needs the release binary; the kernelspec
# goes into the venv's prefix (where the venv's Jupyter finds it); the tests themselves install
# one into a temp prefix. BORN_CACHE_DIR keeps the engine that cells link, built once.
jupyter_tests() {
  test_binaries
  target/release/born-kernel install --prefix "$VENV"
  "$VENV_PY" -m unittest discover -s tests/jupyter -p 'test_*.py' -v
}

# Born's files against other tools (tests/interop/): safetensors written by Born read by
# Python's safetensors + NumPy (PyTorch's loader), and the other way round.
interop_tests() {
  test_binaries
  "$VENV_PY" -m unittest discover -s tests/interop -p 'test_*.py' -v
}

# born-repl in a pseudo-terminal (tests/repl/, pexpect): multi-line input, tensors, errors,
# Ctrl-C, history, figures as Unicode blocks, --eval and scripts.
repl_tests() {
  test_binaries
  "$VENV_PY" -m unittest discover -s tests/repl -p 'test_*.py' -v
}

# The tutorial notebooks (notebooks/), each run through the Born kernel by papermill with
# small epoch counts and checked for what it teaches (tests/notebooks/).
tutorial_tests() {
  test_binaries
  "$VENV_PY" -m unittest discover -s tests/notebooks -p 'test_*.py' -v
}

# JupyterLab in headless Chromium (tests/browser/: playwright-core on Debian's chromium): a new
# Born notebook opened from the launcher, a cell typed and run with Shift+Enter, the tensor's
# HTML table and the figure's image checked in the page; the screenshot is kept in
# target/test-artifacts/browser/. Needs the release binary; the kernelspec is registered as
# for the Jupyter tests (the test itself uses one in a temp prefix).
browser_tests() {
  test_binaries
  target/release/born-kernel install --prefix "$VENV"
  "$VENV_PY" -m unittest discover -s tests/browser -p 'test_*.py' -v
}

# ---- runner ----------------------------------------------------------------
results=()   # "STATUS<TAB>NAME<TAB>DETAIL" lines for the summary
failed=()

# step NAME CMD...: runs CMD in a subshell with errexit on (it is not in an `if`, where
# bash would silently switch errexit off), records ok/FAIL and the time taken.
step() {
  local name="$1"; shift
  local start=$SECONDS rc
  say "$name"
  set +e
  ( set -e; "$@" )
  rc=$?
  set -e
  if [ "$rc" -eq 0 ]; then
    results+=("ok	$name	$((SECONDS - start))s")
  else
    results+=("FAIL	$name	$((SECONDS - start))s (exit $rc)")
    failed+=("$name")
  fi
}
skip() { say "$1: skipped ($2)"; results+=("skip	$1	$2"); }

# Cheap checks first, so their verdict comes before the long builds.
step fmt          cargo fmt --all -- --check
step line-budget  bash install/line-budget.sh
step notebooks    "$VENV_PY" install/check-notebooks.py
if [ -f "$GOLDEN_GEN" ]; then
  step golden     golden_fresh
else
  skip golden     "no $GOLDEN_GEN"
fi
# clippy builds in its own check mode (metadata only, no codegen): the one extra build.
step clippy       cargo clippy --workspace --all-targets -- -D warnings
step tests        run_tests
step gpu-properties gpu_properties
step interop      interop_tests
step jupyter      jupyter_tests
step repl         repl_tests
step tutorials    tutorial_tests
step browser      browser_tests

# ---- summary ---------------------------------------------------------------
say "summary ($((SECONDS - t0))s in all)"
for r in "${results[@]}"; do
  IFS=$'\t' read -r status name detail <<<"$r"
  printf '  %-5s %-12s %s\n' "$status" "$name" "$detail"
done
if [ ${#failed[@]} -gt 0 ]; then
  say "FAILED: ${failed[*]}"
  exit 1
fi
say "all checks passed"
