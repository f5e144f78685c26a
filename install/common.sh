# shellcheck shell=bash disable=SC2034  # the variables are used by the scripts that source this
# Shared helpers for the install/ scripts. Sourced, never run on its own.
# Every script sources this first so they agree on where the repo and the venv are,
# whatever directory they were started from.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
VENV_PY="$VENV/bin/python"

say() { printf '==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# rustup puts cargo in ~/.cargo/bin, which a fresh login shell may not have on PATH yet.
need_cargo() {
  if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
  fi
  command -v cargo >/dev/null 2>&1 ||
    die "cargo not found: install stable Rust with rustup (components clippy and rustfmt) first"
}
