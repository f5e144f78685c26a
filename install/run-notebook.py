#!/usr/bin/env python3
"""Runs a tutorial notebook headless through the Born kernel with papermill.

  .venv/bin/python install/run-notebook.py notebooks/03-mnist-mlp.ipynb [-p NAME VALUE]... [-o OUT]

`-p` replaces a value of the notebook's `parameters` cell (papermill's convention): the
values are written as Rust, `let NAME: TYPE = VALUE;` in a cell after that one. Papermill
knows no Rust, so this script registers a translator for the kernel's language first:
non-negative integers become `usize`, other integers `i64`, floats `f64`, strings `&str`,
booleans `bool`. The executed notebook (with its outputs and figures) goes to OUT
(default: target/notebooks/NAME.ipynb). Prints each cell's text output; exits non-zero if
a cell fails.
"""
import argparse
import json
import re
import sys
import time
from pathlib import Path

import papermill
from papermill.models import Parameter
from papermill.translators import Translator, papermill_translators

ROOT = Path(__file__).resolve().parents[1]


class RustTranslator(Translator):
    """Papermill parameters as Rust `let` bindings (shadowing the notebook's defaults)."""

    @classmethod
    def translate_escaped_str(cls, str_val):
        return json.dumps(str_val)  # a JSON string is a valid Rust string literal

    @classmethod
    def translate_none(cls, val):
        raise ValueError("a Rust parameter cannot be None")

    @classmethod
    def translate_int(cls, val):
        return f"{val}usize" if val >= 0 else f"{val}i64"

    @classmethod
    def translate_float(cls, val):
        return f"{val!r}f64"

    @classmethod
    def translate_bool(cls, val):
        return "true" if val else "false"

    @classmethod
    def translate_dict(cls, val):
        raise ValueError("a Rust parameter is a number, a string or a bool, not a dict")

    @classmethod
    def translate_list(cls, val):
        raise ValueError("a Rust parameter is a number, a string or a bool, not a list")

    @classmethod
    def comment(cls, cmt_str):
        return f"// {cmt_str}".strip()

    @classmethod
    def assign(cls, name, str_val):
        return f"let {name} = {str_val};"

    @classmethod
    def inspect(cls, parameters_cell):
        """The notebook's parameters: its `let NAME[: TYPE] = VALUE;` lines."""
        found = []
        for m in re.finditer(r"^let\s+(\w+)\s*(?::\s*([^=]+?))?\s*=\s*(.+?);", parameters_cell.source, re.M):
            found.append(Parameter(m.group(1), (m.group(2) or "").strip() or "None", m.group(3), ""))
        return found


papermill_translators.register("rust", RustTranslator)


def parse_value(text):
    """`-p` values as papermill's CLI reads them: numbers and booleans, else strings."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def add_parameter_option(ap):
    """`-p NAME VALUE` (repeatable) on an argparse parser; read back with `parameters`."""
    ap.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))


def parameters(args):
    """The `-p` pairs of parsed `args` as papermill parameters."""
    return {k: parse_value(v) for k, v in args.parameter}


def run(notebook, parameters=None, out=None, timeout=1800):
    """Executes `notebook` with `parameters`; returns (executed notebook, path written)."""
    notebook = Path(notebook)
    out = Path(out) if out else ROOT / "target" / "notebooks" / notebook.name
    out.parent.mkdir(parents=True, exist_ok=True)
    nb = papermill.execute_notebook(
        str(notebook), str(out), parameters=parameters or {}, kernel_name="born",
        language="rust", cwd=str(notebook.parent), progress_bar=False,
        execution_timeout=timeout, start_timeout=120,
    )
    return nb, out


def text_of(nb):
    """All text a run printed, cell by cell: [(cell index, text)]."""
    rows = []
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            t = o.get("text") or o.get("data", {}).get("text/plain", "")
            if t:
                rows.append((i, t if isinstance(t, str) else "".join(t)))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("notebook")
    add_parameter_option(ap)
    ap.add_argument("-o", "--output")
    args = ap.parse_args()
    params = parameters(args)
    t0 = time.monotonic()
    try:
        nb, out = run(args.notebook, params, args.output)
    except papermill.PapermillExecutionError as e:
        sys.exit(f"{args.notebook}: cell {e.cell_index} failed: {e.ename}: {e.evalue}")
    for i, t in text_of(nb):
        print(f"[cell {i}] " + t.strip().replace("\n", "\n    "))
    print(f"{args.notebook} ran through the Born kernel in {time.monotonic() - t0:.1f} s; executed copy: {out}")


if __name__ == "__main__":
    main()
