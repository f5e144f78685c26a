"""The tutorial notebooks, executed through the Born kernel by papermill (as a user's
`papermill` run or the main job would), each checked for what it teaches.

Run: .venv/bin/python -m unittest discover -s tests/notebooks -v (after building the
release kernel; the kernelspec goes into a temp prefix, as in tests/jupyter). Small epoch
counts come in through each notebook's `parameters` cell.
"""
import importlib.util
import os
import re
import sys
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "jupyter"))
import _born  # noqa: E402

spec = importlib.util.spec_from_file_location("run_notebook", ROOT / "install" / "run-notebook.py")
run_notebook = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_notebook)

OUT = ROOT / "target" / "test-notebooks"


def outputs(nb):
    """Every output of every cell: [(cell index, output)]."""
    return [(i, o) for i, c in enumerate(nb.cells) for o in c.get("outputs", [])]


def text(nb):
    return "".join(t for _, t in run_notebook.text_of(nb))


def images(nb):
    return [o for _, o in outputs(nb) if "image/png" in o.get("data", {}) or "image/svg+xml" in o.get("data", {})]


class Tutorials(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        _born.setup_env()
        _born.warm_up()

    def run_notebook(self, name, **params):
        nb, _ = run_notebook.run(ROOT / "notebooks" / name, params, OUT / name, timeout=600)
        errors = [o for _, o in outputs(nb) if o.get("output_type") == "error"]
        self.assertEqual(errors, [], f"{name}: a cell failed")
        return nb

    def test_01_tensors_shows_tables_images_and_one_fused_kernel(self):
        nb = self.run_notebook("01-tensors.ipynb")
        t = text(nb)
        htmls = [o for _, o in outputs(nb) if "text/html" in o.get("data", {})]
        self.assertGreaterEqual(len(htmls), 3, "tensors as HTML tables")
        self.assertGreaterEqual(len(images(nb)), 2, "the heatmap and the image grid")
        self.assertIn("error: matmul: shapes [2, 3] and [2, 3]", t, "the shape error names the op and both shapes")
        # The chain and its reduction: one kernel.
        self.assertRegex(t, r"schedule: 1 kernel\(s\)")
        self.assertIn("reduce sum of fused [mul, add, maximum, mul]", t)
        if os.environ.get("BORN_REQUIRE_GPU") == "1":
            self.assertIn("computed on gpu:0", t)
        self.assertNotIn("XDG_RUNTIME_DIR", t, "Mesa's warning kept out of the cells")

    def test_02_autograd_gradients_match_and_the_line_fits(self):
        nb = self.run_notebook("02-autograd.ipynb")
        t = text(nb)
        self.assertIn("y = 14, dy/dx = 13", t)
        pairs = re.findall(r"autograd ([-+0-9.]+), finite differences ([-+0-9.]+)", t)
        self.assertEqual(len(pairs), 3)
        for a, n in pairs:
            self.assertAlmostEqual(float(a), float(n), delta=1e-6)
        m = re.search(r"w = ([-0-9.]+) \(true 3\), b = ([-0-9.]+) \(true -2\)", t)
        self.assertIsNotNone(m, t[-1500:])
        self.assertAlmostEqual(float(m.group(1)), 3.0, delta=0.2)
        self.assertAlmostEqual(float(m.group(2)), -2.0, delta=0.2)
        self.assertGreaterEqual(len(images(nb)), 2, "the live loss curve and the fit")

    def test_03_mnist_mlp_trains_and_shows_its_mistakes(self):
        # The default dataset, MNIST: downloaded where there is a network, else (CI, this
        # sandbox) the notebook must say so and train on Fashion-MNIST.
        nb = self.run_notebook("03-mnist-mlp.ipynb", epochs=1)
        t = text(nb)
        m = re.search(r"(MNIST|Fashion-MNIST): test accuracy ([0-9.]+)% after 1 epoch\b", t)
        self.assertIsNotNone(m, t[-2000:])
        if m.group(1) == "MNIST":
            self.assertGreaterEqual(float(m.group(2)), 94.0)
        else:
            self.assertIn("MNIST is not available here", t)
            self.assertIn("Falling back to Fashion-MNIST", t)
            self.assertGreaterEqual(float(m.group(2)), 80.0)
        # The sample grid, the live loss and accuracy plots, the confusion heatmap, the
        # misclassified grid.
        self.assertGreaterEqual(len(images(nb)), 5)
        self.assertIn("938/938", t, "the progress bar reached the end of the epoch")
        # The confusion matrix counts each of the 10000 test images once.
        table = t[t.index("rows: true class"):]
        counts = [int(v) for v in re.findall(r"\d+", table.split("tensor(", 1)[1].split("shape=")[0])]
        self.assertEqual(len(counts), 100)
        self.assertEqual(sum(counts), 10000)

    def test_04_mnist_cnn_trains_and_shows_its_filters(self):
        # A fifth of an epoch's worth of images keeps this under a minute on 2 cores.
        nb = self.run_notebook("04-mnist-cnn.ipynb", dataset="fashion-mnist", epochs=1, train_images=6000)
        t = text(nb)
        # auto never picks Mesa's software GPU.
        self.assertIn("device: cpu", t)
        m = re.search(r"Fashion-MNIST: CNN test accuracy ([0-9.]+)% after 1 epoch on cpu", t)
        self.assertIsNotNone(m, t[-2000:])
        self.assertGreaterEqual(float(m.group(1)), 70.0)
        self.assertIn("94/94", t, "the progress bar reached the end of the epoch")
        self.assertIn("feature maps [1, 32, 26, 26]", t)
        # Filters before and after, the loss curve, the feature maps.
        self.assertGreaterEqual(len(images(nb)), 4)

    def test_05_counts_one_submit_a_step_and_shows_fusion(self):
        nb = self.run_notebook("05-gpu-and-laziness.ipynb")
        t = text(nb)
        self.assertRegex(t, r"schedule: 1 kernel\(s\)")
        m = re.search(r"fused ([0-9.]+) ms, one op at a time ([0-9.]+) ms", t)
        self.assertIsNotNone(m, t[-2000:])
        if os.environ.get("BORN_REQUIRE_GPU") == "1":
            # After the first step: one submit, nothing compiled, allocated or read back.
            for step in (2, 3):
                self.assertIn(f"step {step}: 1 submit(s)", t)
                self.assertRegex(t, rf"step {step}: 1 submit\(s\), \d+ dispatches, 0 pipelines compiled, "
                                    r"0 buffers allocated, 0 bytes read back")
            self.assertRegex(t, r"reading the last loss \([0-9.]+\): [1-9]\d* bytes read back")

    def test_06_attention_learns_the_task_and_its_maps_are_distributions(self):
        nb = self.run_notebook("06-attention.ipynb", steps=200)
        t = text(nb)
        m = re.search(r"accuracy on 2000 new sequences: ([0-9.]+)%", t)
        self.assertIsNotNone(m, t[-2000:])
        self.assertGreaterEqual(float(m.group(1)), 90.0)
        m = re.search(r"every row sums to 1 \(largest deviation ([0-9.e+-]+)\)", t)
        self.assertIsNotNone(m)
        self.assertLess(float(m.group(1)), 1e-5)
        m = re.search(r"match the mean of the maps: largest difference ([0-9.e+-]+)", t)
        self.assertLess(float(m.group(1)), 1e-5)
        self.assertEqual(t.count("rows = query positions"), 4, "one map per head")
        self.assertGreaterEqual(len(images(nb)), 5, "the loss curve and four maps")


if __name__ == "__main__":
    unittest.main(verbosity=2)
