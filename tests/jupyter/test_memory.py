"""Memory check (in the suite; also a benchmark run alone): resident memory of the kernel
(the kernel process and the cell process it runs) before and after 200 executed cells;
the target is growth under 100 MB.

Run: cd tests/jupyter && ../../.venv/bin/python -m unittest test_memory -v (after
install/test.sh or setup.sh built the kernel). Cells link the engine as one shared
library (kernel/cells): +7 MB over 200 cells measured here (it was +165 MB when every
cell linked its own copy of the engine code it used).
"""
import os
import unittest

import _born

CELLS = 200
LIMIT_MB = 100


def _children(pid):
    """Direct children of `pid`, whichever of its threads started them (scans /proc)."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                # The command name may hold spaces; the parent pid follows its closing paren.
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        if ppid == pid:
            kids.append(int(entry))
    return kids


def rss_mb(pid):
    """Resident memory of a process and all its descendants, in MB, and how many processes."""
    total, count = 0, 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        count += 1
        except FileNotFoundError:
            continue
        todo.extend(_children(p))
    return total / 1024, count


class MemoryTest(_born.KernelCase):
    shutdown_now = True

    def test_200_cells_stay_within_100_mb(self):
        pid = self.km.provisioner.pid
        reply, _ = _born.run_cell(self.kc, "let x = Tensor::ones([1000], DType::F32);", timeout=120)
        self.assertEqual(reply["status"], "ok", reply)
        # A few cells first, so one-time costs (the first engine calls) are not counted.
        for _ in range(5):
            _born.run_cell(self.kc, "let y = &x + 1.0; y.sum_all()")
        before, procs = rss_mb(pid)
        self.assertGreaterEqual(procs, 2, "the kernel and its cell process must both be measured")
        for i in range(CELLS):
            reply, _ = _born.run_cell(self.kc, f"let y = &x + {i}.0; y.sum_all()")
            self.assertEqual(reply["status"], "ok", reply)
        after, _ = rss_mb(pid)
        print(f"\n[born] resident memory over {CELLS} cells: {before:.0f} MB -> {after:.0f} MB "
              f"(+{after - before:.0f} MB)")
        self.assertLess(after - before, LIMIT_MB)


if __name__ == "__main__":
    unittest.main()
