#!/usr/bin/env bash
# Line budget for the engine's core, tinygrad style: the core must stay small enough to
# read in one sitting. Counts non-blank, non-comment lines of Rust under the core folders
# (those that exist) and fails when the total is over the number in install/line-budget.txt.
# Raising the budget is a deliberate, reviewed change to that file. Tests are not core:
# `tests.rs` files and a file's closing `#[cfg(test)]` module are not counted (a budget
# that counts tests taxes testing).
set -euo pipefail
# shellcheck source=install/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"

CORE_DIRS=(engine/src/ops engine/src/graph engine/src/schedule engine/src/backend)

# First number in the budget file (so it may carry # comments).
budget="$(grep -Eo '^[0-9]+' install/line-budget.txt | head -n1 || true)"
[ -n "$budget" ] || die "install/line-budget.txt holds no number"

# Lines that are blank, // comments (incl. /// and //! docs) or inside /* */ are not counted.
# Good enough for the code we write: "//" or "/*" inside a string literal only ever
# shortens a line that still counts, and nested /* */ is not used.
count_lines() {
  awk '
    /^#\[cfg\(test\)\]/ { skip = 1 }
    FNR == 1 { skip = 0; inblock = 0 }
    skip { next }
    {
      line = $0; out = ""
      while (line != "") {
        if (inblock) {
          e = index(line, "*/")
          if (e == 0) { line = ""; break }
          line = substr(line, e + 2); inblock = 0
          continue
        }
        s = index(line, "//"); b = index(line, "/*")
        if (s && (!b || s < b)) { out = out substr(line, 1, s - 1); line = ""; break }
        if (b) { out = out substr(line, 1, b - 1); line = substr(line, b + 2); inblock = 1; continue }
        out = out line; line = ""
      }
      if (out ~ /[^ \t\r]/) n++
    }
    END { print n + 0 }' "$@"
}

total=0
printf '%-24s %6s\n' folder lines
for d in "${CORE_DIRS[@]}"; do
  [ -d "$d" ] || continue
  mapfile -t files < <(find "$d" -type f -name '*.rs' ! -name tests.rs | sort)
  n=0
  [ ${#files[@]} -eq 0 ] || n="$(count_lines "${files[@]}")"
  printf '%-24s %6d\n' "$d" "$n"
  total=$((total + n))
done
printf '%-24s %6d  (budget %d)\n' total "$total" "$budget"

if [ "$total" -gt "$budget" ]; then
  echo "line budget exceeded by $((total - budget)) lines: simplify the core, or raise install/line-budget.txt in a reviewed change" >&2
  exit 1
fi
