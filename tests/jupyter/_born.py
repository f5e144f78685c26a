"""Shared setup for the Born kernel's Jupyter tests.

Installs the kernelspec for the release binary (target/release/born-kernel) into a
temporary prefix and points JUPYTER_PATH at it, so the tests never use a user's install.
BORN_CACHE_DIR defaults to target/born-cache: the engine the session compiles for cells
(minutes on a small machine, the first time) is reused across test files and CI steps.
"""
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("BORN_KERNEL_BIN", ROOT / "target" / "release" / "born-kernel"))
KERNEL = "born"
# The first start compiles the engine for cells; everything after that is quick.
WARM_TIMEOUT = float(os.environ.get("BORN_WARM_TIMEOUT", "1800"))

_prefix = None


def setup_env():
    """Installs the kernelspec into a temp prefix (once per process); returns the prefix."""
    global _prefix
    if _prefix is not None:
        return _prefix
    if not BIN.exists():
        sys.exit(f"{BIN} is missing: run `cargo build --release -p born-kernel` first")
    _prefix = Path(tempfile.mkdtemp(prefix="born-jupyter-"))
    atexit.register(shutil.rmtree, _prefix, ignore_errors=True)
    subprocess.run([str(BIN), "install", "--prefix", str(_prefix)], check=True, stdout=subprocess.DEVNULL)
    os.environ["JUPYTER_PATH"] = str(_prefix / "share" / "jupyter")
    runtime = _prefix / "runtime"
    runtime.mkdir()
    os.environ["JUPYTER_RUNTIME_DIR"] = str(runtime)
    os.environ.setdefault("BORN_CACHE_DIR", str(ROOT / "target" / "born-cache"))
    return _prefix


_warm = False


def warm_up():
    """Starts a kernel once and runs a cell that uses the engine, with a long timeout, so the
    engine build (first use of the cache dir) happens here and not inside a 15 s test timeout."""
    global _warm
    if _warm:
        return
    setup_env()
    from jupyter_client.manager import start_new_kernel

    t0 = time.monotonic()
    km, kc = start_new_kernel(kernel_name=KERNEL, startup_timeout=120)
    try:
        run_warm_cell(kc)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    dt = time.monotonic() - t0
    if dt > 20:
        print(f"[born] warm-up (engine build for cells) took {dt:.0f} s", file=sys.stderr)
    _warm = True


def run_warm_cell(kc):
    """One engine cell in kernel `kc`, with the long warm-up timeout."""
    reply = kc.execute_interactive("let _born_warm = Tensor::ones([1], DType::F32);",
                                   timeout=WARM_TIMEOUT, output_hook=lambda m: None)
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"warm-up cell failed: {reply['content']}")


def warm_kernel(kc):
    """Runs one engine cell in a started kernel with a long timeout, so its first-cell cost
    (loading the engine into the cell process) is not paid inside a test's short timeout."""
    t0 = time.monotonic()
    run_warm_cell(kc)
    dt = time.monotonic() - t0
    if dt > 10:
        print(f"[born] first engine cell of a fresh kernel took {dt:.0f} s", file=sys.stderr)


def start_kernel():
    """A fresh started kernel: (KernelManager, BlockingKernelClient), ready."""
    setup_env()
    from jupyter_client.manager import start_new_kernel

    return start_new_kernel(kernel_name=KERNEL, startup_timeout=120)


def run_cell(kc, code, timeout=60, **kw):
    """Executes code; returns (reply content, list of iopub messages for it before idle)."""
    msgs = []
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=msgs.append, **kw)
    return reply["content"], msgs


def stdout_of(msgs):
    return "".join(m["content"]["text"] for m in msgs
                   if m["msg_type"] == "stream" and m["content"]["name"] == "stdout")


class KernelCase(unittest.TestCase):
    """A test class sharing one warm, started Born kernel (`self.km`, `self.kc`)."""

    # Shut the kernel down at once instead of asking it (a class that stresses the kernel
    # may not wait for a polite shutdown).
    shutdown_now = False

    @classmethod
    def setUpClass(cls):
        warm_up()
        cls.km, cls.kc = start_kernel()

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel(now=cls.shutdown_now)

    def run_cell(self, code, timeout=60):
        return run_cell(self.kc, code, timeout=timeout)

