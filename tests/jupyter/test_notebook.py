"""A small notebook run through nbclient on the Born kernel: tensors show as HTML tables,
figures as images, and the saved outputs hold those mime types."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _born  # noqa: E402

import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

CELLS = [
    "let t = Tensor::arange(0.0, 6.0, 1.0, DType::F32).reshape([2, 3]);\nt",
    "show(&(&t * 2.0));",
    'println!("sum = {}", t.sum(1, false));',
    "let xs: Vec<f64> = (0..20).map(|i| i as f64 / 4.0).collect();\n"
    "let ys: Vec<f64> = xs.iter().map(|x| x.sin()).collect();\n"
    'Figure::new().title("sin").line(&xs, &ys, "sin(x)")',
]


class NotebookTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        _born.warm_up()

    def test_run_notebook(self):
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": _born.KERNEL, "display_name": "Born (Rust)", "language": "rust"}
        nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
        NotebookClient(nb, kernel_name=_born.KERNEL, timeout=300, startup_timeout=120).execute()
        # Round-trip through the file format, as a saved notebook.
        nb = nbformat.reads(nbformat.writes(nb), as_version=4)
        nbformat.validate(nb)
        self.assertEqual(nb.metadata["language_info"]["name"], "rust")

        def mimes(i):
            return {k for o in nb.cells[i].outputs for k in o.get("data", {})}

        for i, cell in enumerate(nb.cells):
            self.assertFalse([o for o in cell.outputs if o.output_type == "error"], f"cell {i} failed")
            self.assertEqual(cell.execution_count, i + 1)
        self.assertIn("text/html", mimes(0), "a tensor result shows as an HTML table")
        self.assertEqual(nb.cells[0].outputs[0].output_type, "execute_result")
        self.assertIn("text/html", mimes(1), "show(&tensor) sends display_data with HTML")
        self.assertIn("sum = ", "".join(o.get("text", "") for o in nb.cells[2].outputs))
        self.assertTrue(mimes(3) & {"image/png", "image/svg+xml"}, f"figure mimes: {mimes(3)}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
