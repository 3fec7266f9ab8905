"""Torch threads fitted to the CPU this kernel really has: its affinity, its cgroup quota and the load.

torch starts one thread per core it sees (its affinity: a cgroup's CPU quota is not seen). On a shared
server (a JupyterHub class, a pod whose cgroup allows 1 CPU of a 64-core host) those threads wait for
each other in spin loops while other work holds the cores: on 2 cores at load 13 from other users,
two threads trained the VAE at 140 samples/s using 6.4 CPU s, one at 1,080 samples/s using 0.57
(benchmarks/bench_shared.py).
fit_threads() lowers torch's thread count to the cores that are free; labvae calls it at import and at
each epoch of fit(). A choice of yours always wins: set OMP_NUM_THREADS before Python starts, or call
torch.set_num_threads(n) after `import labvae`, and labvae leaves the threads alone. torch's inter-op
pool (torch.get_num_interop_threads) is left as it is: labvae starts no inter-op work, so its threads
sleep, and torch lets that count be set only once, before any use, which is the user's to do.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

log = logging.getLogger("labvae")  # says what fit_threads changed, at INFO level: silent unless asked
CGROUP = Path("/sys/fs/cgroup")
LOAD_WINDOW = 60.0  # seconds: the time constant of the kernel's 1-minute load average
USER_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")  # torch's own start-up settings: a user's choice
MIN_INTERVAL = 1.0  # seconds: a decision this fresh stands (evaluate may be called in a tight loop)


@dataclass(frozen=True)
class Decision:
    """How many torch threads to run, and why, in one sentence."""

    threads: int
    reason: str


def decide_threads(default: int, affinity: int, quota: float | None, online: int,
                   others: float) -> Decision:
    """Threads for torch: no more than torch's default, the CPUs this process may use, or the free cores.

    default: torch's own thread count; affinity: CPUs in this process's affinity mask; quota: the
    cgroup's CPU quota in CPUs (None: no quota); online: CPUs of the machine, the ones the load runs
    on; others: how many of them other processes keep busy (runnable tasks, not this process's).
    """
    usable = affinity if quota is None else min(affinity, max(1, math.floor(quota)))
    # A quota of 1.5 CPUs still stalls two threads: the cgroup throttles both once the 1.5 are spent.
    free = max(1, math.floor(online - max(0.0, others) + 0.5))  # rounded: a core others use under half of is free
    threads = max(1, min(default, usable, free))
    if threads == default:
        return Decision(threads, f"torch's default of {default} fits")
    if usable < default and usable <= free:
        limit = f"{affinity} CPUs in its affinity" + ("" if quota is None else f" and a cgroup quota of {quota:g}")
        return Decision(threads, f"{threads} of torch's {default}: this process may use {limit}")
    return Decision(threads, f"{threads} of torch's {default}: other processes keep {others:.1f} of "
                             f"the {online} cores busy")


def cgroup_quota(root: Path = CGROUP, proc_cgroup: str | None = None) -> float | None:
    """The CPU quota of this process's cgroup and its parents in CPUs (v2 cpu.max, v1 cfs_quota_us), or None."""
    if proc_cgroup is None:
        try:
            proc_cgroup = Path("/proc/self/cgroup").read_text()
        except OSError:
            return None
    found = []
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":  # v2: one unified tree
            found += [_v2(d / "cpu.max") for d in _up(root, path)]
        elif "cpu" in controllers.split(","):  # v1: the cpu controller's own tree
            for mount in (root / controllers, root / "cpu", root / "cpu,cpuacct"):
                if mount.is_dir():
                    found += [_v1(d) for d in _up(mount, path)]
                    break
    limits = [q for q in found if q is not None]
    return min(limits) if limits else None


def _up(mount: Path, path: str) -> list[Path]:
    """mount/path and each parent folder up to the mount (in a cgroup namespace path is just '/')."""
    parts = [p for p in path.split("/") if p and p != ".."]
    return [mount.joinpath(*parts[:n]) for n in range(len(parts), -1, -1)]


def _v2(file: Path) -> float | None:
    try:
        quota, period = file.read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _v1(folder: Path) -> float | None:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota <= 0 or period <= 0 else quota / period


def running_now(loadavg: str, own_running: int) -> int:
    """Runnable tasks of other processes at this moment, from /proc/loadavg's 'running/total' field."""
    try:
        running = int(loadavg.split()[3].split("/")[0])
    except (IndexError, ValueError):
        return 0
    return max(0, running - own_running)


def _own_running() -> int:
    """This process's threads that are runnable now (state R in /proc/self/task/*/stat)."""
    count = 0
    for stat in Path("/proc/self/task").glob("*/stat"):
        try:
            count += stat.read_text().rpartition(")")[2].split()[0] == "R"
        except (OSError, IndexError):
            continue
    return count


class _Own:
    """This process's share of the load average: an average of its CPU use with the load's own 1-minute decay."""

    def __init__(self):
        self.wall, self.cpu, self.load = time.monotonic(), time.process_time(), 0.0

    def update(self) -> float:
        wall, cpu = time.monotonic(), time.process_time()
        if wall > self.wall:
            keep = math.exp(-(wall - self.wall) / LOAD_WINDOW)
            self.load = self.load * keep + (cpu - self.cpu) / (wall - self.wall) * (1 - keep)
        self.wall, self.cpu = wall, cpu
        return self.load


def others_load(own: float) -> float:
    """How many cores other processes keep busy: the larger of the 1-minute load less ours, and now.

    The load average lags a minute behind (K notebooks started together see none of each other at
    first); the count of runnable tasks now is noisy, so the least of three readings counts.
    """
    try:
        lagged = os.getloadavg()[0] - own
    except (AttributeError, OSError):  # Windows has no load average
        lagged = 0.0
    readings = []
    for _ in range(3):
        try:
            readings.append(running_now(Path("/proc/loadavg").read_text(), _own_running()))
        except OSError:
            readings.append(0)
        time.sleep(0.001)
    return max(lagged, min(readings))


def cpu_facts() -> tuple[int, float | None, int]:
    """(CPUs in this process's affinity, cgroup quota in CPUs or None, CPUs of the machine)."""
    online = os.cpu_count() or 1
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else online
    return affinity, cgroup_quota(), online


class _State:
    default = torch.get_num_threads()  # torch's own choice, before labvae changes it
    ours: int | None = None  # the count fit_threads last set; anything else is a user's choice
    own = _Own()
    last: Decision | None = None
    at = -math.inf  # when fit_threads last decided (time.monotonic)


def user_choice() -> str:
    """Why the threads are the user's to choose ('' when they are labvae's): an environment variable or a call."""
    for name in USER_VARIABLES:
        if os.environ.get(name, "").strip():
            return f"{name} is set"
    if torch.get_num_threads() != (_State.default if _State.ours is None else _State.ours):
        return "torch.set_num_threads was called"
    return ""


def fit_threads() -> Decision:
    """Set torch's thread count to what fits this CPU now (unless the user chose one); returns the decision."""
    choice = user_choice()
    if choice:
        return Decision(torch.get_num_threads(), f"{choice}: labvae leaves the threads alone")
    if _State.last is not None and time.monotonic() - _State.at < MIN_INTERVAL:
        return _State.last
    own = _State.own.update()
    affinity, quota, online = cpu_facts()
    decision = decide_threads(_State.default, affinity, quota, online, others_load(own))
    if decision.threads != torch.get_num_threads():
        torch.set_num_threads(decision.threads)
        log.info("labvae: %d torch threads (%s)", decision.threads, decision.reason)
    _State.ours, _State.last, _State.at = decision.threads, decision, time.monotonic()
    return decision
