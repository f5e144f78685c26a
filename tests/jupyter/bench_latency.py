#!/usr/bin/env python3
"""Kernel latency, Born beside python3 (ipykernel) in the same run.

  .venv/bin/python tests/jupyter/bench_latency.py [--runs 20] [--startups 5]

Installs the release kernel's kernelspec into a temp prefix (build it first:
`cargo build --release -p born-kernel`), then:
1. runs ../shared/bench/kernel_latency.py (override with $KERNEL_LATENCY) for "born" and
   "python3" with the same trivial cell (start -> kernel_info_reply; warm cell round trip);
2. for Born, the issue's targets: first engine cell after a fresh start, and the warm cell
   `let y = &x + 1.0; y.sum_all()` (x defined beforehand), median of --runs.
Prints each result as one JSON line.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _born  # noqa: E402

BENCH = Path(os.environ.get("KERNEL_LATENCY", _born.ROOT.parent / "shared" / "bench" / "kernel_latency.py"))


def born_targets(runs):
    from jupyter_client.manager import start_new_kernel

    out = {"bench": "born_kernel_targets", "kernel": _born.KERNEL}
    t0 = time.perf_counter()
    km, kc = start_new_kernel(kernel_name=_born.KERNEL, startup_timeout=120)
    out["start_to_ready_ms"] = round((time.perf_counter() - t0) * 1e3, 1)
    try:
        t1 = time.perf_counter()
        reply, _ = _born.run_cell(kc, "let x = Tensor::ones([1000], DType::F32); x.sum_all()", timeout=600)
        assert reply["status"] == "ok", reply
        out["first_engine_cell_ms"] = round((time.perf_counter() - t1) * 1e3, 1)
        out["start_to_first_engine_cell_done_ms"] = round((time.perf_counter() - t0) * 1e3, 1)
        code = "let y = &x + 1.0; y.sum_all()"
        for _ in range(3):
            _born.run_cell(kc, code)
        ts = []
        for _ in range(runs):
            t = time.perf_counter()
            reply, _ = _born.run_cell(kc, code)
            ts.append(time.perf_counter() - t)
            assert reply["status"] == "ok", reply
        ts_ms = sorted(x * 1e3 for x in ts)
        out["warm_cell"] = {"code": code, "median_ms": round(statistics.median(ts_ms), 1),
                            "min_ms": round(ts_ms[0], 1), "max_ms": round(ts_ms[-1], 1), "n": runs}
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--startups", type=int, default=5)
    args = ap.parse_args()
    _born.setup_env()
    _born.warm_up()  # the engine build for cells, if the cache is cold: not part of the numbers
    for kernel in ("born", "python3"):
        cmd = [sys.executable, str(BENCH), kernel, "--runs", str(args.runs), "--startups", str(args.startups),
               "--code", "1+1"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
        if r.returncode != 0 or not line:
            print(json.dumps({"kernel": kernel, "error": r.stderr[-2000:]}))
        else:
            print(line)
    print(json.dumps(born_targets(args.runs)))


if __name__ == "__main__":
    main()
