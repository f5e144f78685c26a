"""jupyter_kernel_test against the Born kernel: every test the package offers.

Run: .venv/bin/python -m unittest tests/jupyter/test_kernel.py (after building the
release kernel; _born installs its kernelspec into a temp prefix).
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _born  # noqa: E402

import jupyter_kernel_test as jkt  # noqa: E402


class BornKernelTests(jkt.KernelTests):
    kernel_name = _born.KERNEL
    language_name = "rust"
    file_extension = ".rs"

    @classmethod
    def setUpClass(cls):
        _born.warm_up()
        super().setUpClass()
        # jupyter_kernel_test gives each cell 15 s. The first engine cell of a fresh kernel
        # loads the engine into the cell process (seconds; more on a busy 2-core CI machine,
        # where test_clear_output, the first test, once ran past 15 s): pay it here.
        _born.warm_kernel(cls.kc)

    code_hello_world = 'println!("hello, world");'
    code_stderr = 'eprintln!("something went wrong");'

    completion_samples = [
        # A name defined in the cell, a std path (rust-analyzer), an associated fn of Tensor.
        {"text": "let born_unique_name = 1;\nborn_unique_na", "matches": {"born_unique_name"}},
        {"text": "use std::collections::HashM", "matches": {"HashMap"}},
        {"text": "Tensor::zer"},
    ]

    complete_code_samples = ["1 + 2", "let x = 5;", "fn f() -> i32 {\n    1\n}", ":vars"]
    incomplete_code_samples = ["fn f() {", "let v = vec![1,\n", "let s = \"open"]
    invalid_code_samples = ["fn f() }", "let x = (1]; "]

    # A compile error: exactly one `error` message, no stream output.
    code_generate_error = 'let x: i32 = "not a number";'

    code_execute_result = [
        {"code": "1 + 2", "result": "3"},
        {"code": "let a = 6; a * 7", "result": "42"},
    ]

    code_display_data = [
        {"code": "show(&Tensor::zeros([2, 2], DType::F32));", "mime": "text/html"},
        {"code": "show(&Tensor::zeros([2, 2], DType::F32));", "mime": "text/plain"},
    ]

    code_history_pattern = "1?+?2"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "Tensor::zeros"

    code_clear_output = 'born::display::clear_output(); println!("after clear");'


class BornIopubWelcomeTests(jkt.IopubWelcomeTests):
    kernel_name = _born.KERNEL
    support_iopub_welcome = True

    @classmethod
    def setUpClass(cls):
        _born.setup_env()
        super().setUpClass()


if __name__ == "__main__":
    unittest.main(verbosity=2)
