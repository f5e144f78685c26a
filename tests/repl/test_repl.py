"""born-repl in a pseudo-terminal (pexpect): multi-line input, a tensor, a compile error
then a working cell, Ctrl-C during an endless loop, history after a restart, a figure
drawn as Unicode blocks when the terminal has no image protocol, and the non-interactive
modes (--eval, a script file) with their exit status.

Needs the release binary (`cargo build --release -p born-kernel`); the engine that cells
link is built once in $BORN_CACHE_DIR (as for the Jupyter tests).
"""
import os
import re
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import pexpect

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "jupyter"))
import _born  # noqa: E402

REPL = _born.ROOT / "target" / "release" / "born-repl"
# A fresh prompt: rustyline starts each read by enabling bracketed paste (ESC[?2004h), then
# draws "born> "; its redraws while typing draw the prompt without that.
PROMPT = re.compile(r"\x1b\[\?2004h(?:\x1b\[[0-9;?]*[A-Za-z]|\r)*born> ")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def plain(text):
    return ANSI.sub("", text)


class Repl:
    """One born-repl process in a pty."""

    def __init__(self, history):
        env = dict(os.environ, BORN_REPL_HISTORY=str(history), TERM="xterm-256color", COLUMNS="80")
        env.pop("BORN_IMAGE_PROTOCOL", None)
        self.p = pexpect.spawn(str(REPL), env=env, encoding="utf-8", timeout=180, dimensions=(40, 100))
        self.p.expect(PROMPT)

    def run(self, line, timeout=180):
        """Sends a line; returns what came before the next prompt, without colours."""
        self.p.sendline(line)
        self.p.expect(PROMPT, timeout=timeout)
        return plain(self.p.before)

    def close(self):
        self.p.sendeof()
        self.p.expect(pexpect.EOF, timeout=30)


class ReplTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        _born.setup_env()
        _born.warm_up()
        if not REPL.exists():
            subprocess.run(["cargo", "build", "--release", "-p", "born-kernel"], cwd=_born.ROOT, check=True)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.history = Path(cls.tmp.name) / "history"
        cls.repl = Repl(cls.history)

    @classmethod
    def tearDownClass(cls):
        cls.repl.close()
        cls.tmp.cleanup()

    def test_1_multi_line_function(self):
        p = self.repl.p
        p.sendline("fn add(a: i32, b: i32) -> i32 {")
        p.sendline("    a + b")
        p.sendline("}")
        p.expect(PROMPT, timeout=180)
        self.assertIn("5", self.repl.run("add(2, 3)").splitlines()[-1])

    def test_2_tensor_is_printed(self):
        out = self.repl.run("Tensor::arange(0.0, 6.0, 1.0, DType::F32).reshape([2, 3])")
        # NumPy-like rows, then shape, dtype and device.
        self.assertRegex(out, r"\[\[\s*0\.?,\s*1\.?,\s*2\.?\],\s*\n\s*\[\s*3\.?,\s*4\.?,\s*5\.?\]\]")
        self.assertIn("[2, 3]", out)
        self.assertIn("f32", out)

    def test_3_compile_error_then_a_working_cell(self):
        out = self.repl.run('let broken: i32 = "text";')
        self.assertIn("mismatched types", out)
        self.assertIn("42", self.repl.run("6 * 7"))

    def test_4_ctrl_c_stops_a_loop_and_keeps_variables(self):
        self.repl.run("let kept = 7i64;")
        p = self.repl.p
        p.sendline("loop { (&Tensor::ones([64], DType::F32) + 1.0).realize(); }")
        time.sleep(8)  # the cell compiles, then loops
        t0 = time.monotonic()
        p.sendintr()
        p.expect(PROMPT, timeout=60)
        self.assertIn("Interrupted", plain(p.before))
        print(f"\n  Ctrl-C to prompt: {time.monotonic() - t0:.2f} s", file=sys.stderr)
        self.assertIn("42", self.repl.run("kept * 6"))
        # Regression: the terminal's SIGINT also reached the cell process, and arriving after
        # the cell had stopped it interrupted the next engine call.
        time.sleep(1)
        out = self.repl.run("(&Tensor::ones([2], DType::F32) + 1.0).sum_all()")
        self.assertNotIn("interrupted", out)
        self.assertIn("tensor(4", out)

    def test_5_figure_as_unicode_blocks_without_an_image_protocol(self):
        out = self.repl.run('Figure::new().title("squares").line(&[0.0, 1.0, 2.0, 3.0], &[0.0, 1.0, 4.0, 9.0], "y")')
        self.assertIn("\u2580", out)
        saved = re.search(r"\[saved (\S+\.png)\]", out)
        self.assertIsNotNone(saved, out[-500:])
        self.assertTrue(Path(saved.group(1)).read_bytes().startswith(b"\x89PNG"))
        target = Path(self.tmp.name) / "fig.svg"
        self.assertIn("saved", self.repl.run(f":save {target}"))
        self.assertIn("<svg", target.read_text())

    def test_7_a_live_display_is_redrawn_in_place(self):
        self.repl.p.sendline("let mut d = LiveDisplay::new(&Tensor::scalar(1.0)); "
                             "for i in 2..=3 { d.update(&Tensor::scalar(i as f64)); }")
        self.repl.p.expect(PROMPT, timeout=180)
        raw = self.repl.p.before
        # Each update moves up over the previous drawing and clears it: ESC[1F ESC[J.
        self.assertEqual(raw.count("\x1b[1F\x1b[J"), 2, repr(raw[-400:]))
        self.assertIn("tensor(3", raw)

    def test_8_tab_completes_tensor_methods_and_variables(self):
        self.repl.run("let completion_target = Tensor::ones([2], DType::F32);")
        p = self.repl.p
        p.send("completion_tar\t")
        p.expect_exact("completion_target", timeout=30)
        p.send(".sum_a\t")
        p.expect_exact("sum_all", timeout=30)
        p.send("()\r")
        p.expect(PROMPT, timeout=180)
        self.assertIn("tensor(2", plain(p.before))

    def test_6_history_is_recalled_after_a_restart(self):
        self.repl.run("let recalled = 40 + 2; recalled")
        other = Repl(self.history)
        try:
            other.p.send("\x1b[A")  # up arrow: the last line of the first REPL
            other.p.send("\r")
            other.p.expect(PROMPT, timeout=180)
            self.assertIn("42", plain(other.p.before))
        finally:
            other.close()


class OnceTests(unittest.TestCase):
    def setUp(self):
        _born.setup_env()

    def run_repl(self, *args):
        return subprocess.run([str(REPL), *args], capture_output=True, text=True, timeout=300)

    def test_eval_prints_and_exits_zero(self):
        r = self.run_repl("--eval", 'println!("{}", 6 * 7); (&Tensor::ones([3], DType::F32) * 2.0).sum_all()')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("42", r.stdout)
        self.assertIn("6", r.stdout)

    def test_a_failing_script_exits_one(self):
        with tempfile.NamedTemporaryFile("w", suffix=".rs", delete=False) as f:
            f.write('fn half(x: f64) -> f64 { x / 2.0 }\nprintln!("{}", half(3.0));\nlet bad: i32 = "no";\n')
        try:
            r = self.run_repl(f.name)
        finally:
            os.unlink(f.name)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("mismatched types", r.stderr)


if __name__ == "__main__":
    unittest.main()
