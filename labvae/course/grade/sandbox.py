"""A bubblewrap sandbox for grading kernels: read-only system, no network, one writable folder, limits."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec

from .confine import Cgroup, seccomp_file

# exit() or quit() in a student's last cell would end the kernel before its checks: in grading they do nothing
KERNEL_ARGS = ("--IPKernelApp.exec_lines=get_ipython().ask_exit = lambda: None",)

NOBODY = 65534  # the conventional unprivileged uid/gid; owns nothing on a normal system
MiB, GiB = 1 << 20, 1 << 30
# What programs need to start; /home, /root, /run (its sockets), /var, /srv, /mnt, /work stay unseen.
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
INSTALL_BWRAP = "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap)"
JOIN = ('f=$0; cgs=$1; shift; IFS=:; for cg in $cgs; do echo $$ > "$cg" || exit 125; done; unset IFS; '
        'exec 3<"$f" && exec "$@"')


@dataclass
class Sandbox:
    """Where and how one kernel runs; `command(...)` is the argv that runs a program inside."""

    run_dir: str | Path  # the notebook's run folder: the only host folder it may write, seen at its own path
    ro: Sequence[str | Path] = ()  # more host folders it may read (warmed checkpoints, data, the package)
    hidden: Sequence[str | Path] = ()  # host paths it must not see even inside a read-only bind: made empty
    env: Mapping[str, str] = field(default_factory=dict)  # its whole environment, besides HOME and PATH
    # 8 GiB: importing torch alone reserves ~3 GiB of address space (RLIMIT_AS counts reservations).
    memory: int = 8 * GiB
    # 4 GiB of memory for the kernel as a whole (its processes, memfds, /tmp and /dev/shm), where the grader
    # can make a cgroup: a lab kernel uses under 1.5 GiB (see docs/instructors.md: without a cgroup, less holds)
    ram: int = 4 * GiB
    # 30 min of CPU: past the grader's 5 min wall limit even with several torch threads busy.
    cpu_seconds: int = 1800
    # 1 GiB per file: checkpoints of the lab's small models are a few MB; this stops a disk-filling file.
    file_size: int = GiB
    # 1024 tasks (threads count): a kernel with torch uses ~50; counted per uid, so shared by the
    # sandboxes that run as the same uid at once.
    nproc: int = 1024
    tmp_size: int = 512 * MiB  # each of /tmp (also $HOME) and /dev/shm: tmpfs lives in RAM
    uid: int = NOBODY  # used only when the grader is root; otherwise the kernel keeps the grader's uid
    gid: int = NOBODY
    python: str = sys.executable  # the grader's own Python, so the kernel has the same packages

    def command(self, *argv: str, rw: Sequence[str | Path] = (), cgroups: Sequence[str] = ()) -> list[str]:
        """The argv that runs argv in this sandbox; rw: more folders bound writable (the kernel's sockets);
        cgroups: cgroup.procs files the sandbox joins before it starts (see confine.Cgroup)."""
        root = os.geteuid() == 0
        for p in [self.run_dir, *self.ro]:
            if not os.path.exists(p):  # bwrap's own message would not say which argument was wrong
                raise FileNotFoundError(f"the sandbox cannot bind {p}: it does not exist")
        mounts: list[tuple[str, list[str]]] = []  # (where, bwrap args), ordered below parents first
        for p in SYSTEM:
            if os.path.islink(p):  # merged /usr: /bin -> usr/bin is recreated, not bound twice
                mounts.append((p, ["--symlink", os.readlink(p), p]))
            elif os.path.isdir(p):
                mounts.append((p, ["--ro-bind", p, p]))
        py = Path(os.path.abspath(self.python))
        # The venv (bin/python's parent's parent) and the Python it links to, unless /usr holds them.
        reads = [py.parent.parent, Path(os.path.realpath(py)).parent.parent, *map(_real, self.ro)]
        for p in dict.fromkeys(map(str, reads)):
            if not any(_under(p, s) for s in SYSTEM) and os.path.exists(p):
                mounts.append((p, ["--ro-bind", p, p]))
        for p in map(_real, self.hidden):
            if os.path.isdir(p):
                mounts.append((p, ["--size", str(MiB), "--tmpfs", p]))
            elif os.path.exists(p):
                mounts.append((p, ["--ro-bind", "/dev/null", p]))  # a hidden file reads as empty
        for p in dict.fromkeys(map(_real, [self.run_dir, *rw])):
            mounts.append((p, ["--bind", p, p]))
        mounts += [("/dev", ["--dev", "/dev"]), ("/proc", ["--proc", "/proc"]),
                   ("/tmp", ["--perms", "1777", "--size", str(self.tmp_size), "--tmpfs", "/tmp"]),
                   ("/dev/shm", ["--perms", "1777", "--size", str(self.tmp_size), "--tmpfs", "/dev/shm"])]
        binds = [w for w, a in mounts if a[0] in ("--ro-bind", "--bind")]
        # bwrap makes missing parents with the host's modes (/root is 0700): open them for the kernel.
        for w in list(dict.fromkeys(w for w, _ in mounts)):
            for parent in list(Path(w).parents)[:-1]:
                a = str(parent)
                if a not in (m for m, _ in mounts) and not any(_under(a, b) for b in binds):
                    mounts.append((a, ["--perms", "0755", "--dir", a]))
        mounts.sort(key=lambda m: len(Path(m[0]).parts))  # stable: a parent is mounted before its children
        # HOME=/tmp: the private tmpfs, so IPython's and matplotlib's caches land nowhere lasting
        env = {"HOME": "/tmp", "PATH": f"{py.parent}:/usr/local/bin:/usr/bin:/bin", **self.env}
        # env -i: bwrap's own PID 1 keeps the environment it started with, readable inside when not root
        cmd = ["env", "-i", shutil.which("bwrap") or "bwrap", *[a for _, args in mounts for a in args],
               "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
               "--hostname", "sandbox", "--new-session", "--die-with-parent", "--clearenv",
               *[a for k, v in env.items() for a in ("--setenv", k, v)], "--chdir", _real(self.run_dir)]
        cmd += ["--seccomp", "3"] if seccomp_file() else []  # no nested user namespace, no keyrings
        if root:
            # bwrap as root keeps every capability unless told: keep just enough for setpriv to become
            # uid/gid NOBODY outside as well (no user namespace), which then drops all of them.
            cmd += ["--cap-drop", "ALL", *[a for c in ("SETUID", "SETGID", "SETPCAP") for a in ("--cap-add", f"CAP_{c}")],
                    "--", "setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups",
                    "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
        else:
            cmd += ["--unshare-user", "--disable-userns"]  # bwrap's user namespace; none nested inside
        cmd += ["--", "prlimit", f"--as={self.memory}", f"--cpu={self.cpu_seconds}", f"--fsize={self.file_size}",
                f"--nproc={self.nproc}", "--core=0", "--", *argv]  # core=0: no core dumps in the run folder
        # sh joins the cgroups, opens the filter on descriptor 3 for bwrap, and becomes the sandbox
        return ["sh", "-c", JOIN, seccomp_file() or "/dev/null", ":".join(cgroups), *cmd]

    def kernel_argv(self, conn_dir: str | Path, cgroups: Sequence[str] = ()) -> list[str]:
        """The kernel-spec argv of an IPython kernel in this sandbox, its sockets in conn_dir."""
        return self.command(self.python, "-m", "ipykernel_launcher", "-f", "{connection_file}", *KERNEL_ARGS,
                            rw=[conn_dir], cgroups=cgroups)

    def prepare(self) -> None:
        """Give the run folder to the sandbox's uid (when the grader is root), so the kernel can write it."""
        if os.geteuid() == 0:
            _chown_tree(_real(self.run_dir), self.uid, self.gid)


class SandboxKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernel runs in `sandbox`, over unix sockets in a folder both sides see."""

    bound_sandbox: Sandbox | None = None  # set by bound(), for nbclient to construct it with no arguments

    def __init__(self, sandbox: Sandbox | None = None, **kwargs):
        super().__init__(transport="ipc", **kwargs)  # no network in the sandbox: TCP cannot reach us
        # In /tmp, short: a unix socket's path has at most 107 bytes; bound writable at the same path.
        self.conn_dir = tempfile.mkdtemp(prefix="lvk-", dir="/tmp")
        self.connection_file = os.path.join(self.conn_dir, "kernel.json")
        self.ip = os.path.join(self.conn_dir, "k")  # sockets k-1 ... k-5
        self.sandbox, self.cgroup = None, None
        if (sandbox := sandbox or self.bound_sandbox) is not None:
            self.use(sandbox)

    def use(self, sandbox: Sandbox) -> None:
        """Run the kernel in sandbox (before start_kernel: a subclass may pick it only once it knows the folder)."""
        self.sandbox = sandbox
        if os.geteuid() == 0:
            os.chown(self.conn_dir, sandbox.uid, sandbox.gid)  # the kernel creates its sockets here
        self.cgroup = Cgroup(os.path.basename(self.conn_dir), sandbox.ram)  # none where the machine gives none
        # interrupt by message: a signal to bwrap's process group never reaches the kernel's new session
        self._kernel_spec = KernelSpec(argv=sandbox.kernel_argv(self.conn_dir, self.cgroup.procs), language="python",
                                       display_name="Python (sandboxed)", interrupt_mode="message")

    @classmethod
    def bound(cls, sandbox: Sandbox) -> type[SandboxKernelManager]:
        """A subclass that always uses sandbox: NotebookClient(kernel_manager_class=...) then owns and shuts it."""
        return type("BoundSandboxKernelManager", (cls,), {"bound_sandbox": sandbox})

    async def start_kernel(self, **kwargs) -> None:
        """Hand the run folder to the sandbox's uid, then start the kernel (env= is ignored: see Sandbox.env)."""
        if self.sandbox is None:
            raise TypeError("SandboxKernelManager needs a Sandbox: pass one, or use SandboxKernelManager.bound(sb)")
        self.sandbox.prepare()
        await super().start_kernel(**kwargs)

    def write_connection_file(self, **kwargs) -> None:
        """Write it as jupyter_client does (mode 0600), then let the sandbox's uid read it."""
        super().write_connection_file(**kwargs)
        if os.geteuid() == 0:
            os.chown(self.connection_file, self.sandbox.uid, self.sandbox.gid)

    def kill(self) -> None:
        """SIGKILL the sandbox now, from any thread: bwrap dies, so its PID namespace and all in it die."""
        proc = getattr(self.provisioner, "process", None)
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # bwrap leads its own process group (start_new_session)
            except OSError:
                pass  # it ended meanwhile

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self.conn_dir, ignore_errors=True)
            if self.cgroup is not None:
                self.cgroup.remove()

    cleanup_resources = _async_cleanup_resources  # AsyncKernelManager binds the base's; nbclient calls this


def available() -> str | None:
    """None when a sandbox starts on this machine; else one sentence saying why not."""
    if not sys.platform.startswith("linux"):
        return f"the grading sandbox needs Linux (bubblewrap and namespaces); this is {sys.platform}."
    if shutil.which("bwrap") is None:
        return f"bubblewrap is missing: {INSTALL_BWRAP}."
    tools = ["prlimit"] + (["setpriv"] if os.geteuid() == 0 else [])
    if any(shutil.which(t) is None for t in tools):
        return f"{' and '.join(tools)} are missing: install util-linux."
    with tempfile.TemporaryDirectory(prefix="lvk-") as run:
        try:
            r = subprocess.run(Sandbox(run).command("true"), capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"bubblewrap could not start a sandbox here ({e})."
    if r.returncode == 0:
        return None
    err = (r.stderr.strip().splitlines() or ["no message"])[-1]
    if "namespace" in err or "uid map" in err or "Operation not permitted" in err:
        return (f"user namespaces are disabled here ({err}); enable them (sysctl user.max_user_namespaces, "
                "kernel.unprivileged_userns_clone, kernel.apparmor_restrict_unprivileged_userns).")
    return f"bubblewrap could not start a sandbox here ({err})."


def _real(p: str | Path) -> str:
    return os.path.realpath(p)  # bind targets must have no symlinks: the sandbox recreates none of them


def _under(p: str, top: str) -> bool:
    return p == top or p.startswith(top.rstrip("/") + "/")


def _chown_tree(top: str, uid: int, gid: int) -> None:
    os.lchown(top, uid, gid)
    for d, dirs, files in os.walk(top):
        for name in dirs + files:
            os.lchown(os.path.join(d, name), uid, gid)  # lchown: a link is never followed out of the folder
