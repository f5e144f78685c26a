#!/usr/bin/env bash
# Installs what building, running and testing Born needs: Debian packages and the
# Python venv at .venv. Used by setup.sh and test.sh. Idempotent, and quick on a
# second run: apt is skipped when every package is already installed, pip when the
# venv already holds the current package list, npm when node_modules matches the lock.
#
#   bash install/deps.sh          # what setup.sh and the main job need
#   bash install/deps.sh --test   # and what only the tests need (test.sh): chromium, node, playwright-core
#   bash install/deps.sh --only system|python   # one part: setup.sh fills the venv while cargo builds
set -euo pipefail
# shellcheck source=install/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

WITH_TEST=0
ONLY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --test) WITH_TEST=1 ;;
    --only)
      ONLY="${2:-}"; shift
      case "$ONLY" in system|python) ;; *) die "--only takes system or python, not '$ONLY'" ;; esac ;;
    *) die "unknown option $1 (usage: bash install/deps.sh [--test] [--only system|python])" ;;
  esac
  shift
done
# part NAME: whether this run installs that part (all of them unless --only says one).
part() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }

# Debian packages, and why each is here.
APT_PACKAGES=(
  mesa-vulkan-drivers   # llvmpipe (lavapipe), a software Vulkan device: the wgpu backend's tests run on it without a GPU
  dataset-fashion-mnist # Fashion-MNIST in /usr/share/datasets/fashion-mnist, for the notebooks and examples
  python3-venv          # Debian's python3 cannot make a venv without it
  pkg-config            # found by -sys crates' build scripts
  build-essential       # cc/make for crates that build C
)

# Only for the tests (--test): the browser test (tests/browser/) drives JupyterLab in a
# headless browser with playwright-core, a Node package.
if [ "$WITH_TEST" = 1 ]; then
  APT_PACKAGES+=(
    chromium              # the browser tests/browser/ drives (/usr/bin/chromium; playwright downloads none)
  )
  # Node.js runs playwright-core (npm installs it). Debian's packages only where there is no
  # node/npm at all, so a newer Node.js from elsewhere is kept.
  command -v node >/dev/null 2>&1 || APT_PACKAGES+=(nodejs)   # runs tests/browser/new_notebook.mjs
  command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(npm)       # installs playwright-core from tests/browser/package-lock.json
fi

# Python packages for the venv. Later issues add to this list.
# numpy: reference values (engine/tests/golden/gen_golden.py); threadpoolctl: pins NumPy's
# BLAS to a known thread count when comparing against it.
# The Jupyter kernel's tests (tests/jupyter/): jupyter_client (protocol client),
# jupyter-kernel-test (the standard kernel test suite), nbclient + nbformat (run a notebook),
# papermill (parameterised notebook runs), jupyter_console + pexpect (a terminal session),
# ipykernel (python3, measured beside Born by tests/jupyter/bench_latency.py); jupyterlab to
# use the kernel.
PY_PACKAGES=(numpy threadpoolctl
  jupyter_client jupyter-kernel-test nbclient nbformat papermill jupyter_console pexpect ipykernel
  jupyterlab safetensors)

# Python that creates the venv: the first python3 on PATH (Debian's, or pyenv's), or $PYTHON.
PYTHON="${PYTHON:-python3}"

# ---- Debian packages --------------------------------------------------------
if part system; then
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    # "installed" only; "config-files" (removed, config kept) counts as missing.
    status="$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)"
    [ "$status" = installed ] || missing+=("$p")
  done

  if [ ${#missing[@]} -eq 0 ]; then
    say "apt: all ${#APT_PACKAGES[@]} packages present"
  else
    if [ "$(id -u)" -eq 0 ]; then
      as_root=()
    elif command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then
      as_root=(sudo)   # passwordless sudo, or a terminal to type the password in
    else
      die "missing Debian packages: ${missing[*]}
  not root and no usable sudo: ask an administrator to run
  apt-get install ${missing[*]}"
    fi
    say "apt: installing ${missing[*]}"
    # update first: on a fresh machine the package lists are empty or stale.
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi   # part system

# ---- Python venv -----------------------------------------------------------
if part python; then
  # A venv whose python no longer runs (its base interpreter was removed) or that has no
  # pip (made before python3-venv was installed) is rebuilt from scratch.
  if ! { [ -x "$VENV_PY" ] && "$VENV_PY" -m pip --version >/dev/null 2>&1; }; then
    say "venv: creating $VENV with $("$PYTHON" --version 2>&1)"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
  fi

  # The stamp records what was installed; pip runs only when the list (or the venv's python) changed.
  stamp="$VENV/.born-packages"
  want="$("$VENV_PY" -c 'import sys; print(sys.version.split()[0])') ${PY_PACKAGES[*]}"
  if [ "$(cat "$stamp" 2>/dev/null || true)" = "$want" ]; then
    say "venv: ${PY_PACKAGES[*]} present"
  else
    say "venv: pip install ${PY_PACKAGES[*]}"
    "$VENV_PY" -m pip install -q --disable-pip-version-check "${PY_PACKAGES[@]}"
    printf '%s\n' "$want" >"$stamp"
  fi
fi   # part python

# ---- Rust source, for completions in notebook cells -------------------------
# evcxr's completions (rust-analyzer) read the standard library's source. Where rustup
# cannot reach its server the kernel still works, with fewer completions.
if part system && command -v rustup >/dev/null 2>&1 && ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
  if rustup component add rust-src >/dev/null 2>&1; then
    say "rustup: rust-src installed"
  else
    say "rustup: could not install rust-src (offline?): completions will be limited"
  fi
fi

# ---- Node packages for the browser test (--test) ----------------------------
# playwright-core, pinned in tests/browser/package-lock.json (no browser download: the test
# points it at Debian's chromium). `npm ci` only when node_modules does not match the lock.
if [ "$WITH_TEST" = 1 ] && part system; then
  node_major="$(node -p 'process.versions.node.split(".")[0]')"
  [ "$node_major" -ge 18 ] || die "node $(node --version) is too old for playwright-core (it needs 18 or newer)"
  browser_dir="$ROOT/tests/browser"
  lock_stamp="$browser_dir/node_modules/.born-package-lock.json"
  if cmp -s "$browser_dir/package-lock.json" "$lock_stamp"; then
    say "npm: tests/browser packages present"
  else
    say "npm: npm ci in tests/browser (playwright-core)"
    (cd "$browser_dir" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$browser_dir/package-lock.json" "$lock_stamp"
  fi
fi
