"""Running one student's notebook: a fresh kernel, the student's cells top to bottom, then each check."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..._io import atomic_write
from . import limits
from .kernel import (
    _STOP,
    CHECK_OUTPUT_CAP,
    Interrupted,
    cancel_pending,
    capped_client,
    kernel_manager,
    kill,
    register,
    tripped,
    unregister,
)
from .runfolder import Quota

DEFAULT_TIMEOUT = 300  # s per notebook: the lab notebooks load warmed checkpoints and run in well under a minute
CHECK_TIMEOUT = 60  # s per check: a check calls the student's function once or twice; longer means it hangs
BLANK = "YOUR ANSWER HERE"  # what the student edition leaves in a written answer
GRACE = 5  # s an interrupted check has to give the kernel back before the kernel is killed
STARTUP = 60  # s a kernel may take to start (nbclient's own limit)
MESSAGE_CHARS = 500  # of a check's message: it may quote what the student's function returned

# Run in the student's kernel after their cells: one exercise's check on the object their code bound.
CHECK_CELL = """\
def _labvae_grade():
    import importlib, json
    ex = {{e.key: e for e in importlib.import_module({registry!r}).EXERCISES}}[{key!r}]
    if ex.symbol not in globals():
        out = ["not done", f"{{ex.symbol}} is not defined: its cell was deleted, renamed or never ran"]
    else:
        try:
            r = ex.check(globals()[ex.symbol])
            out = [r.status, r.message]
        except KeyboardInterrupt:  # the grader's time limit: the student's function did not return
            out = ["error", "the check did not finish within {check_timeout:g} s; the function may never return"]
        except BaseException as e:  # checks should never raise; if one does, the grader says so
            out = ["error", f"the check raised {{type(e).__name__}}: {{e}}"]
    return {marker!r} + json.dumps(out)
_labvae_out = _labvae_grade()
del _labvae_grade
raise RuntimeError(_labvae_out)  # the result rides in the execute reply, which no printed output can crowd out
"""


@dataclass
class NotebookResult:
    """What running one student's notebook gave: per exercise (status, message), or why it could not run."""

    results: dict[str, tuple[str, str]] = field(default_factory=dict)
    failure: str = ""  # non-empty: the notebook scores 0, and this says why
    cell_errors: list[str] = field(default_factory=list)
    answers: dict[str, str | None] = field(default_factory=dict)  # written exercise -> text; None: cell gone
    seconds: float = 0.0


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}  # a notebook's metadata is the student's: any JSON at all


def answer_text(nb, ex) -> str | None:
    """The student's answer to a written exercise: the markdown cell whose nbgrader grade_id is its key."""
    for cell in nb.cells:
        meta = _dict(cell.get("metadata"))
        tags = meta.get("tags") if isinstance(meta.get("tags"), list) else []
        if cell.get("cell_type") == "markdown" and (_dict(meta.get("nbgrader")).get("grade_id") == ex.key
                                                   or ex.key in tags):
            source = cell.get("source", "")
            return (source if isinstance(source, str) else "".join(map(str, source))).strip()
    return None


def _answer(text: str | None) -> str | None:
    """What counts as the answer: the text without the edition's placeholder, which alone means blank."""
    return None if text is None else text.replace(BLANK, "").strip()


def run_notebook(path: Path, exercises, *, env: dict, cwd: Path, timeout: float,
                 check_timeout: float = CHECK_TIMEOUT, registry: str = "labvae.course.checks.exercises",
                 save: Path | None = None, sandbox=None, cfg=None) -> NotebookResult:
    """Execute a notebook in a fresh kernel (cells may raise), then each exercise's check in that kernel.

    sandbox: a sandbox.Sandbox to run the kernel in (its env, not `env`, is what the kernel sees), or None;
    cfg: the kernels' LabConfig (verdicts.kernels_config)."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    t0 = time.perf_counter()
    deadline = time.monotonic() + timeout  # reading the notebook counts against its time, as its cells do
    res = NotebookResult()
    try:
        nb = limits.read_notebook(path, deadline)
        answers = {ex.key: _answer(answer_text(nb, ex)) for ex in exercises if ex.manual}
    except Exception as e:  # corrupt JSON, not a notebook, unreadable file: all say the same to a marker
        res.failure = f"{path.name} cannot be read as a notebook ({str(e).splitlines()[0][:160] if str(e) else type(e).__name__})"
        res.seconds = time.perf_counter() - t0
        return res
    res.answers = answers
    auto = [ex for ex in exercises if not ex.manual and ex.check is not None]
    if not auto:
        res.seconds = time.perf_counter() - t0
        return res  # written answers only: nothing to execute

    km = kernel_manager(sandbox)
    client = capped_client(nb, km)
    # The last word on time: whatever the kernel or nbclient does, the kernel is killed by then.
    limit, fired = STARTUP + timeout + len(auto) * (check_timeout + GRACE) + GRACE, threading.Event()
    watchdog = threading.Timer(limit, lambda: (fired.set(), kill(km)))
    watchdog.daemon = True
    index, stuck, started = 0, "", time.monotonic()
    quota = Quota(cwd, lambda: kill(km))
    try:
        watchdog.start()
        with quota, client.setup_kernel(env=env, cwd=str(cwd), cleanup_kc=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            register(km)
            deadline += time.monotonic() - started  # the kernel's start is not the notebook's time; reading was
            for index, cell in enumerate(nb.cells):
                if cell.get("cell_type") != "code":
                    continue
                if _STOP.is_set():
                    raise Interrupted
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CellTimeoutError("out of time")
                client.timeout = max(1, int(left))
                client.run(cell, index)
                for out in cell.get("outputs", []):
                    if out.get("output_type") == "error":
                        res.cell_errors.append(f"cell {index + 1}: {out.get('ename')}: {out.get('evalue', '')}"[:160])
            # Checks: a hung one is interrupted; a kernel that ignores the interrupt is killed.
            client.interrupt_on_timeout, client.error_on_timeout = True, {"ename": "Timeout", "evalue": ""}
            for ex in auto:
                if stuck:
                    res.results[ex.key] = ("error", f"not checked: {stuck}")
                    continue
                res.results[ex.key] = _check(client, nb, ex, registry, check_timeout, cfg)
                if client.timed_out and not _recovered(client):
                    kill(km)
                    stuck = (f"the kernel was stopped when the check of {ex.key} ran past {check_timeout:g} s "
                             "and ignored the interrupt")
                elif res.results[ex.key][1].startswith("the kernel died"):
                    stuck = f"the kernel died during the check of {ex.key}"
    except Interrupted:
        res.failure = "interrupted"
    except CellTimeoutError:
        res.failure = f"the notebook ran longer than the {timeout:g} s limit (stopped in cell {index + 1})"
    except DeadKernelError:
        res.failure = (f"the kernel died in cell {index + 1} (the code exited, crashed, ran out of memory "
                       "or past the sandbox's limits)")
    except Exception as e:  # the kernel did not start, or nbclient failed: this notebook only
        res.failure = f"the grader could not run the notebook ({type(e).__name__}: {str(e)[:120]})"
    finally:
        watchdog.cancel()
        unregister()
        kill(km)  # setup_kernel has shut it down; this catches a kernel left behind by Ctrl-C
        cancel_pending()
    if fired.is_set():
        res.failure = f"the notebook ran past the grader's hard limit of {limit:g} s and was killed"
    if quota.exceeded:
        res.failure = f"{quota.exceeded}, so its kernel was stopped"
    if tripped():
        res.failure = tripped()
    if save is not None:  # what the student's code printed and drew, for the instructor to look at
        try:
            atomic_write(save, lambda f: f.write(limits.dumps(nb).encode()))
        except Exception:  # odd metadata nbformat will not write: the marks stand without the copy
            pass
    res.seconds = time.perf_counter() - t0
    return res


def _check(client, nb, ex, registry: str, check_timeout: float, cfg=None) -> tuple[str, str]:
    """One exercise's check; what the kernel sends comes back in the reply, after a marker made for it alone.

    A split check (verdicts.is_split) only collects the student's outputs in the kernel, on inputs from a
    fresh seed, and is decided here (cfg: the kernels' config); a custom registry's other checks run whole there."""
    import nbformat
    from nbclient.exceptions import DeadKernelError

    from . import verdicts  # torch: loaded when the first check runs

    marker = f"@@labvae-grade-{secrets.token_hex(8)}@@"
    split, seed = verdicts.is_split(ex), verdicts.new_seed()
    source = (verdicts.collect_cell(registry, ex.key, seed, marker) if split else
              CHECK_CELL.format(registry=registry, key=ex.key, marker=marker, check_timeout=check_timeout))
    cell = nbformat.v4.new_code_cell(source)
    client.timeout, client.timed_out = max(1, int(check_timeout)), False
    client.cap, client.kept, client.dropped = CHECK_OUTPUT_CAP, 0, 0
    nb.cells.append(cell)  # nbclient writes the executed cell back into the notebook
    try:
        reply = client.run(cell, len(nb.cells) - 1, store_history=False)
    except DeadKernelError:
        return "error", "the kernel died during the check (the function exited, crashed or ran out of memory)"
    finally:
        nb.cells.pop()
    if client.timed_out:
        return "error", f"the check did not finish within {check_timeout:g} s; the function may never return"
    if split:
        status, message = verdicts.decide(ex, reply, marker, seed, check_timeout, cfg)
        return status, message[:MESSAGE_CHARS]
    return _parse_check(reply, marker, check_timeout)


def _recovered(client) -> bool:
    """After an interrupted check: True when the kernel runs a trivial cell again within GRACE seconds."""
    import nbformat
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    probe = nbformat.v4.new_code_cell("pass")
    client.interrupt_on_timeout, client.timeout = False, GRACE
    try:
        client.nb.cells.append(probe)
        client.run(probe, len(client.nb.cells) - 1, store_history=False)
        return True
    except (CellTimeoutError, DeadKernelError):
        return False
    finally:
        client.nb.cells.pop()
        client.interrupt_on_timeout = True


def _parse_check(reply: dict, marker: str, check_timeout: float) -> tuple[str, str]:
    """(status, message) from a check cell's execute reply, whose error value carries the result."""
    content = (reply or {}).get("content") or {}
    ename, evalue = str(content.get("ename", "")), str(content.get("evalue", ""))
    if evalue.startswith(marker):
        try:
            status, message = json.loads(evalue[len(marker):])
        except (ValueError, TypeError):
            return "error", "the check's result was garbled"
        return (status if status in ("pass", "wrong", "not done") else "error"), str(message)[:MESSAGE_CHARS]
    if ename == "KeyboardInterrupt":
        return "error", f"the check did not finish within {check_timeout:g} s; the function may never return"
    return "error", f"the check could not run: {ename or 'no result'}: {evalue}"[:200]


PACKAGE = Path(__file__).resolve().parents[2]  # labvae/: the kernels import this same labvae, read-only


def kernel_env(work: Path, smoke: bool, data: str | None, paths=(), jobs: int = 1) -> dict:
    """The variables each kernel gets: mode, data, precision, threads, a cache in the run's folder, where labvae is."""
    from ...data import data_root

    # Each kernel computes on its share of the cores, unless you set OMP_NUM_THREADS: kernels that each
    # start a thread per core thrash (on 2 cores, 03 took 44 s per notebook at --jobs 2, 12 s at --jobs 1).
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    threads = os.environ.get("OMP_NUM_THREADS") or str(max(1, cores // jobs))

    # The grader's LABVAE_PRECISION too: the warm-up's checkpoints are keyed by it, and kernels that
    # resolved another precision would not load them, and would train once per student.
    return {"LABVAE_SMOKE": "1" if smoke else "0",
            "LABVAE_DATA": str(data_root(data).resolve()),
            "LABVAE_CACHE": str(work / "cache"),
            "LABVAE_PRECISION": os.environ.get("LABVAE_PRECISION") or "auto", "OMP_NUM_THREADS": threads,
            "PYTHONPATH": os.pathsep.join([str(PACKAGE.parent), *map(str, paths)])}


def trusted_env(env: dict) -> dict:
    """env on top of the grader's own environment, for unsandboxed kernels and the warm-up."""
    return {**os.environ, **env,
            "PYTHONPATH": os.pathsep.join(p for p in (env["PYTHONPATH"], os.environ.get("PYTHONPATH")) if p)}


def copy_registry(registry: str, into: Path) -> Path | None:
    """Copy a registry module that lives outside labvae into `into` (for sandboxes to read); None if in labvae."""
    import importlib.util
    import shutil

    top = registry.split(".")[0]
    spec = importlib.util.find_spec(top)
    if top == PACKAGE.name or spec is None or spec.origin is None:
        return None
    into.mkdir(parents=True, exist_ok=True)
    if spec.submodule_search_locations:  # a package: all of it
        shutil.copytree(next(iter(spec.submodule_search_locations)), into / top, dirs_exist_ok=True)
    else:
        shutil.copy2(spec.origin, into / Path(spec.origin).name)
    return into
