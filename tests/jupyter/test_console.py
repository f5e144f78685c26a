"""`jupyter console --kernel born` in a pseudo-terminal (pexpect): a function typed over
several lines (the kernel's is_complete tells the console that the cell goes on), then calls
to it, then Ctrl-D."""
import os
import sys
import unittest
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _born  # noqa: E402

import pexpect  # noqa: E402

ANSI = r"(?:\x1b\[[0-9;?]*[A-Za-z])*"  # colour and cursor codes prompt_toolkit puts between characters


def prompt(n):
    return rf"In \[{ANSI}{n}{ANSI}\]: "


class ConsoleTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        _born.warm_up()

    def test_multiline_cell(self):
        jupyter = Path(sys.executable).parent / "jupyter"
        env = dict(os.environ, TERM="xterm", PROMPT_TOOLKIT_NO_CPR="1")
        # is_complete waits for the session when it is still starting (default: 1 s, then the
        # console stops asking the kernel).
        args = ["console", "--kernel", _born.KERNEL, "--ZMQTerminalIPythonApp.confirm_exit=False",
                "--ZMQTerminalInteractiveShell.kernel_is_complete_timeout=120"]
        child = pexpect.spawn(str(jupyter), args, encoding="utf-8", timeout=120, env=env, dimensions=(40, 200))
        log = []
        child.logfile_read = _Log(log)
        try:
            child.expect(prompt(1))
            # Enter on an unfinished line opens a continuation line (auto-indented by the kernel's
            # suggestion); Enter after the closing brace runs the cell.
            child.send("fn add_three(a: i32, b: i32, c: i32) -> i32 {\r")
            child.expect(r"\.\.\.: ")
            child.send("a + b + c\r")
            child.expect(r"\.\.\.: ")
            child.send("}\r")
            child.expect(prompt(2))
            child.send('println!("total = {}", add_three(40, 1, 1));\r')
            child.expect("total = 42")
            child.expect(prompt(3))
            child.send("add_three(1, 2, 3)\r")
            child.expect(rf"Out\[{ANSI}3{ANSI}\]: {ANSI}6")
            child.expect(prompt(4))
            child.sendcontrol("d")  # `exit` would go to the kernel as Rust code; Ctrl-D ends the console
            child.expect(pexpect.EOF, timeout=30)
        except (pexpect.TIMEOUT, pexpect.EOF) as e:
            self.fail(f"console did not answer as expected ({type(e).__name__}); it showed:\n{''.join(log)!r}")
        finally:
            child.close(force=True)


class _Log:
    def __init__(self, sink):
        self.sink = sink

    def write(self, s):
        self.sink.append(s)

    def flush(self):
        pass


if __name__ == "__main__":
    unittest.main(verbosity=2)
