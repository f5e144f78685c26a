"""Runs a notebook headless through the Born kernel (nbclient) and prints its outputs:
tensors, a fused schedule, a heatmap and a figure, then an MLP trained for one epoch on
Fashion-MNIST (Debian's dataset-fashion-mnist, or $BORN_DATA) with its test accuracy and
loss curve: the proof that the kernel, the engine, autograd and rich display work together.

The executed notebook, with its HTML table and figures, is written to
target/main-job/born-hello.ipynb. Exits non-zero if a cell fails or the accuracy is
below 80%.
"""
import re
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
    # Training: the examples' recipe (batch 64, Adam 1e-3), one epoch.
    "let data = born::data::datasets::fashion_mnist().unwrap();\n"
    "manual_seed(0);\n"
    "let mut model = nn::Sequential::new()\n"
    "    .add(nn::Linear::new(784, 128))\n"
    "    .add(nn::ReLU::new())\n"
    "    .add(nn::Linear::new(128, 10));\n"
    "let mut opt = optim::Adam::new(model.parameters(), 1e-3);\n"
    "let train_x = data.train_images_f32().reshape([60000, 784]).realize();\n"
    "let mut loader = DataLoader::new(&train_x, &data.train_labels, 64).shuffle(true).seed(0);\n"
    "let mut losses: Vec<f64> = Vec::new();\n"
    "let started = std::time::Instant::now();\n"
    "for (x, y) in loader.iter() {\n"
    "    let loss = nn::loss::cross_entropy(&model.forward(&x), &y).unwrap();\n"
    "    opt.zero_grad();\n"
    "    loss.backward();\n"
    "    opt.step().unwrap();\n"
    "    losses.push(loss.item::<f32>() as f64);\n"
    "}\n"
    "println!(\"1 epoch, {} steps in {:.2} s, mean loss {:.4}\", losses.len(), started.elapsed().as_secs_f64(),\n"
    "         losses.iter().sum::<f64>() / losses.len() as f64);",
    "model.eval();\n"
    "let test_x = data.test_images_f32().reshape([10000, 784]);\n"
    "let pred = no_grad(|| model.forward(&test_x)).argmax(-1, false);\n"
    "let correct = pred.eq(&data.test_labels).to_dtype(DType::I64).sum_all().item::<i64>();\n"
    "println!(\"test accuracy: {:.2}%\", correct as f64 / 100.0);",
    "let steps: Vec<f64> = (0..losses.len()).map(|i| i as f64).collect();\n"
    "Figure::new().title(\"training loss\").line(&steps, &losses, \"cross-entropy\")",
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
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    acc = re.search(r"test accuracy: ([0-9.]+)%", text)
    if not acc or float(acc.group(1)) < 80.0:
        sys.exit(f"the MLP did not reach 80% test accuracy: {acc.group(0) if acc else 'no accuracy printed'}")
    print(f"notebook ran through the Born kernel in {time.monotonic() - t0:.1f} s; "
          f"MLP test accuracy {acc.group(1)}% after 1 epoch; executed copy: {OUT}")


if __name__ == "__main__":
    main()
