"""The main job's notebook: runs the MNIST tutorial (notebooks/03-mnist-mlp.ipynb) headless
through the Born kernel with papermill, prints its text outputs and the test accuracy, and
says where the executed notebook (with its figures) was written.

MNIST is downloaded from its public mirrors once (into ~/.cache/born/datasets); where that
is impossible the notebook says so and trains on Fashion-MNIST (Debian's
dataset-fashion-mnist package) instead. Exits non-zero if a cell fails or the accuracy is
below the floor for the dataset used (MNIST 95%, Fashion-MNIST 80%).

  .venv/bin/python install/main-job.py [-p NAME VALUE]...   (parameters as run-notebook.py)
"""
import argparse
import importlib.util
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "03-mnist-mlp.ipynb"
FLOOR = {"MNIST": 95.0, "Fashion-MNIST": 80.0}

spec = importlib.util.spec_from_file_location("run_notebook", ROOT / "install" / "run-notebook.py")
run_notebook = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_notebook)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    run_notebook.add_parameter_option(ap)
    params = run_notebook.parameters(ap.parse_args())
    t0 = time.monotonic()
    try:
        nb, out = run_notebook.run(NOTEBOOK, params)
    except run_notebook.papermill.PapermillExecutionError as e:
        sys.exit(f"{NOTEBOOK.name}: cell {e.cell_index} failed: {e.ename}: {e.evalue}")
    seconds = time.monotonic() - t0
    text = ""
    for i, t in run_notebook.text_of(nb):
        print(f"[cell {i}] " + t.strip().replace("\n", "\n    "))
        text += t
    m = re.search(r"(MNIST|Fashion-MNIST): test accuracy ([0-9.]+)% after (\d+) epochs?", text)
    if not m:
        sys.exit("the notebook printed no test accuracy")
    used, acc, epochs = m.group(1), float(m.group(2)), m.group(3)
    if acc < FLOOR[used]:
        sys.exit(f"{used}: test accuracy {acc}% is below {FLOOR[used]}%")
    print(f"\n{NOTEBOOK.relative_to(ROOT)} ran through the Born kernel in {seconds:.1f} s: "
          f"an MLP trained on {used} for {epochs} epoch{'' if epochs == '1' else 's'}, test accuracy {acc:.2f}%.\n"
          f"The executed notebook, with its figures: {out}")


if __name__ == "__main__":
    main()
