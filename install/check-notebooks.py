#!/usr/bin/env python3
"""Fail if a notebook under notebooks/ is committed with outputs.

Outputs make diffs unreadable and bloat the repo; the notebooks are run by CI/the main
job, not read from their saved outputs. Checks the files git tracks or would add
(tracked + untracked-not-ignored), so it also catches a notebook before its first
commit. Standard library only. Clear a notebook with:
    jupyter nbconvert --clear-output --inplace notebooks/NAME.ipynb
"""

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def notebooks():
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard",
             "-z", "--", "notebooks/*.ipynb"],
            cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout
        paths = [ROOT / p for p in out.split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        # Not a git checkout (a tarball, say): check every notebook on disk.
        paths = list((ROOT / "notebooks").rglob("*.ipynb"))
    return sorted(p for p in paths if p.is_file())


def problems(path):
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return [f"not readable as JSON: {e}"]
    found = []
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs"):
            found.append(f"cell {i}: {len(cell['outputs'])} output(s)")
        if cell.get("execution_count") is not None:
            found.append(f"cell {i}: execution_count {cell['execution_count']}")
    return found


def main():
    paths = notebooks()
    bad = 0
    for path in paths:
        for msg in problems(path):
            print(f"{path.relative_to(ROOT)}: {msg}")
            bad += 1
    if bad:
        print("notebooks with outputs: clear them before committing "
              "(jupyter nbconvert --clear-output --inplace FILE)")
        return 1
    print(f"notebooks: {len(paths)} checked, none has outputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
