#!/usr/bin/env python3
"""Born's GPU backend beside PyTorch CUDA, one after the other in one run, on one GPU.

  python3 engine/benches/gpu_vs_pytorch.py --bench BIN --cnn BIN --data DIR [--epochs 1]

Prints two tables:
- f32 matmul TFLOP/s at 1024, 2048, 4096, 8192: Born (the `gpu` bench binary with
  BORN_BENCH_MATMUL, wgpu on Vulkan: eight chained products realized in one submit, timed
  on the host until they finish) beside torch.matmul with TF32 off
  (`torch.backends.cuda.matmul.allow_tf32 = False`, one product timed by CUDA events), each
  the median of timed runs after a warm-up;
- a Fashion-MNIST CNN training epoch (batch 64, Adam 1e-3, the model of
  ../shared/bench/train_fashion.py): Born's `mnist_cnn --device gpu` beside the same model
  trained by PyTorch CUDA eager, data held on the GPU, with test accuracy.

BIN paths are built binaries (`cargo bench -p born --bench gpu --no-run` and
`cargo build --release -p born --example mnist_cnn`), so this runs on a machine without
cargo (the device machine). DIR is laid out as $BORN_DATA: DIR/fashion-mnist/ holds
Fashion-MNIST's four IDX .gz files.
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SIZES = (1024, 2048, 4096, 8192)


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise SystemExit(f"no JSON line in:\n{text[-2000:]}")


def run(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, **(env or {})))
    sys.stderr.write(r.stderr[-4000:])
    if r.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({r.returncode}):\n{r.stdout[-2000:]}")
    return r.stdout


def torch_matmul_tflops(n, reps=10):
    torch.backends.cuda.matmul.allow_tf32 = False
    g = torch.Generator(device="cuda").manual_seed(0)
    a = torch.randn(n, n, device="cuda", generator=g)
    b = torch.randn(n, n, device="cuda", generator=g)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        a @ b
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    times.sort()
    return 2 * n ** 3 / times[len(times) // 2] / 1e12


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


class CNN(nn.Module):
    """The model of ../shared/bench/train_fashion.py and Born's mnist_cnn example."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.fc1 = nn.Linear(64 * 5 * 5, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


def torch_cnn_epochs(data, epochs, batch=64, seed=0):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = "cuda"

    def load(kind):
        x = read_idx(os.path.join(data, "fashion-mnist", f"{kind}-images-idx3-ubyte.gz")).astype(np.float32) / 255.0
        y = read_idx(os.path.join(data, "fashion-mnist", f"{kind}-labels-idx1-ubyte.gz")).astype(np.int64)
        return torch.from_numpy(x).unsqueeze(1).to(dev), torch.from_numpy(y).to(dev)

    xtr, ytr = load("train")
    xte, yte = load("t10k")
    torch.manual_seed(seed)
    model = CNN().to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    out = []
    for ep in range(1, epochs + 1):
        model.train()
        perm = torch.randperm(xtr.shape[0], generator=gen).to(dev)
        losses = []
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for i in range(0, xtr.shape[0], batch):
            idx = perm[i:i + batch]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            # Read each step's loss as train_fashion.py and Born's example do (a sync).
            losses.append(loss.item())
        torch.cuda.synchronize()
        train_s = time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            correct = sum((model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item()
                          for i in range(0, xte.shape[0], 1000))
        out.append({"epoch": ep, "test_acc": correct / xte.shape[0], "train_s": train_s})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True, help="the built `gpu` bench binary")
    ap.add_argument("--cnn", required=True, help="the built mnist_cnn example")
    ap.add_argument("--data", required=True, help="a $BORN_DATA directory: fashion-mnist/ with its IDX .gz files")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    born = last_json(run([args.bench], {"BORN_BENCH_MATMUL": ",".join(map(str, sizes))}))
    torch_tf = {n: torch_matmul_tflops(n) for n in sizes}
    print(f"Born GPU: {born['device']}; PyTorch {torch.__version__} on {torch.cuda.get_device_name()}")
    print("\n| f32 matmul | Born TFLOP/s | PyTorch TFLOP/s (TF32 off) | Born / PyTorch |")
    print("| --- | ---: | ---: | ---: |")
    for n in sizes:
        b = born["matmul_gflops"][str(n)] / 1e3
        print(f"| {n}x{n} | {b:.1f} | {torch_tf[n]:.1f} | {100 * b / torch_tf[n]:.0f}% |")

    cnn = run([args.cnn, "--dataset", "fashion-mnist", "--device", "gpu", "--epochs", str(args.epochs), "--json"],
              {"BORN_DATA": args.data})
    born_epochs = last_json(cnn)["epochs"]
    torch_epochs = torch_cnn_epochs(args.data, args.epochs)
    print("\n| Fashion-MNIST CNN, batch 64 | Born s | PyTorch CUDA s | Born / PyTorch | Born acc | PyTorch acc |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for b, t in zip(born_epochs, torch_epochs):
        print(f"| epoch {b['epoch']} | {b['train_s']:.2f} | {t['train_s']:.2f} | {b['train_s'] / t['train_s']:.2f}x "
              f"| {100 * b['test_acc']:.2f}% | {100 * t['test_acc']:.2f}% |")


if __name__ == "__main__":
    main()
