"""Protocol-level tests of the Born kernel with jupyter_client: signatures, bad input,
panics, interrupts, history, is_complete, start-up time and shutdown."""
import json
import os
import sys
import tempfile
import time
import unittest
import uuid
from queue import Empty

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _born  # noqa: E402

from jupyter_client.manager import KernelManager  # noqa: E402
from jupyter_client.session import Session  # noqa: E402


def shell_reply(kc, msg_id, timeout):
    """The shell reply whose parent is msg_id (other replies are skipped); None on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        rem = deadline - time.monotonic()
        if rem <= 0:
            return None
        try:
            msg = kc.get_shell_msg(timeout=rem)
        except Empty:
            return None
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg


def send_raw(kc, msg_type, content, *, key=None, raw_content=None):
    """Sends a shell message signed with `key` (the kernel's own key when None); content frame
    raw_content (bytes) replaces the JSON of content. Returns the msg_id."""
    s = kc.session if key is None else Session(key=key, username="mallory")
    msg = s.msg(msg_type, content)
    frames = [s.pack(msg["header"]), s.pack({}), s.pack({}),
              raw_content if raw_content is not None else s.pack(content)]
    signature = s.sign(frames)
    kc.shell_channel.socket.send_multipart([b"<IDS|MSG>", signature] + frames)
    return msg["header"]["msg_id"]


class ProtocolTests(_born.KernelCase):

    def test_forged_and_unsigned_messages_are_not_executed(self):
        marker = os.path.join(tempfile.gettempdir(), f"born-forged-{uuid.uuid4().hex}")
        code = f'std::fs::write({json.dumps(marker)}, "pwned").unwrap();'
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                   "allow_stdin": False, "stop_on_error": True}
        forged = send_raw(self.kc, "execute_request", content, key=b"not-the-key")
        unsigned = send_raw(self.kc, "execute_request", content, key=b"")
        self.assertIsNone(shell_reply(self.kc, forged, 2), "forged message answered")
        self.assertIsNone(shell_reply(self.kc, unsigned, 0.5), "unsigned message answered")
        # Properly signed requests still work, and the file was never written.
        reply, msgs = self.run_cell(f'std::path::Path::new({json.dumps(marker)}).exists()')
        self.assertEqual(reply["status"], "ok")
        results = [m for m in msgs if m["msg_type"] == "execute_result"]
        self.assertEqual(results[0]["content"]["data"]["text/plain"], "false")
        self.assertFalse(os.path.exists(marker))

    def test_malformed_and_unknown_messages(self):
        sock = self.kc.shell_channel.socket
        # No delimiter, too few frames: dropped.
        sock.send_multipart([b"garbage"])
        sock.send_multipart([b"<IDS|MSG>", b"sig", b"{}"])
        # Signed, but the content is not JSON (and not UTF-8): an error reply.
        bad = send_raw(self.kc, "execute_request", {}, raw_content=b'{"code": "\xff\xfe')
        reply = shell_reply(self.kc, bad, 10)
        self.assertIsNotNone(reply, "no reply to a malformed message")
        self.assertEqual(reply["content"]["status"], "error")
        # Unknown request type: an error reply of the matching type.
        mid = send_raw(self.kc, "frobnicate_request", {})
        reply = shell_reply(self.kc, mid, 10)
        self.assertIsNotNone(reply)
        self.assertEqual(reply["msg_type"], "frobnicate_reply")
        self.assertEqual(reply["content"]["status"], "error")
        # Still alive.
        mid = self.kc.kernel_info()
        self.assertIsNotNone(shell_reply(self.kc, mid, 10))
        reply, _ = self.run_cell("40 + 2")
        self.assertEqual(reply["status"], "ok")

    def test_panic_recovery(self):
        reply, _ = self.run_cell("let kept = 41u32;")
        self.assertEqual(reply["status"], "ok")
        reply, msgs = self.run_cell('panic!("boom");')
        self.assertEqual(reply["status"], "error")
        errors = [m for m in msgs if m["msg_type"] == "error"]
        self.assertEqual(len(errors), 1)
        self.assertIn("boom", errors[0]["content"]["evalue"] + "".join(errors[0]["content"]["traceback"]))
        reply, msgs = self.run_cell("kept + 1")
        self.assertEqual(reply["status"], "ok")
        self.assertEqual([m["content"]["data"]["text/plain"] for m in msgs if m["msg_type"] == "execute_result"],
                         ["42"])

    def interrupt_cell(self, code, wait=2.0):
        """Runs code, interrupts it after `wait` s; returns (reply content, seconds to reply)."""
        mid = self.kc.execute(code)
        time.sleep(wait)
        t0 = time.monotonic()
        self.km.interrupt_kernel()
        reply = shell_reply(self.kc, mid, 60)
        self.assertIsNotNone(reply, "no execute_reply after interrupt")
        return reply["content"], time.monotonic() - t0

    def test_interrupt_cooperative_keeps_variables(self):
        reply, _ = self.run_cell("let survivor = 7i64;")
        self.assertEqual(reply["status"], "ok")
        content, dt = self.interrupt_cell("loop { (&Tensor::ones([64], DType::F32) + 1.0).realize(); }")
        self.assertEqual(content["status"], "error")
        print(f"\n  cooperative interrupt: reply {dt * 1e3:.0f} ms after interrupt_request", file=sys.stderr)
        reply, msgs = self.run_cell("survivor * 6")
        self.assertEqual(reply["status"], "ok")
        self.assertIn("42", _born.stdout_of(msgs) + "".join(
            m["content"]["data"].get("text/plain", "") for m in msgs if m["msg_type"] == "execute_result"))

    def test_interrupt_endless_loop(self):
        content, dt = self.interrupt_cell("loop { }")
        self.assertEqual(content["status"], "error")
        print(f"\n  `loop {{}}` interrupt: reply {dt * 1e3:.0f} ms after interrupt_request", file=sys.stderr)
        reply, _ = self.run_cell("let again = 1 + 1; again")
        self.assertEqual(reply["status"], "ok")

    def iopub_for(self, msg_id, timeout=60):
        """The iopub messages for msg_id, up to its idle status."""
        msgs, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.kc.get_iopub_msg(timeout=deadline - time.monotonic())
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return msgs
            msgs.append(msg)
        self.fail(f"no idle status for {msg_id}")

    def test_input_request_round_trip(self):
        mid = self.kc.execute('print!("asking: "); let name = input("Your name: "); '
                              'let secret = born::input::password("Key: "); println!("hello {name} ({})", secret.len());',
                              allow_stdin=True)
        for prompt, password, answer in (("Your name: ", False, "Ada"), ("Key: ", True, "hunter2")):
            req = self.kc.get_stdin_msg(timeout=120)
            self.assertEqual(req["msg_type"], "input_request")
            self.assertEqual(req["parent_header"]["msg_id"], mid)
            self.assertEqual((req["content"]["prompt"], req["content"]["password"]), (prompt, password))
            self.kc.input(answer)
        reply = shell_reply(self.kc, mid, 60)
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        text = _born.stdout_of(self.iopub_for(mid))
        self.assertIn("asking: ", text)
        self.assertIn("hello Ada (7)", text)

    def test_input_without_allow_stdin_is_an_error(self):
        reply, msgs = _born.run_cell(self.kc, 'let n = input("n: ");', allow_stdin=False)
        self.assertEqual(reply["status"], "error")
        errors = [m["content"] for m in msgs if m["msg_type"] == "error"]
        self.assertIn("does not accept input", errors[0]["evalue"])

    def test_interrupt_while_waiting_for_input_keeps_variables(self):
        reply, _ = self.run_cell("let before_input = 40i64;")
        self.assertEqual(reply["status"], "ok")
        mid = self.kc.execute('let answer = input("waiting: ");', allow_stdin=True)
        self.assertEqual(self.kc.get_stdin_msg(timeout=120)["msg_type"], "input_request")
        self.km.interrupt_kernel()
        reply = shell_reply(self.kc, mid, 30)
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "Interrupted")
        # The interrupt was used up by the input: engine loops in the next cell run.
        reply, msgs = self.run_cell("(&Tensor::ones([4], DType::F32) + 1.0).sum_all().item::<f32>() as i64 + before_input")
        self.assertEqual(reply["status"], "ok", reply)
        self.assertIn("48", "".join(m["content"]["data"]["text/plain"] for m in msgs if m["msg_type"] == "execute_result"))

    def test_control_and_heartbeat_during_long_cell(self):
        mid = self.kc.execute("std::thread::sleep(std::time::Duration::from_secs(3));")
        time.sleep(0.5)
        t0 = time.monotonic()
        info = self.kc.kernel_info()
        self.assertIsNotNone(shell_reply(self.kc, info, 2), "kernel_info not answered during a cell")
        self.assertLess(time.monotonic() - t0, 1.0)
        self.assertTrue(self.kc.hb_channel.is_beating())
        self.assertEqual(shell_reply(self.kc, mid, 30)["content"]["status"], "ok")

    def test_silent_and_execution_count(self):
        r1, _ = self.run_cell("1")
        mid = self.kc.execute('println!("hidden"); 5', silent=True)
        reply = shell_reply(self.kc, mid, 30)
        self.assertEqual(reply["content"]["status"], "ok")
        # Nothing but status on iopub for the silent cell.
        types = set()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                m = self.kc.get_iopub_msg(timeout=1)
            except Empty:
                break
            if m["parent_header"].get("msg_id") == mid:
                types.add(m["msg_type"])
                if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                    break
        self.assertEqual(types, {"status"})
        r3, _ = self.run_cell("2")
        self.assertEqual(r3["execution_count"], r1["execution_count"] + 1)

    def test_stop_on_error_aborts_queued_cells(self):
        failing = self.kc.execute('std::thread::sleep(std::time::Duration::from_millis(500)); panic!("first");')
        queued = self.kc.execute("let never_defined = 1;")
        self.assertEqual(shell_reply(self.kc, failing, 60)["content"]["status"], "error")
        self.assertEqual(shell_reply(self.kc, queued, 60)["content"]["status"], "aborted")
        reply, _ = self.run_cell("never_defined")
        self.assertEqual(reply["status"], "error", "an aborted cell must not have run")

    def test_big_output(self):
        reply, msgs = self.run_cell('for i in 0..100000 { println!("line {i}"); }', timeout=120)
        self.assertEqual(reply["status"], "ok")
        out = _born.stdout_of(msgs)
        self.assertIn("line 99999\n", out)
        self.assertEqual(out.count("\n"), 100000)
        self.assertLess(len([m for m in msgs if m["msg_type"] == "stream"]), 5000, "streams not coalesced")

    def test_is_complete(self):
        cases = {"let x = 1;": "complete", "fn f() {": "incomplete", "fn f() }": "invalid"}
        for code, want in cases.items():
            mid = self.kc.is_complete(code)
            reply = shell_reply(self.kc, mid, 30)
            self.assertEqual(reply["content"]["status"], want, code)

    def test_history(self):
        self.run_cell("let hist_a = 1;")
        self.run_cell("hist_a + 1")
        mid = self.kc.history(hist_access_type="tail", n=2, output=False, raw=True)
        hist = shell_reply(self.kc, mid, 30)["content"]["history"]
        self.assertEqual([h[2] for h in hist], ["let hist_a = 1;", "hist_a + 1"])
        mid = self.kc.history(hist_access_type="search", pattern="hist_a*", output=True, raw=True)
        hist = shell_reply(self.kc, mid, 30)["content"]["history"]
        self.assertEqual(hist[-1][2], ["hist_a + 1", "2"])

    def test_comm_info(self):
        mid = self.kc.comm_info()
        reply = shell_reply(self.kc, mid, 10)
        self.assertEqual(reply["content"], {"status": "ok", "comms": {}})


class LifecycleTests(unittest.TestCase):
    def test_kernel_info_time_and_shutdown(self):
        _born.setup_env()
        km = KernelManager(kernel_name=_born.KERNEL)
        t0 = time.perf_counter()
        km.start_kernel()
        kc = km.client()
        kc.start_channels()
        mid = kc.kernel_info()
        reply = shell_reply(kc, mid, 30)
        dt = time.perf_counter() - t0
        self.assertIsNotNone(reply)
        info = reply["content"]
        self.assertEqual(info["implementation"], "born")
        self.assertEqual(info["protocol_version"], "5.3")
        self.assertEqual(info["language_info"]["name"], "rust")
        self.assertEqual(reply["header"]["session"] != kc.session.session, True)
        print(f"\n  start to kernel_info_reply: {dt * 1e3:.0f} ms", file=sys.stderr)
        self.assertLess(dt, 5.0)
        # A clean shutdown: the process exits by itself (jupyter_client would kill it after 5 s).
        t0 = time.perf_counter()
        kc.stop_channels()
        km.shutdown_kernel(now=False)
        dt = time.perf_counter() - t0
        print(f"  shutdown: {dt * 1e3:.0f} ms", file=sys.stderr)
        self.assertFalse(km.is_alive())
        self.assertLess(dt, 4.5)

    def test_restart(self):
        _born.setup_env()
        km, kc = _born.start_kernel()
        try:
            reply, _ = _born.run_cell(kc, "let before_restart = 3;")
            self.assertEqual(reply["status"], "ok")
            km.restart_kernel(now=False)
            kc.wait_for_ready(timeout=60)
            reply, _ = _born.run_cell(kc, "before_restart")
            self.assertEqual(reply["status"], "error", "variables must be gone after a restart")
            reply, _ = _born.run_cell(kc, "1 + 1")
            self.assertEqual(reply["status"], "ok")
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=False)


if __name__ == "__main__":
    unittest.main(verbosity=2)
