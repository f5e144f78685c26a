#!/usr/bin/env python3
"""Generates engine/tests/golden/torch_rng.json: what PyTorch's CPU generator draws.

Born's generator reproduces PyTorch's (`torch.manual_seed`, `torch.rand`, `torch.randn`,
`torch.randperm`, the default init of `nn.Linear`, `nn.Conv2d` and
`nn.MultiheadAttention`); `engine/tests/torch_rng.rs` compares with these values.
Needs PyTorch (the baseline venv of ../shared/bench: ~/.cache/born-baselines/venv), which
CI does not install, so CI checks Born against the committed file and does not regenerate
it. From the repository root:

    ~/.cache/born-baselines/venv/bin/python engine/tests/golden/gen_torch_rng.py

Floats are written with repr (exact for float32 and float64 values).
"""
import json
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_rng.json")


def values(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def case(name, kind, seed, dtype, shape, data, **extra):
    return {"name": name, "kind": kind, "seed": seed, "dtype": dtype, "shape": list(shape),
            "values": data, **extra}


def main():
    cases = []
    f32, f64 = torch.float32, torch.float64
    for seed, n, dt, name in [(0, 1000, f32, "f32"), (1, 100, f64, "f64")]:
        torch.manual_seed(seed)
        cases.append(case(f"rand_{name}", "rand", seed, name, [n], values(torch.rand(n, dtype=dt))))
    torch.manual_seed(4)
    cases.append(case("uniform_f32", "uniform", 4, "f32", [300],
                      values(torch.empty(300).uniform_(-0.0357, 0.0357)), low=-0.0357, high=0.0357))
    # randn: scalar Box-Muller below 16 values (the second sample cached for the next
    # call), blocks of 16 from 16 on, the last block redrawn when the length is not a
    # multiple of 16.
    for seed, sizes, dt, name in [(2, [5, 3, 16, 37, 1000], f32, "f32"), (3, [7, 40], f64, "f64")]:
        torch.manual_seed(seed)
        draws = [values(torch.randn(n, dtype=dt)) for n in sizes]
        cases.append(case(f"randn_{name}", "randn", seed, name, sizes, draws))
    g = torch.Generator().manual_seed(0)
    perms = [torch.randperm(n, generator=g).tolist() for n in [10, 1, 2, 5000, 5000]]
    cases.append(case("randperm", "randperm", 0, "i64", [10, 1, 2, 5000, 5000], perms))
    # Layers' default init, in construction order.
    torch.manual_seed(0)
    layers = [torch.nn.Linear(20, 7), torch.nn.Conv2d(3, 8, 3), torch.nn.Linear(5, 2, bias=False)]
    params = [values(p) for m in layers for p in m.parameters()]
    cases.append(case("layers", "layers", 0, "f32", [], params))
    torch.manual_seed(5)
    mha = torch.nn.MultiheadAttention(8, 2)
    cases.append(case("attention", "attention", 5, "f32", [8, 2],
                      [values(mha.in_proj_weight), values(mha.out_proj.weight)]))
    with open(OUT, "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(c) for c in cases) + "\n]\n")


if __name__ == "__main__":
    main()
