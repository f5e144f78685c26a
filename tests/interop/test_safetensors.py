"""Born's saved parameters against Python's `safetensors` (the library PyTorch and Hugging Face
load them with) and NumPy: names, shapes and dtypes as PyTorch's `nn.Sequential` of `nn.Linear`
has them, the same test accuracy when NumPy runs the model, and a file written by Python that
Born loads and evaluates to NumPy's accuracy.

Needs the release example `target/release/examples/mnist_mlp` (built by this test if missing)
and Debian's Fashion-MNIST (`dataset-fashion-mnist`).
"""
import gzip
import os
import re
import subprocess
import tempfile
import unittest
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "target" / "release" / "examples" / "mnist_mlp"
FASHION = Path("/usr/share/datasets/fashion-mnist")


def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def numpy_accuracy(params, images, labels):
    x = images.reshape(len(images), -1).astype(np.float32) / 255.0
    h = np.maximum(x @ params["0.weight"].T + params["0.bias"], 0.0)
    logits = h @ params["2.weight"].T + params["2.bias"]
    return float((logits.argmax(1) == labels).mean())


def run_example(*args):
    r = subprocess.run([str(EXAMPLE), "--dataset", "fashion-mnist", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"mnist_mlp {args} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def last_accuracy(stdout):
    return float(re.findall(r"test acc ([0-9.]+)%", stdout)[-1]) / 100


class SafetensorsInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not EXAMPLE.exists():
            subprocess.run(["cargo", "build", "--release", "-p", "born", "--example", "mnist_mlp"],
                           cwd=ROOT, check=True)
        cls.test_x = idx(FASHION / "t10k-images-idx3-ubyte.gz")
        cls.test_y = idx(FASHION / "t10k-labels-idx1-ubyte.gz")
        cls.tmp = tempfile.TemporaryDirectory()
        cls.saved = os.path.join(cls.tmp.name, "born-mlp.safetensors")
        cls.stdout = run_example("--epochs", "1", "--save", cls.saved)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_born_file_has_pytorch_names_shapes_and_dtypes(self):
        params = load_file(self.saved)
        self.assertEqual({k: (v.shape, v.dtype) for k, v in params.items()}, {
            "0.weight": ((128, 784), np.float32), "0.bias": ((128,), np.float32),
            "2.weight": ((10, 128), np.float32), "2.bias": ((10,), np.float32)})

    def test_numpy_runs_born_weights_to_born_accuracy(self):
        born_acc = last_accuracy(self.stdout)
        self.assertGreater(born_acc, 0.75)
        np_acc = numpy_accuracy(load_file(self.saved), self.test_x, self.test_y)
        # Born prints two decimals of a percent; a float-order tie could move one image.
        self.assertAlmostEqual(np_acc, born_acc, delta=0.00015)

    def test_born_loads_a_file_python_wrote(self):
        params = load_file(self.saved)
        rng = np.random.default_rng(0)
        # Swap hidden units and add noise: a model Born has never seen.
        perm = rng.permutation(128)
        changed = {
            "0.weight": params["0.weight"][perm] + rng.normal(0, 0.02, (128, 784)).astype(np.float32),
            "0.bias": params["0.bias"][perm],
            "2.weight": np.ascontiguousarray(params["2.weight"][:, perm]),
            "2.bias": params["2.bias"],
        }
        path = os.path.join(self.tmp.name, "python-mlp.safetensors")
        save_file(changed, path)
        born_acc = last_accuracy(run_example("--epochs", "0", "--load", path))
        np_acc = numpy_accuracy(changed, self.test_x, self.test_y)
        self.assertAlmostEqual(born_acc, np_acc, delta=0.00015)


if __name__ == "__main__":
    unittest.main()
