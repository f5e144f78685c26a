#!/usr/bin/env python3
"""born-repl latency through a pseudo-terminal: start to prompt, the first engine cell, and
the warm cell `let y = &x + 1.0; y.sum_all()` (median of --runs), the same cell the kernel
benchmark (tests/jupyter/bench_latency.py) measures. Prints one JSON line.

  .venv/bin/python tests/repl/bench_repl.py [--runs 20]
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "jupyter"))
import _born  # noqa: E402
from test_repl import PROMPT, REPL  # noqa: E402

import pexpect  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    _born.setup_env()
    _born.warm_up()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, BORN_REPL_HISTORY=str(Path(tmp) / "h"), TERM="xterm-256color")
        t0 = time.perf_counter()
        p = pexpect.spawn(str(REPL), env=env, encoding="utf-8", timeout=300, dimensions=(40, 100))
        p.expect(PROMPT)
        start_to_prompt = time.perf_counter() - t0
        t1 = time.perf_counter()
        p.sendline("let x = Tensor::ones([1000], DType::F32); x.sum_all()")
        p.expect(PROMPT)
        first = time.perf_counter() - t1
        code = "let y = &x + 1.0; y.sum_all()"
        for _ in range(3):
            p.sendline(code)
            p.expect(PROMPT)
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            p.sendline(code)
            p.expect(PROMPT)
            times.append((time.perf_counter() - t) * 1e3)
        p.sendeof()
        p.expect(pexpect.EOF)
    print(json.dumps({
        "bench": "born_repl_latency",
        "start_to_prompt_ms": round(start_to_prompt * 1e3, 1),
        "first_engine_cell_ms": round(first * 1e3, 1),
        "start_to_first_engine_cell_done_ms": round((start_to_prompt + first) * 1e3, 1),
        "warm_cell": {"code": code, "median_ms": round(statistics.median(times), 1),
                      "min_ms": round(min(times), 1), "max_ms": round(max(times), 1), "n": len(times)},
    }))


if __name__ == "__main__":
    main()
