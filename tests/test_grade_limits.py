"""Why kernels graded at once get uids of their own: the process limit is per uid (real bwrap, real processes)."""

import os
import subprocess
import sys

import pytest

from labvae.course.grade.sandbox import NOBODY, Sandbox, available

WHY = available()
pytestmark = [pytest.mark.skipif(WHY is not None, reason=f"no sandbox here: {WHY}"),
              pytest.mark.skipif(os.geteuid() != 0, reason="only a root grader gives each kernel a uid of its own")]


def test_kernels_running_at_once_share_no_process_limit(tmp_path):
    """A fork bomb fills its uid's process limit: a kernel under the same uid starves, one under the next uid does not."""
    bomb = ("import threading, time\nthreading.stack_size(1 << 16)\nhold = threading.Event()\n"
            "try:\n    while True:\n        threading.Thread(target=hold.wait).start()\n"
            "except RuntimeError:\n    print('full', flush=True)\ntime.sleep(20)")
    victim = "import threading\nfor _ in range(8):\n    threading.Thread(target=lambda: None).start()\nprint('ok')"

    def sandbox(name, uid):
        (tmp_path / name).mkdir()
        sb = Sandbox(tmp_path / name, uid=uid, gid=uid)
        sb.prepare()
        return sb

    proc = subprocess.Popen(sandbox("bomb", NOBODY).command(sys.executable, "-c", bomb), stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "full"
        same = subprocess.run(sandbox("same", NOBODY).command(sys.executable, "-c", victim), capture_output=True, text=True)
        other = subprocess.run(sandbox("other", NOBODY - 1).command(sys.executable, "-c", victim),
                               capture_output=True, text=True)
    finally:
        proc.kill()
        proc.wait()
    assert "can't start new thread" in same.stderr  # why the grader gives each worker slot its own uid
    assert other.stdout.strip() == "ok", other.stderr
