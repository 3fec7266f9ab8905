"""The grading sandbox, tried for real: bwrap, an IPython kernel inside it, nbclient driving it over ipc."""

import os
import socket
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

import labvae
from labvae.course.grade.sandbox import NOBODY, Sandbox, SandboxKernelManager, available

WHY = available()
pytestmark = pytest.mark.skipif(WHY is not None, reason=f"no sandbox here: {WHY}")

REPO = str(Path(labvae.__file__).resolve().parents[1])  # the labvae under test, bound read-only
GiB = 1 << 30


def sandbox(tmp_path, **kw) -> Sandbox:
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    env = {"PYTHONPATH": REPO, "OMP_NUM_THREADS": "2", "MPLBACKEND": "Agg", **kw.pop("env", {})}
    return Sandbox(run, ro=[REPO, *kw.pop("ro", [])], env=env, **kw)


def client(sb, *sources, timeout=60, **kw) -> NotebookClient:
    """A client that makes, and so shuts down, its own sandboxed kernel manager."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    return NotebookClient(nb, kernel_manager_class=SandboxKernelManager.bound(sb), allow_errors=True,
                          timeout=timeout, **kw)


def outputs(cell) -> str:
    """What a cell printed, and its error's name and message if it raised."""
    return "".join(o.get("text", "") if o["output_type"] == "stream" else f"{o.get('ename')}: {o.get('evalue')}\n"
                   for o in cell.get("outputs", []) if o["output_type"] in ("stream", "error"))


def run(sb, *sources, **kw) -> list[str]:
    c = client(sb, *sources, **kw)
    c.execute()
    return [outputs(cell) for cell in c.nb.cells]


def test_an_honest_cell_imports_torch_and_labvae_and_writes_its_run_folder(tmp_path):
    out = run(sandbox(tmp_path), "import torch, labvae\n"
              "x = labvae.VAE()(torch.zeros(2, 1, 28, 28))\n"
              "open('note.txt', 'w').write('hi')\n"
              "print('ok', labvae.__file__)")
    assert out[0] == f"ok {REPO}/labvae/__init__.py\n"
    assert (tmp_path / "run" / "note.txt").read_text() == "hi"


def test_it_cannot_read_outside_its_binds_nor_a_hidden_folder_inside_one(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "canary").write_text("outside")
    shared = tmp_path / "shared"
    (shared / "submissions").mkdir(parents=True)
    (shared / "data.txt").write_text("shared data")
    (shared / "submissions" / "canary").write_text("another student")
    sb = sandbox(tmp_path, ro=[shared], hidden=[shared / "submissions"])
    cell = ("for p in {paths!r}:\n"
            "    try:\n"
            "        print(open(p).read())\n"
            "    except OSError as e:\n"
            "        print('blocked', type(e).__name__)\n")
    paths = [str(shared / "data.txt"), str(tmp_path / "elsewhere" / "canary"), str(shared / "submissions" / "canary"),
             "/root/.bash_history", "/etc/shadow"]
    lines = run(sb, cell.format(paths=paths))[0].splitlines()
    assert lines[0] == "shared data"  # the bind works, so the blocks below are the sandbox's doing
    assert all(line.startswith("blocked") for line in lines[1:]), lines


def test_the_system_the_package_and_the_venv_are_read_only(tmp_path):
    targets = [f"{REPO}/labvae/hacked.py", f"{sys.prefix}/hacked.pth", "/etc/hacked", "/usr/hacked",
               str(tmp_path / "hacked")]  # the last: beside the run folder, not in it
    cell = ("for p in {targets!r}:\n"
            "    try:\n"
            "        open(p, 'w').write('x'); print('wrote', p)\n"
            "    except OSError as e:\n"
            "        print('blocked', e.errno)\n"
            "open('/tmp/scratch', 'w').write('private tmp is writable'); print('tmp ok')\n")
    lines = run(sandbox(tmp_path), cell.format(targets=targets))[0].splitlines()
    # EROFS: the mounts are read-only, whatever the files' owners and modes would allow
    assert lines[:-1] == ["blocked 30"] * 4 + ["blocked 13"], lines  # 13: a folder the sandbox made
    assert lines[-1] == "tmp ok"
    assert not any(os.path.exists(t) for t in targets)
    assert not os.path.exists("/tmp/scratch")  # its /tmp is its own


def test_it_sees_none_of_the_graders_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LABVAE_GRADER_SECRET", "s3cret-token")
    out = run(sandbox(tmp_path, env={"LABVAE_SMOKE": "1"}),
              "import os\nprint(dict(os.environ))\n"
              "for p in os.listdir('/proc'):\n"
              "    try:\n"
              "        print(open(f'/proc/{p}/environ').read())\n"
              "    except OSError:\n"
              "        pass\n")[0]
    assert "'LABVAE_SMOKE': '1'" in out  # the allow-list arrives
    assert "s3cret-token" not in out and "LABVAE_GRADER_SECRET" not in out


def test_it_cannot_see_the_grader_process(tmp_path):
    out = run(sandbox(tmp_path), "import os\n"
              "pids = [p for p in os.listdir('/proc') if p.isdigit()]\n"
              "print(len(pids), os.getpid())\n"
              "for p in pids:\n"
              "    try:\n"
              "        print(open(f'/proc/{p}/cmdline').read().replace(chr(0), ' '))\n"
              "    except OSError:\n"
              "        pass\n")[0]
    count, pid = map(int, out.splitlines()[0].split())
    assert count < 10 and pid < 10  # a fresh PID namespace: bwrap's init, the kernel, its children
    me = Path("/proc/self/cmdline").read_bytes().replace(b"\0", b" ").decode()
    assert me not in out  # the grader's command line, seen from inside, would give it away


def test_it_has_no_network_not_even_the_graders_loopback(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.5)
    port = server.getsockname()[1]
    out = run(sandbox(tmp_path), "import socket\n"
              "try:\n"
              f"    socket.create_connection(('127.0.0.1', {port}), timeout=5); print('connected')\n"
              "except OSError as e:\n"
              "    print('blocked', e.errno)\n")[0]
    assert out.startswith("blocked"), out
    with pytest.raises(socket.timeout):
        server.accept()  # nothing ever knocked
    server.close()


def test_it_runs_unprivileged_and_its_files_are_not_roots(tmp_path):
    out = run(sandbox(tmp_path), "import os\nopen('mine', 'w').close()\nprint(os.getuid(), os.geteuid(), os.getgid())")
    want = NOBODY if os.geteuid() == 0 else os.getuid()
    assert out[0].split() == [str(want)] * 2 + [str(NOBODY if os.geteuid() == 0 else os.getgid())]
    assert (tmp_path / "run" / "mine").stat().st_uid == want  # as the host sees it, outside the namespace
    assert want != 0


def test_too_much_memory_raises_memory_error(tmp_path):
    out = run(sandbox(tmp_path, memory=2 * GiB), "x = bytearray(4 << 30)", "print('still alive')")
    assert out[0].startswith("MemoryError"), out
    assert out[1] == "still alive\n"


def test_a_file_over_the_size_limit_cannot_be_written(tmp_path):
    out = run(sandbox(tmp_path, file_size=1 << 20), "open('big', 'wb').write(bytes(2 << 20))")[0]
    assert out.startswith("OSError: [Errno 27] File too large"), out
    assert (tmp_path / "run" / "big").stat().st_size <= 1 << 20


def test_cpu_seconds_past_the_limit_end_the_kernel(tmp_path):
    with pytest.raises(DeadKernelError):
        run(sandbox(tmp_path, cpu_seconds=2), "while True:\n    pass")


def _tasks(uid: int) -> int:
    """Threads the host now runs as uid: RLIMIT_NPROC counts them all, in any namespace."""
    n = 0
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields["Uid"].split()[0]) == uid:
            n += int(fields["Threads"])
    return n


def test_processes_are_limited(tmp_path):
    uid = NOBODY if os.geteuid() == 0 else os.getuid()
    limit = _tasks(uid) + 64  # room for the kernel's threads, not for 200 more processes
    out = run(sandbox(tmp_path, nproc=limit), "import subprocess\nprocs = []\n"
              "try:\n"
              "    for i in range(200):\n"
              "        procs.append(subprocess.Popen(['sleep', '60']))\n"
              "    print('spawned all')\n"
              "except OSError as e:\n"
              "    print('limited', type(e).__name__)\n")[0]
    assert out.startswith("limited"), out


def test_a_cell_that_hangs_is_interrupted_and_the_kernel_goes_on(tmp_path):
    out = run(sandbox(tmp_path), "import time\ntime.sleep(600)", "print('next cell')",
              timeout=3, interrupt_on_timeout=True)
    assert out[0].startswith("KeyboardInterrupt") and out[1] == "next cell\n"


DAEMON = ("import os, subprocess, sys, time\n"  # double fork and setsid: the classic way out of a process group
          "code = 'import os, time\\nif os.fork(): os._exit(0)\\nos.setsid()\\nif os.fork(): os._exit(0)\\n"
          "open(\"daemon.pid\", \"w\").write(str(os.getpid()))\\ntime.sleep(900)'\n"
          "print(subprocess.run([sys.executable, '-c', code, '{token}'], start_new_session=True).returncode)\n"
          "for _ in range(300):\n"
          "    if os.path.exists('daemon.pid'):\n"
          "        print('daemon up'); break\n"
          "    time.sleep(0.1)\n")


def _alive(token: str) -> list[int]:
    """Pids on the host whose command line carries token."""
    found = []
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            if token.encode() in Path(f"/proc/{p}/cmdline").read_bytes():
                found.append(int(p))
        except OSError:
            pass
    return found


def _gone(token: str) -> bool:
    for _ in range(100):  # the namespace's teardown is asynchronous; give it up to 10 s
        if not _alive(token):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("how", ["kill", "shutdown"])
def test_a_setsid_daemon_dies_with_the_sandbox(tmp_path, how):
    token = f"labvae-daemon-{os.getpid()}-{how}"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(DAEMON.format(token=token))])
    c = NotebookClient(nb, km=SandboxKernelManager(sandbox(tmp_path)), timeout=60,
                       shutdown_kernel="graceful")
    with c.setup_kernel(cleanup_kc=True):  # as the grader does: it passes its own km
        c.execute_cell(c.nb.cells[0], 0)
        out = outputs(c.nb.cells[0])
        assert "daemon up" in out and _alive(token), out  # it runs while the kernel does
        bwrap = c.km.provisioner.process
        if how == "kill":
            c.km.kill()
            bwrap.wait(timeout=10)
    # "shutdown": nbclient's ordinary shutdown on leaving setup_kernel
    assert _gone(token)


def test_available_says_how_to_install_bubblewrap_when_it_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no bwrap on the PATH
    assert "apt-get install bubblewrap" in available()


def test_a_missing_read_only_folder_is_named_before_bwrap_runs(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        Sandbox(tmp_path, ro=[tmp_path / "nope"]).command("true")
