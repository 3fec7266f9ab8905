"""Running one student's notebook: a fresh kernel, the student's cells top to bottom, then each check."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..._io import atomic_write
from .submissions import GradeError

DEFAULT_TIMEOUT = 300  # s per notebook: the lab notebooks load warmed checkpoints and run in well under a minute
CHECK_TIMEOUT = 60  # s per check: a check calls the student's function once or twice; longer means it hangs
BLANK = "YOUR ANSWER HERE"  # what the student edition leaves in a written answer

# Trains (or loads) every checkpoint the lab notebooks load, once, before any student's kernel starts,
# so that no student's time limit pays for training and all students' notebooks load the same models.
WARMUP = """\
import labvae
from labvae.analysis import load_or_train_classifier
from labvae.config import MODELS
cfg = labvae.lab_config(progress=False)
x_train, y_train, x_test, y_test = cfg.load_data()
for name in MODELS:
    cfg.model(name, x_train, x_test)
load_or_train_classifier(cfg.out / "classifier.pt", x_train, y_train, x_test, y_test)
"""

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
    print({marker!r} + json.dumps(out))
_labvae_grade()
del _labvae_grade
"""


class _Interrupted(Exception):
    """Ctrl-C in the main thread: a worker's notebook stops where it is."""


@dataclass
class NotebookResult:
    """What running one student's notebook gave: per exercise (status, message), or why it could not run."""

    results: dict[str, tuple[str, str]] = field(default_factory=dict)
    failure: str = ""  # non-empty: the notebook scores 0, and this says why
    cell_errors: list[str] = field(default_factory=list)
    answers: dict[str, str | None] = field(default_factory=dict)  # written exercise -> text; None: cell gone
    seconds: float = 0.0


_LIVE: dict = {}  # thread id -> kernel process (Popen), so Ctrl-C can stop every kernel
_LIVE_LOCK = threading.Lock()
_STOP = threading.Event()  # set on Ctrl-C: workers start no new notebook and report nothing


def answer_text(nb, ex) -> str | None:
    """The student's answer to a written exercise: the markdown cell whose nbgrader grade_id is its key."""
    for cell in nb.cells:
        meta = cell.get("metadata", {})
        ids = (meta.get("nbgrader", {}).get("grade_id"), meta.get("exercise"))  # student and solution editions
        if cell.cell_type == "markdown" and (ex.key in ids or ex.key in meta.get("tags", [])):
            return cell.source.strip()
    return None


def run_notebook(path: Path, exercises, *, env: dict, cwd: Path, timeout: float,
                 check_timeout: float = CHECK_TIMEOUT, registry: str = "labvae.course.exercises",
                 save: Path | None = None) -> NotebookResult:
    """Execute a notebook in a fresh kernel (cells may raise), then each exercise's check in that kernel."""
    import nbformat
    from jupyter_client import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    t0 = time.perf_counter()
    res = NotebookResult()
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as e:  # corrupt JSON, not a notebook, unreadable file: all say the same to a marker
        res.failure = f"{path.name} cannot be read as a notebook ({str(e).splitlines()[0][:120] if str(e) else type(e).__name__})"
        return res
    for ex in exercises:
        if ex.manual:
            text = answer_text(nb, ex)
            res.answers[ex.key] = None if text is None else "" if BLANK in text else text
    auto = [ex for ex in exercises if not ex.manual and ex.check is not None]
    if not auto:
        res.seconds = time.perf_counter() - t0
        return res  # written answers only: nothing to execute

    # The grader's own Python runs every kernel, whatever kernel the student's notebook names.
    km = AsyncKernelManager(kernel_name="python3", kernel_spec_manager=_grader_python())
    client = NotebookClient(nb, km=km, allow_errors=True, record_timing=False, shutdown_kernel="immediate")
    index, kernel = 0, None
    try:
        with client.setup_kernel(env=env, cwd=str(cwd), cleanup_kc=True,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            kernel = client.km.provisioner.process  # the kernel's Popen, to kill it if all else fails
            with _LIVE_LOCK:  # _STOP is set before the kill sweep: a kernel registered after it stops here
                if _STOP.is_set():
                    raise _Interrupted
                _LIVE[threading.get_ident()] = kernel
            deadline = time.monotonic() + timeout
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                if _STOP.is_set():
                    raise _Interrupted
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CellTimeoutError("out of time")
                client.timeout = max(1, int(left))
                client.execute_cell(cell, index)
                for out in cell.get("outputs", []):
                    if out.get("output_type") == "error":
                        res.cell_errors.append(f"cell {index + 1}: {out.get('ename')}: {out.get('evalue', '')}"[:160])
            # A check that hangs (the student's function loops) costs only its own exercise.
            client.interrupt_on_timeout, client.timeout = True, max(1, int(check_timeout))
            marker = f"@@labvae-grade-{secrets.token_hex(8)}@@"  # unguessable: student output cannot fake it
            for ex in auto:
                cell = nbformat.v4.new_code_cell(CHECK_CELL.format(registry=registry, key=ex.key, marker=marker,
                                                                    check_timeout=check_timeout))
                nb.cells.append(cell)  # nbclient writes the executed cell back into the notebook
                client.execute_cell(cell, len(nb.cells) - 1, store_history=False)
                nb.cells.pop()
                res.results[ex.key] = _parse_check(cell, marker, check_timeout)
    except _Interrupted:
        res.failure = "interrupted"
    except CellTimeoutError:
        res.failure = f"the notebook ran longer than the {timeout:g} s limit (stopped in cell {index + 1})"
    except DeadKernelError:
        res.failure = f"the kernel died in cell {index + 1} (the code exited, crashed or ran out of memory)"
    except Exception as e:  # the kernel did not start, or nbclient failed: this notebook only
        res.failure = f"the grader could not run the notebook ({type(e).__name__}: {str(e)[:120]})"
    finally:
        with _LIVE_LOCK:
            _LIVE.pop(threading.get_ident(), None)
        _kill(kernel)  # setup_kernel has shut it down; this catches a kernel left behind by Ctrl-C
        _cancel_pending()
    if save is not None:  # what the student's code printed and drew, for the instructor to look at
        atomic_write(save, lambda f: f.write(nbformat.writes(nb).encode()))
    res.seconds = time.perf_counter() - t0
    return res


def _grader_python():
    """A kernel-spec manager whose every kernel is this Python: a user's own python3 spec cannot redirect it."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

    class GraderPython(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                              display_name="Python (labvae grade)", language="python")

    return GraderPython()


def _parse_check(cell, marker: str, check_timeout: float) -> tuple[str, str]:
    text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
    for line in text.splitlines():
        if line.startswith(marker):
            status, message = json.loads(line[len(marker):])
            if status not in ("pass", "wrong", "not done"):
                status = "error"
            return status, message
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if errors and errors[0].get("ename") != "KeyboardInterrupt":
        return "error", f"the check could not run: {errors[0].get('ename')}: {errors[0].get('evalue', '')}"[:200]
    return "error", f"the check did not finish within {check_timeout:g} s; the function may never return"


def _kill(kernel) -> None:
    """SIGKILL a kernel's process group (kernels run in their own session), if it is still running."""
    if kernel is not None and kernel.poll() is None:
        try:
            os.killpg(kernel.pid, signal.SIGKILL)
        except OSError:
            pass  # it ended meanwhile


def _cancel_pending() -> None:
    """Cancel what nbclient left running on this thread's event loop after a timeout or a dead kernel."""
    import asyncio

    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        return
    if loop.is_running() or loop.is_closed():
        return
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in tasks:
        t.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


def _kill_live_kernels() -> None:
    with _LIVE_LOCK:
        kernels = list(_LIVE.values())
    for kernel in kernels:
        _kill(kernel)


def kernel_env(work: Path, smoke: bool, data: str | None) -> dict:
    """The environment each kernel sees: mode, data, and a cache inside the run's folder."""
    from ...data import data_root

    package_parent = str(Path(__file__).resolve().parents[3])  # the kernels import this same labvae
    return {**os.environ,
            "LABVAE_SMOKE": "1" if smoke else "0",
            "LABVAE_DATA": str(data_root(data).resolve()),
            "LABVAE_CACHE": str(work / "cache"),
            "PYTHONPATH": os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH")) if p)}


def warm_up(warm: Path, env: dict) -> None:
    """Train (or load) the checkpoints the notebooks load, in warm/, before any student's kernel."""
    warm.mkdir(parents=True, exist_ok=True)
    r = subprocess.run([sys.executable, "-c", WARMUP], cwd=warm, env={**env, "LABVAE_CACHE": str(warm / "cache")},
                       capture_output=True, text=True)
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["(no message)"])[-1]
        last = re.sub(r"^[\w.]+(Error|Exception): ", "", last)  # the sentence, not the exception's class
        raise GradeError(f"could not prepare the models the notebooks load: {last}")
