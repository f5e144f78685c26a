"""The browser test: JupyterLab in headless Chromium opens a new Born notebook and runs a cell.

Starts a real JupyterLab server (the venv's, on 127.0.0.1, a free port, a random token,
every Jupyter directory in a temp dir, the Born kernelspec for target/release/born-kernel
installed by tests/jupyter/_born.py), then runs new_notebook.mjs (playwright-core driving
Debian's /usr/bin/chromium): click the Born tile in the launcher, type a cell that shows a
tensor and a figure, Shift+Enter, check the HTML table and the image are in the page. The
screenshot is kept in target/test-artifacts/browser/new-notebook.png, pass or fail. While
the server starts, one kernel runs an engine cell through jupyter_client (_born.warm_up), so a
cold cell cache (the engine built for cells: minutes) is built outside the browser's timeouts.

Needs chromium, node and npm (`bash install/deps.sh --test` installs them); runs `npm ci`
here when node_modules is missing. Afterwards every process the test started (server,
kernels, their cell processes, Chromium) must be gone: they all carry a marker variable in
their environment, and any left running are killed and reported as an error.

    .venv/bin/python -m unittest discover -s tests/browser -v
"""
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests" / "jupyter"))
import _born  # noqa: E402  (the shared kernelspec and warm-up helpers of the Jupyter tests)

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCREENSHOT = ROOT / "target" / "test-artifacts" / "browser" / "new-notebook.png"
# The first engine cell of a fresh kernel takes 10-30 s on 2 cores; more under load.
CELL_TIMEOUT = int(os.environ.get("BORN_BROWSER_CELL_TIMEOUT", "180"))
SERVER_TIMEOUT = 120  # seconds for JupyterLab to answer
MARKER = "BORN_BROWSER_TEST"  # in the environment of every process this test starts
INSTALL_HINT = "run `bash install/deps.sh --test` (as root) to install the browser test's packages"


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, lines=40):
    """The last lines of a log file, for failure messages."""
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def marked_processes(marker_value):
    """(pid, command line) of the processes whose environment holds MARKER=marker_value."""
    needle = f"{MARKER}={marker_value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.append((int(entry.name), cmd.strip()))
        except OSError:  # gone meanwhile, or not ours to read
            pass
    return found


class BrowserTest(unittest.TestCase):
    def setUp(self):
        missing = [name for name, ok in (("chromium", os.access(CHROMIUM, os.X_OK)),
                                         ("node", shutil.which("node")),
                                         ("npm", shutil.which("npm"))) if not ok]
        if missing:
            self.fail(f"missing {', '.join(missing)}: {INSTALL_HINT}")
        if not (HERE / "node_modules" / "playwright-core").is_dir():
            print("[browser] npm ci (playwright-core, no browser download)", file=sys.stderr)
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True)

        _born.setup_env()  # Born's kernelspec in a temp prefix (JUPYTER_PATH), BORN_CACHE_DIR
        self.tmp = Path(tempfile.mkdtemp(prefix="born-browser-"))
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        # Registered before anything starts, so it runs last: after the server has stopped.
        self.addCleanup(self.check_no_leftovers)
        for d in ("config/labconfig", "data", "runtime", "root", "node-tmp"):
            (self.tmp / d).mkdir(parents=True)
        # A fresh JupyterLab profile opens on the launcher; no "Jupyter news?" toast over the page.
        (self.tmp / "config" / "labconfig" / "page_config.json").write_text(json.dumps(
            {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
        self.env = dict(os.environ,
                        JUPYTER_CONFIG_DIR=str(self.tmp / "config"),
                        JUPYTER_DATA_DIR=str(self.tmp / "data"),
                        JUPYTER_RUNTIME_DIR=str(self.tmp / "runtime"),
                        **{MARKER: str(self.tmp)})

    def start_server(self):
        """Starts JupyterLab in its own process group; returns (process, base URL, token)."""
        port, token = free_port(), secrets.token_hex(16)
        self.server_log = self.tmp / "jupyter.log"
        with open(self.server_log, "wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
                 "--ip", "127.0.0.1", "--port", str(port), "--ServerApp.port_retries=0",
                 f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={self.tmp / 'root'}"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        self.addCleanup(self.stop_server, server, f"http://127.0.0.1:{port}", token)
        return server, f"http://127.0.0.1:{port}", token

    def wait_for_server(self, server, base, token):
        """Polls /api/status until the server answers; fails if it exits or takes too long."""
        deadline = time.monotonic() + SERVER_TIMEOUT
        request = urllib.request.Request(f"{base}/api/status", headers={"Authorization": f"token {token}"})
        while True:
            if server.poll() is not None:
                self.fail(f"JupyterLab exited with {server.returncode}:\n{tail(self.server_log)}")
            try:
                with urllib.request.urlopen(request, timeout=5) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                self.fail(f"JupyterLab did not answer within {SERVER_TIMEOUT} s:\n{tail(self.server_log)}")
            time.sleep(0.5)

    def stop_server(self, server, base, token):
        """Asks the server to shut down (it stops its kernels first), then ends its process group."""
        if server.poll() is None:
            request = urllib.request.Request(f"{base}/api/shutdown", method="POST",
                                             headers={"Authorization": f"token {token}"})
            try:
                urllib.request.urlopen(request, timeout=10).close()
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(server.pid, sig)  # the group is the server's own (start_new_session)
            except ProcessLookupError:
                break
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                continue

    def check_no_leftovers(self):
        """Fails if any process started for this test is still running (after killing it)."""
        deadline = time.monotonic() + 10  # kernels exit a moment after the server asked them to
        while (left := marked_processes(self.tmp)) and time.monotonic() < deadline:
            time.sleep(0.5)
        for pid, _ in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if left:
            raise AssertionError("processes left running after the test (now killed):\n"
                                 + "\n".join(f"  {pid} {cmd[:160]}" for pid, cmd in left))

    def test_new_notebook_shows_tensor_and_figure(self):
        t0 = time.monotonic()
        server, base, token = self.start_server()
        # While JupyterLab starts: one kernel runs an engine cell through jupyter_client, so a
        # cold cell cache (the engine built for cells: minutes) is built here, with the Jupyter
        # tests' long timeout, and not inside the browser's cell timeout.
        _born.warm_up()
        print(f"[browser] engine warm-up: {time.monotonic() - t0:.1f} s", file=sys.stderr)
        self.wait_for_server(server, base, token)
        print(f"[browser] JupyterLab answering: {time.monotonic() - t0:.1f} s", file=sys.stderr)

        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        SCREENSHOT.unlink(missing_ok=True)
        # TMPDIR: Chromium's profile goes into the temp dir, and goes with it.
        env = dict(self.env, TMPDIR=str(self.tmp / "node-tmp"), CHROMIUM=CHROMIUM)
        command = ["node", "new_notebook.mjs", "--url", f"{base}/lab?token={token}",
                   "--screenshot", str(SCREENSHOT), "--cell-timeout", str(CELL_TIMEOUT)]
        driver = subprocess.Popen(command, cwd=HERE, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, start_new_session=True)
        # The driver has its own timeouts; this one only stops a driver that hangs.
        watchdog = threading.Timer(CELL_TIMEOUT + 300, os.killpg, (driver.pid, signal.SIGKILL))
        watchdog.start()
        lines = []
        for line in driver.stdout:  # shown as it comes, kept for the verdict
            sys.stderr.write(line)
            lines.append(line)
        driver.stdout.close()
        driver.wait()
        watchdog.cancel()
        output = "".join(lines)
        if driver.returncode == -signal.SIGKILL:
            output += "\nFAIL: the browser driver did not finish in time (killed)"
        print(f"[browser] test: {time.monotonic() - t0:.1f} s; screenshot: {SCREENSHOT}", file=sys.stderr)
        if driver.returncode != 0:
            at = output.rfind("FAIL:")  # the driver's verdict runs to the end of its output
            verdict = output[at:].strip() if at >= 0 else f"the driver exited with {driver.returncode}"
            self.fail(f"{verdict}\n"
                      f"screenshot: {SCREENSHOT}\nJupyterLab's log:\n{tail(self.server_log)}")
        self.assertGreater(SCREENSHOT.stat().st_size, 0, "empty screenshot")


if __name__ == "__main__":
    unittest.main()
