#!/usr/bin/env python3
"""Born's training examples beside PyTorch CPU, one after the other in one run.

  python3 engine/benches/train_vs_pytorch.py [--tasks mlp,digits,cnn] [--epochs-cnn 2]

For each task, runs the Born example (`cargo run --release --example mnist_mlp|mnist_cnn`)
and then ../shared/bench/train_fashion.py (PyTorch, 2 threads) with the same model, data,
batch size (64), optimizer (Adam 1e-3), epochs and seed, and prints per epoch: test
accuracy and training seconds of both, and the ratio Born / PyTorch (below 1: Born is
faster). PyTorch runs in $BASELINE_PYTHON (default: the baseline venv that
../shared/bench/setup.sh makes, ~/.cache/born-baselines/venv/bin/python).

Tasks: mlp (Fashion-MNIST, 3 epochs), cnn (Fashion-MNIST, 2 epochs), digits (real MNIST
test digits split 8000/2000, MLP, 10 epochs).
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = Path(os.environ.get("BASELINE_DIR", ROOT.parent / "shared" / "bench"))
PYTHON = os.environ.get("BASELINE_PYTHON", str(Path.home() / ".cache/born-baselines/venv/bin/python"))

# task -> (Born example, its dataset flag, PyTorch task name, PyTorch result key, default epochs)
TASKS = {
    "mlp": ("mnist_mlp", "fashion-mnist", "mlp", "fashion_mlp", 3),
    "digits": ("mnist_mlp", "mnist-test-split", "digits", "digits_mlp", 10),
    "cnn": ("mnist_cnn", "fashion-mnist", "cnn", "fashion_cnn", 2),
}


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise SystemExit(f"no JSON line in:\n{text[-2000:]}")


def run_born(example, dataset, epochs):
    cmd = ["cargo", "run", "--quiet", "--release", "-p", "born", "--example", example, "--",
           "--dataset", dataset, "--epochs", str(epochs), "--json",
           "--digits-dir", str(BENCH.parent / "data" / "mnist")]
    env = dict(os.environ, BORN_NUM_THREADS=os.environ.get("BORN_NUM_THREADS", "2"))
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    sys.stderr.write(r.stdout)
    if r.returncode != 0:
        raise SystemExit(f"Born example failed:\n{r.stderr[-3000:]}")
    return last_json(r.stdout)["epochs"]


def run_torch(task, key, epochs):
    flag = {"mlp": "--epochs-mlp", "cnn": "--epochs-cnn", "digits": "--epochs-digits"}[task]
    cmd = [PYTHON, str(BENCH / "train_fashion.py"), "--tasks", task, "--threads", "2", flag, str(epochs)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"PyTorch baseline failed:\n{r.stderr[-3000:]}")
    out = last_json(r.stdout)
    return out["torch"], out["results"][key]["epochs"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", default="mlp,digits,cnn")
    for t, spec in TASKS.items():
        ap.add_argument(f"--epochs-{t}", type=int, default=spec[4])
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "born", "--examples"], cwd=ROOT, check=True)
    rows = []
    for task in args.tasks.split(","):
        example, dataset, torch_task, key, _ = TASKS[task]
        epochs = getattr(args, f"epochs_{task}")
        born = run_born(example, dataset, epochs)
        version, torch = run_torch(torch_task, key, epochs)
        for b, t in zip(born, torch):
            rows.append((task, b["epoch"], b["test_acc"], t["test_acc"], b["train_s"], t["train_s"],
                         b["new_buffers"], b.get("last_batch_buffers", 0)))
    print(f"\nBorn vs PyTorch {version} CPU (2 threads each), batch 64, Adam 1e-3, seed 0")
    print(f"{'task':<7} {'ep':>2} {'acc Born':>9} {'acc torch':>9} {'s Born':>8} {'s torch':>8} {'ratio':>6} "
          f"{'new bufs':>8} {'last batch':>10}")
    for task, ep, ab, at, sb, st, nb, lb in rows:
        print(f"{task:<7} {ep:>2} {100 * ab:>8.2f}% {100 * at:>8.2f}% {sb:>8.2f} {st:>8.2f} {sb / st:>5.2f}x {nb:>8} "
              f"{lb:>10}")


if __name__ == "__main__":
    main()
