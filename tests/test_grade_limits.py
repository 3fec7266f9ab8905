"""The limits around a kernel (uids, namespaces, keyrings, memory as a whole) and the grader's own (reading notebooks).

Real bwrap and real processes where a sandbox starts; the reader's caps need none.
"""

import json
import os
import platform
import subprocess
import sys
import threading
import time
import tracemalloc

import nbformat
import pytest
from test_grade import toy_notebook

from labvae.course.grade import confine, keep, limits
from labvae.course.grade import sandbox as sandbox_module
from labvae.course.grade.sandbox import NOBODY, Sandbox, available
from labvae.course.grade.submissions import distinct

WHY = available()
needs_sandbox = pytest.mark.skipif(WHY is not None, reason=f"no sandbox here: {WHY}")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="only a root grader gives each kernel a uid of its own")


@needs_sandbox
@needs_root
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


def inside(tmp_path, code: str, **kw) -> subprocess.CompletedProcess:
    """Run Python code in a fresh sandbox over tmp_path/run."""
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    os.chmod(run, 0o755)
    cgroups = kw.pop("cgroups", ())
    sb = Sandbox(run, **kw)
    sb.prepare()
    return subprocess.run(sb.command(sys.executable, "-c", code, cgroups=cgroups), capture_output=True, text=True,
                          timeout=120)


ESCAPE = f"""\
import ctypes, subprocess
print('unshare', subprocess.run(['unshare', '-Ur', 'true'], capture_output=True).returncode)
libc = ctypes.CDLL(None, use_errno=True)
r = libc.syscall({ {"x86_64": 248, "aarch64": 217}.get(platform.machine(), -1)}, b'user', b'k', b'v', 1, -4)
print('add_key', r, ctypes.get_errno())
"""


@needs_sandbox
@pytest.mark.skipif(confine.seccomp_program() is None, reason=f"no seccomp filter for {platform.machine()}")
def test_nested_user_namespaces_and_keyrings_are_refused(tmp_path, monkeypatch):
    out = inside(tmp_path, ESCAPE).stdout.split()
    assert out[:2] == ["unshare", "1"] and out[2:] == ["add_key", "-1", "1"], out  # 1: EPERM
    if os.geteuid() == 0:  # without the filter, the same kernel makes both: the filter is what closes them
        monkeypatch.setattr(sandbox_module, "seccomp_file", lambda: None)
        out = inside(tmp_path, ESCAPE).stdout.split()
        assert out[:2] == ["unshare", "0"] and out[3] != "-1", out


MEMFD = "import os\nfd = os.memfd_create('x')\nfor _ in range(600):\n    os.write(fd, bytes(1 << 20))\nprint('held 600 MB')"


@needs_sandbox
@pytest.mark.skipif("memory" not in confine.cgroup_bases()[0], reason=f"no cgroup: {confine.cgroup_bases()[1]}")
def test_a_kernel_s_memory_is_bounded_as_a_whole_by_its_cgroup(tmp_path):
    assert "held 600 MB" in inside(tmp_path, MEMFD).stdout  # a memfd is outside RLIMIT_AS: only a cgroup stops it
    cg = confine.Cgroup(f"labvae-test-{os.getpid()}", 256 << 20)
    try:
        r = inside(tmp_path, MEMFD, cgroups=cg.procs)
    finally:
        cg.remove()
    assert r.returncode != 0 and "held" not in r.stdout
    assert not any(d.exists() for d in cg.dirs)


def test_a_fifo_named_like_a_notebook_is_refused_at_once(tmp_path):
    os.mkfifo(tmp_path / "01_toy.ipynb")
    got = []
    t = threading.Thread(target=lambda: got.append(_error(tmp_path / "01_toy.ipynb")), daemon=True)
    t.start()
    t.join(5)
    assert got and "not a regular file" in got[0]


def _error(path, deadline=None) -> str:
    try:
        limits.read_notebook(path, time.monotonic() + 60 if deadline is None else deadline)
    except limits.Unreadable as e:
        return str(e)
    return ""


def test_json_bombs_are_refused_before_they_are_parsed(tmp_path):
    bomb = tmp_path / "braces.ipynb"
    bomb.write_text("[" + "{}," * 2_000_000 + "{}]")  # 6 MB: 2 million dicts, ~400 MB once parsed
    tracemalloc.start()
    try:
        assert "JSON objects and lists" in _error(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 << 20, f"{peak >> 20} MB"  # the file's bytes, not its objects
    (tmp_path / "deep.ipynb").write_text("[" * 150 + "]" * 150)
    assert "nested past" in _error(tmp_path / "deep.ipynb")
    cells = {"nbformat": 4, "metadata": {}, "cells": [{"cell_type": "raw", "source": ""}] * (limits.MAX_CELLS + 1)}
    (tmp_path / "cells.ipynb").write_text(json.dumps(cells))
    assert "cells" in _error(tmp_path / "cells.ipynb")
    (tmp_path / "nb.ipynb").write_text("[]")
    assert "not a notebook" in _error(tmp_path / "nb.ipynb")


def test_reading_counts_against_the_notebooks_deadline(tmp_path):
    nbformat.write(toy_notebook("return 2 * x"), tmp_path / "01_toy.ipynb")
    assert "time limit" in _error(tmp_path / "01_toy.ipynb", deadline=time.monotonic() - 1)


def test_an_honest_notebook_reads_and_writes_back_as_a_valid_notebook(tmp_path):
    nb = toy_notebook("return 2 * x", "Because.")
    nb.cells[1].source = ["def f(", "):", " pass"]  # sources as lists of lines, as files hold them
    nbformat.write(nb, tmp_path / "01_toy.ipynb")
    got = limits.read_notebook(tmp_path / "01_toy.ipynb", time.monotonic() + 60)
    assert [c.source for c in got.cells][2:] == [c.source for c in nb.cells][2:] and got.cells[1].source == "def f(): pass"
    nbformat.validate(nbformat.reads(limits.dumps(got), as_version=4))


def test_look_alike_names_are_told_apart():
    names = ["alice", "\u0430lice", "alice ", " alice", "alice  x", "Zo\u00eb", "Zoe\u0308", "alice [U+0430]", "bob x"]
    shown = [distinct(n) for n in names]
    assert len(set(shown)) == len(names)
    assert shown[0] == "alice" and shown[-1] == "bob x"  # plain names stay as they are
    assert shown[1] == "\u0430lice [U+0430]" and shown[2] == "alice  [U+0020]"
    assert shown[5] == "Zo\u00eb [U+00EB]" and shown[6] == "Zoe\u0308 [U+0308]"
    assert shown[7] != "alice [U+0430]"  # an ASCII name cannot pass for a tagged one: its brackets are tagged too


def test_results_that_cannot_be_written_are_kept_elsewhere(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    (tmp_path / "afile").write_text("")
    where, why = keep.write_or_keep(tmp_path / "afile" / "grades.csv", "student\nann\n")  # its folder is a file
    assert where.parent == tmp_path and where.read_text() == "student\nann\n"
    assert why.startswith(f"could not write {tmp_path / 'afile' / 'grades.csv'} (") and str(where) in why


FLOOD = ("from comm import create_comm\nc = create_comm(target_name='x', data={})\n"
         "for _ in range(20):\n    c.send(data={}, buffers=[bytes(10 << 20)] * 30)  # 300 MB a message, 10 MB a part")


@needs_sandbox
def test_a_kernel_flooding_the_grader_with_huge_messages_is_stopped(tmp_path, monkeypatch):
    """zmq caps each part of a message, not their number: the grader's memory guard stops such a kernel."""
    import re
    from pathlib import Path

    from labvae.course.grade import kernel
    from labvae.course.grade.runner import PACKAGE, run_notebook

    class Exercise:  # one checked exercise, so that a kernel starts
        key, notebook, symbol, manual, points, check = "k", "01_toy", "f", False, 1, staticmethod(lambda f: None)

    monkeypatch.setattr(kernel, "GRADER_MEMORY", 200 << 20)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(FLOOD), nbformat.v4.new_code_cell("f = 1")])
    nbformat.write(nb, tmp_path / "01_toy.ipynb")
    (tmp_path / "run").mkdir()
    os.chmod(tmp_path / "run", 0o755)
    env = {"PYTHONPATH": str(PACKAGE.parent)}
    rss = lambda: int(re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text())[1]) << 10  # noqa: E731
    peak, start, done = [0], rss(), threading.Event()
    sampler = threading.Thread(target=lambda: [peak.__setitem__(0, max(peak[0], rss())) for _ in iter(lambda: done.wait(0.01), True)])
    sampler.start()
    try:
        res = run_notebook(tmp_path / "01_toy.ipynb", [Exercise], env=env, cwd=tmp_path / "run", timeout=60,
                           sandbox=Sandbox(tmp_path / "run", ro=[PACKAGE.parent], env=env))
    finally:
        done.set()
        sampler.join()
    assert "grader's own memory grew past 200 MB" in res.failure, res
    assert peak[0] - start < 200 + 300 << 20, f"{(peak[0] - start) >> 20} MB"  # 6 GB were sent in all
