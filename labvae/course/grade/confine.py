"""What the sandbox adds around bubblewrap: a seccomp filter, and a cgroup per kernel where one can be had.

The filter refuses the calls no lab notebook needs and an attacker would: a nested user namespace
(unshare or clone with CLONE_NEWUSER, whose own tmpfs escapes the /tmp cap), clone3 (its flags cannot be
inspected; glibc falls back to clone) and the kernel keyrings (add_key, request_key, keyctl: keyrings are
per uid, not per sandbox, so one kernel could leave a key for the next). A cgroup bounds a kernel's
memory as a whole (memfd, tmpfs and every process in it count) and gives each kernel an equal share of
the CPU however many threads its neighbour runs.
"""

from __future__ import annotations

import atexit
import errno
import functools
import os
import platform
import signal
import struct
import tempfile
import time
from pathlib import Path

CLONE_NEWUSER = 0x10000000
# (audit arch, syscall numbers) per machine: unshare, clone, clone3, add_key, request_key, keyctl
ARCHES = {"x86_64": (0xC000003E, 272, 56, 435, 248, 249, 250),
          "aarch64": (0xC00000B7, 97, 220, 435, 217, 218, 219)}
ALLOW, ERRNO = 0x7FFF0000, 0x00050000
LD_W_ABS, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06


def seccomp_program(machine: str | None = None) -> bytes | None:
    """The filter as a compiled classic-BPF program (bwrap --seccomp's format); None on other machines."""
    arch = ARCHES.get(machine or platform.machine())
    if arch is None:
        return None
    audit, unshare, clone, clone3, add_key, request_key, keyctl = arch
    deny, nosys = ERRNO | errno.EPERM, ERRNO | errno.ENOSYS
    # (code, true-target, false-target, k): targets are labels, resolved to relative jumps below
    prog = [("ld", 4), (JEQ, None, "deny", audit), ("ld", 0)]
    if audit == ARCHES["x86_64"][0]:
        prog.append((JGE, "deny", None, 0x40000000))  # the x32 ABI: same arch, other numbers
    prog += [(JEQ, "flags", None, unshare), (JEQ, "flags", None, clone), (JEQ, "nosys", None, clone3),
             (JEQ, "deny", None, add_key), (JEQ, "deny", None, request_key), (JEQ, "deny", None, keyctl),
             ("ret", ALLOW), ("flags:ld", 16), (JSET, "deny", None, CLONE_NEWUSER), ("ret", ALLOW),
             ("deny:ret", deny), ("nosys:ret", nosys)]
    labels = {op.split(":")[0]: i for i, (op, *_) in enumerate(prog) if isinstance(op, str) and ":" in op}
    out = []
    for i, (op, *rest) in enumerate(prog):
        if isinstance(op, str):
            kind = op.split(":")[-1]
            out.append(struct.pack("<HBBI", LD_W_ABS if kind == "ld" else RET, 0, 0, rest[0]))
        else:
            jt, jf, k = rest
            rel = [0 if t is None else labels[t] - i - 1 for t in (jt, jf)]
            out.append(struct.pack("<HBBI", op, *rel, k))
    return b"".join(out)


@functools.cache
def seccomp_file() -> str | None:
    """A file holding the filter, for bwrap to read on a descriptor; removed when the grader exits."""
    prog = seccomp_program()
    if prog is None:
        return None
    fd, path = tempfile.mkstemp(prefix="labvae-seccomp-", suffix=".bpf")
    with os.fdopen(fd, "wb") as f:
        f.write(prog)
    atexit.register(lambda: Path(path).unlink(missing_ok=True))
    return path


def _own(hierarchy: str) -> str | None:
    """This process's cgroup path in a v1 hierarchy ("memory", "cpu") or, for "", in the unified one."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        if (hierarchy == "" and names == "") or hierarchy in names.split(","):
            return path
    return None


@functools.cache
def cgroup_bases() -> tuple[dict[str, Path], str]:
    """Controller -> the folder under which per-kernel cgroups are made, and why any is missing ("" if none)."""
    root = Path("/sys/fs/cgroup")
    bases, why = {}, ""
    try:
        if (root / "cgroup.controllers").exists():  # cgroup v2 mounted alone
            base = root / (_own("") or "/").lstrip("/")
            enabled = (base / "cgroup.subtree_control").read_text().split()
            bases = {c: base for c in ("memory", "cpu") if c in enabled}
        else:  # cgroup v1: one hierarchy per controller
            for c in ("memory", "cpu"):
                own = _own(c)
                if own is not None and (root / c).is_dir():
                    bases[c] = root / c / own.lstrip("/")
        for c, base in list(bases.items()):  # the grader must be allowed to make a child there
            probe = base / f"labvae-probe-{os.getpid()}"
            try:
                probe.mkdir()
                probe.rmdir()
            except OSError as e:
                why = f"cannot make a cgroup in {base} ({e.strerror})"
                del bases[c]
    except OSError as e:
        why = f"cannot read the cgroups ({e.strerror})"
    if "memory" not in bases and not why:
        why = "no memory cgroup controller is available to the grader"
    return bases, why


class Cgroup:
    """One kernel's cgroups: memory bounded as a whole (swap too), CPU shared equally with the other kernels."""

    def __init__(self, name: str, memory: int):
        self.dirs: list[Path] = []
        for c, base in cgroup_bases()[0].items():
            d = base / name
            try:
                d.mkdir(exist_ok=True)
                if c == "memory":
                    v2 = (d / "memory.max").exists()
                    (d / ("memory.max" if v2 else "memory.limit_in_bytes")).write_text(str(memory))
                    for swap in ("memory.swap.max", "memory.memsw.limit_in_bytes"):
                        if (d / swap).exists():
                            (d / swap).write_text("0" if v2 else str(memory))
                if d not in self.dirs:
                    self.dirs.append(d)
            except OSError:
                continue  # this controller will not take us: the others still hold

    @property
    def procs(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def remove(self) -> None:
        """Kill what is left in the cgroups, then remove them."""
        for d in self.dirs:
            for _ in range(50):
                try:
                    pids = [int(p) for p in (d / "cgroup.procs").read_text().split()]
                except OSError:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                try:
                    d.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)  # the killed need a moment to leave
