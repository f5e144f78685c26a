"""Runs a small notebook headless through the Born kernel (nbclient) and prints its
outputs: the proof that the kernel, the engine and rich display work together.

The executed notebook, with its HTML table and figure, is written to
target/main-job/born-hello.ipynb.
"""
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "target" / "main-job" / "born-hello.ipynb"

CELLS = [
    "let x = Tensor::arange(0.0, 12.0, 1.0, DType::F32).reshape([3, 4]);\nx",
    "let y = (&x * 0.5).exp().sum(1, false);\nprintln!(\"{}\", y.schedule());\ny",
    "let w = Tensor::randn([4, 4], DType::F32);\nx.matmul(&w).softmax(-1).heatmap()",
    "let xs: Vec<f64> = (0..50).map(|i| i as f64 / 5.0).collect();\n"
    "let ys: Vec<f64> = xs.iter().map(|v| v.sin()).collect();\n"
    "Figure::new().title(\"sin\").line(&xs, &ys, \"sin(x)\")",
]


def main():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    nb.metadata["kernelspec"] = {"name": "born", "display_name": "Born (Rust)", "language": "rust"}
    t0 = time.monotonic()
    # The first run builds the engine for cells (minutes on a small machine); later runs take seconds.
    NotebookClient(nb, kernel_name="born", timeout=1800, startup_timeout=120).execute()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, OUT)
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            text = out.get("text") or data.get("text/plain", "")
            kinds = ", ".join(sorted(data)) if data else out.get("output_type")
            print(f"[cell {i + 1}] {kinds}")
            if text:
                print("    " + str(text).strip().replace("\n", "\n    "))
            if out.get("output_type") == "error":
                print("\n".join(out.get("traceback", [])), file=sys.stderr)
                sys.exit(f"cell {i + 1} failed")
    print(f"notebook ran through the Born kernel in {time.monotonic() - t0:.1f} s; executed copy: {OUT}")


if __name__ == "__main__":
    main()
