"""Headless grading: run each student's notebooks in a fresh kernel, apply labvae.checks, write a CSV."""

from __future__ import annotations

import argparse
import csv
import importlib
import importlib.util
import io
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from ._io import atomic_write

COLUMNS = ("student", "notebook", "exercise", "title", "status", "points", "max_points", "message", "cell_errors")
DEFAULT_TIMEOUT = 300  # s per notebook: the lab notebooks load warmed checkpoints and run in well under a minute
CHECK_TIMEOUT = 60  # s per check: a check calls the student's function once or twice; longer means it hangs
BLANK = "YOUR ANSWER HERE"  # what the student edition leaves in a written answer

# Trains (or loads) every checkpoint the lab notebooks load, once, before any student's kernel starts,
# so that no student's time limit pays for training and all students' notebooks load the same models.
WARMUP = """\
import labvae
from labvae import compare
from labvae.config import MODELS
cfg = labvae.lab_config(progress=False)
x_train, y_train, x_test, y_test = cfg.load_data()
for name in MODELS:
    cfg.model(name, x_train, x_test)
compare.load_or_train_classifier(cfg.out / "classifier.pt", x_train, y_train, x_test, y_test)
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


class GradeError(ValueError):
    """Bad input to the grader: one sentence saying what is wrong."""


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


# ---- finding the submissions ----------------------------------------------------------------

def lab_notebook(name: str, stems) -> tuple[str, str] | None:
    """(stem, student prefix) when a file is a lab notebook: 02_vae_sweep.ipynb or alice_02_vae_sweep.ipynb."""
    if not name.endswith(".ipynb"):
        return None
    base = name[: -len(".ipynb")]
    for stem in stems:
        if base == stem:
            return stem, ""
        if base.endswith(stem) and base[-len(stem) - 1] in "_-. ":
            return stem, base[: -len(stem) - 1]
    return None


def _notebooks_under(folder: Path, stems) -> list[tuple[Path, str, str]]:
    found = []
    for p in sorted(folder.rglob("*.ipynb")):
        if any(part.startswith(".") for part in p.relative_to(folder).parts):
            continue  # .ipynb_checkpoints and other hidden copies are not the submission
        if (m := lab_notebook(p.name, stems)) is not None:
            found.append((p, *m))
    return found


def collect(paths, stems) -> dict[str, dict[str, Path]]:
    """Student id -> {notebook stem: file}, from notebook files and folders (see the grade --help)."""
    subs: dict[str, dict[str, Path]] = {}

    def add(student: str, stem: str | None = None, path: Path | None = None) -> None:
        have = subs.setdefault(student, {})
        if stem is None:
            return
        if stem in have and have[stem].resolve() != path.resolve():
            raise GradeError(f"{student} has two copies of {stem}.ipynb ({have[stem]} and {path}); keep one and run again.")
        have[stem] = path

    def folder(d: Path, top: bool) -> None:
        found = _notebooks_under(d, stems)
        if not found:
            if top:
                raise GradeError(f"{d} holds no lab notebook; expected files named like {stems[0]}.ipynb "
                                 f"(or alice_{stems[0]}.ipynb).")
            add(d.name)  # a student who submitted nothing recognisable still gets rows
            return
        keys = [(prefix, stem) for _, stem, prefix in found]
        if len(set(keys)) == len(keys):  # each lab notebook at most once: one student's submission
            for path, stem, prefix in found:
                add(prefix or d.resolve().name, stem, path)
            return
        for child in sorted(d.iterdir()):  # a folder of submissions: one per subfolder or name prefix
            if child.name.startswith("."):
                continue
            if child.is_dir():
                folder(child, top=False)
            elif (m := lab_notebook(child.name, stems)) is not None:
                add(m[1] or d.resolve().name, m[0], child)

    for given in paths:
        p = Path(given)
        if not p.exists():
            raise GradeError(f"{given} does not exist; give students' notebooks, or folders holding them.")
        if p.is_dir():
            folder(p, top=True)
        elif (m := lab_notebook(p.name, stems)) is not None:
            add(m[1] or p.resolve().parent.name, m[0], p)
        else:
            raise GradeError(f"{given} is not a lab notebook; its name must end in one of "
                             f"{', '.join(s + '.ipynb' for s in stems)}.")
    return subs


# ---- running one notebook -------------------------------------------------------------------

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
                 check_timeout: float = CHECK_TIMEOUT, registry: str = "labvae.checks",
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


# ---- the whole run --------------------------------------------------------------------------

def kernel_env(work: Path, smoke: bool, data: str | None) -> dict:
    """The environment each kernel sees: mode, data, and a cache inside the run's folder."""
    from .data import data_root

    package_parent = str(Path(__file__).resolve().parents[1])  # the kernels import this same labvae
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


def grade(paths, out: Path, *, timeout: float = DEFAULT_TIMEOUT, check_timeout: float = CHECK_TIMEOUT,
          smoke: bool = False, data: str | None = None, work: Path | None = None, jobs: int = 1,
          registry: str = "labvae.checks", warm: bool = True, say=print) -> list[dict]:
    """Grade every submission; write out (CSV) and, for written exercises, out's -answers.md; return the rows."""
    if not paths:
        raise GradeError("no submissions given; pass students' notebooks or folders holding them.")
    missing = [m for m in ("nbformat", "nbclient", "ipykernel") if importlib.util.find_spec(m) is None]
    if missing:  # not needed by students, so not in labvae's own dependencies
        raise GradeError(f"grading runs notebooks and needs {', '.join(missing)}; "
                         "install them with: pip install 'labvae[instructor]'.")
    if out.is_dir():
        raise GradeError(f"--out {out} is a folder; give a file name such as grades.csv.")
    for p in paths:
        if not Path(p).exists():
            raise GradeError(f"{p} does not exist; give students' notebooks, or folders holding them.")
    exercises = importlib.import_module(registry).EXERCISES
    subs = collect(paths, list(dict.fromkeys(ex.notebook for ex in exercises)))
    keep = work is not None
    work = Path(work) if keep else Path(tempfile.mkdtemp(prefix="labvae-grade-"))
    try:
        env = kernel_env(work, smoke, data)
        if warm:
            t0 = time.perf_counter()
            say("preparing the models the notebooks load ...")
            warm_up(work / "warm", env)
            say(f"models ready ({time.perf_counter() - t0:.1f} s)")
        jobs_list = [(s, stem, p) for s in sorted(subs) for stem, p in sorted(subs[s].items())]
        results = _run_all(jobs_list, exercises, env, work, keep, timeout, check_timeout, registry, jobs, say)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    rows = _rows(subs, exercises, results)
    atomic_write(out, lambda f: f.write(_csv(rows).encode()))
    answers = _answers_markdown(subs, exercises, results)
    if answers:
        atomic_write(answers_path(out), lambda f: f.write(answers.encode()))
    say(summary(rows, results, {ex.key for ex in exercises if ex.manual}))
    say(f"wrote {out}" + (f" and {answers_path(out)}" if answers else ""))
    return rows


def answers_path(out: Path) -> Path:
    return out.with_name(out.stem + "-answers.md")


def _run_all(jobs_list, exercises, env, work, keep, timeout, check_timeout, registry, jobs, say):
    """Grade (student, stem, path) items, jobs at a time; Ctrl-C stops every kernel before returning."""
    results: dict[tuple[str, str], NotebookResult] = {}

    def one(student, stem, path):
        if _STOP.is_set():
            return NotebookResult(failure="interrupted")
        run_dir = work / "runs" / re.sub(r"[^\w.-]", "_", student) / stem
        if (work / "warm").is_dir() and any(e.notebook == stem and not e.manual for e in exercises):
            shutil.copytree(work / "warm", run_dir, dirs_exist_ok=True)  # a private copy: students cannot meet
        run_dir.mkdir(parents=True, exist_ok=True)
        ex = [e for e in exercises if e.notebook == stem]
        res = run_notebook(path, ex, env={**env, "LABVAE_CACHE": str(run_dir / "cache")}, cwd=run_dir,
                           timeout=timeout, check_timeout=check_timeout, registry=registry,
                           save=run_dir / f"{stem}.executed.ipynb" if keep else None)
        if not keep:
            shutil.rmtree(run_dir, ignore_errors=True)
        if _STOP.is_set():
            return res
        done = sum(s == "pass" for s, _ in res.results.values())
        what = res.failure or (f"{done}/{len(res.results)} checks pass" if res.results else "written answers read")
        say(f"  {student} {stem}: {what}"
            + (f", {len(res.cell_errors)} cell(s) raised" if res.cell_errors else "") + f" ({res.seconds:.1f} s)")
        return res

    _STOP.clear()
    pool = ThreadPoolExecutor(max_workers=max(1, jobs))
    futures = {pool.submit(one, *item): item[:2] for item in jobs_list}
    try:
        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
    except BaseException:
        _STOP.set()
        for fut in futures:
            fut.cancel()
        _kill_live_kernels()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return results


def _rows(subs, exercises, results) -> list[dict]:
    rows = []
    for student in sorted(subs):
        for ex in exercises:
            res = results.get((student, ex.notebook))
            row = {"student": student, "notebook": ex.notebook, "exercise": ex.key, "title": ex.title,
                   "max_points": f"{ex.points:g}", "cell_errors": "; ".join(res.cell_errors) if res else ""}
            if res is None:
                status, message = "not done", f"{ex.notebook}.ipynb was not submitted"
            elif res.failure:
                status, message = "error", res.failure + "; 0 marks"
            elif ex.manual:
                text = res.answers.get(ex.key)
                status = "manual" if text else "not done"
                where = "to mark by hand: answer in the -answers.md file" if ex.points else "practice, not marked"
                message = (f"{where} ({len(text.split())} words)" if text else "no answer written" if text == ""
                           else f"the answer cell ({ex.key}) is missing: it was deleted or replaced")
            else:
                status, message = res.results.get(ex.key, ("error", "the check did not run"))
            points = "" if status == "manual" else f"{ex.points if status == 'pass' else 0:g}"
            rows.append({**row, "status": status, "points": points, "message": message})
    return rows


def _csv(rows) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _answers_markdown(subs, exercises, results) -> str:
    """Written answers grouped by exercise, one section per student: a marker reads one question at a time."""
    manual = [ex for ex in exercises if ex.manual and ex.points]  # predictions (0 marks) stay in the CSV
    if not manual:
        return ""
    parts = ["# Written answers to mark by hand\n"]
    for ex in manual:
        marks = f"{ex.points:g} mark" + ("" if ex.points == 1 else "s")
        parts.append(f"\n## {ex.key}: {ex.title} ({marks}, {ex.notebook})\n")
        for student in sorted(subs):
            res = results.get((student, ex.notebook))
            text = "" if res is None or res.failure else res.answers.get(ex.key) or ""
            parts.append(f"\n### {student}\n\n{text or '*(no answer)*'}\n")
    return "".join(parts)


def summary(rows, results, manual_keys) -> str:
    """Per student: auto-marked points, written answers left to mark, and what went wrong."""
    lines = [f"{'student':<24}{'marks':>12}  {'to mark':<9}notes"]
    for student in dict.fromkeys(r["student"] for r in rows):
        mine = [r for r in rows if r["student"] == student]
        got = sum(float(r["points"] or 0) for r in mine)
        best = sum(float(r["max_points"]) for r in mine if r["exercise"] not in manual_keys)
        manual = sum(r["status"] == "manual" and float(r["max_points"]) > 0 for r in mine)
        notes = [f"{stem}: {res.failure}" for (s, stem), res in sorted(results.items()) if s == student and res.failure]
        raised = sum(len(res.cell_errors) for (s, _), res in results.items() if s == student)
        notes += [f"{raised} cell(s) raised"] if raised else []
        lines.append(f"{student:<24}{f'{got:g} / {best:g}':>12}  {manual or '':<9}{'; '.join(notes)}")
    return "\n".join(lines)


# ---- command line ---------------------------------------------------------------------------

GRADE_HELP = """\
submissions: each SUBMISSION is a notebook file or a folder.
  - a lab notebook is recognised by its name: 02_vae_sweep.ipynb, or alice_02_vae_sweep.ipynb
    (the part before the notebook's name is then the student id);
  - a folder in which each lab notebook occurs at most once (at any depth) is ONE student's
    submission, and the folder's name is the student id: submitted/alice/lab8/02_vae_sweep.ipynb
    passed as submitted/alice grades alice;
  - a folder holding several copies of a lab notebook is a folder of submissions: each
    subfolder is one student (named by the subfolder), as is each name prefix of the
    notebooks lying directly in it. So `grade submitted/` and `grade submitted/*` do the same
    (except when there is only one student, where only `submitted/*` names them right).
  Hidden folders (.ipynb_checkpoints) are skipped; notebooks that are not lab notebooks are ignored.

how it runs: each notebook gets a fresh kernel in its own folder, with the student's cells run
top to bottom; a cell that raises is recorded (cell_errors column) and the rest still run. Then
each exercise's check runs in that kernel on what the student's code defined. A notebook that
cannot be read, runs past --timeout or whose kernel dies scores 0 for its exercises (status
"error", the reason in message). Before the first kernel, the models the notebooks load are
trained once (or loaded), so every student's notebook loads the same checkpoints.

writes: --out, a CSV with one row per student and exercise: student, notebook, exercise,
title, status (pass / wrong / not done / error / manual), points, max_points, message,
cell_errors. Written exercises have status "manual" and an empty points cell; their answers
go to OUT-answers.md (grades-answers.md for grades.csv), grouped by exercise."""


def add_parser(sub) -> None:
    """The `grade` subcommand's arguments, on the CLI's subparsers."""
    p = sub.add_parser("grade", help="run students' notebooks headless and write their marks to a CSV",
                       description="Grade students' lab notebooks: run each in a fresh kernel, apply the "
                                   "exercise checks, write one CSV row per student and exercise.",
                       epilog=GRADE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("submissions", nargs="*", metavar="SUBMISSION", help="a student's notebook, a student's "
                   "folder, or a folder of students' folders (see below)")
    p.add_argument("--out", type=Path, default=Path("grades.csv"), help="the CSV to write (default: grades.csv)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"seconds one notebook's cells may run in all (default: {DEFAULT_TIMEOUT})")
    p.add_argument("--smoke", action="store_true", help="run the notebooks on small generated data with few "
                   "epochs (LABVAE_SMOKE=1): fast, for trying the grader out; marks use the same checks")
    p.add_argument("--data", metavar="ROOT", default=None,
                   help="folder holding FashionMNIST/raw/ for the notebooks (default: $LABVAE_DATA)")
    p.add_argument("--work", type=Path, default=None, help="keep each notebook's run folder under "
                   "WORK/runs/STUDENT/NOTEBOOK/ (NOTEBOOK.executed.ipynb with its outputs, files it wrote), and "
                   "the warmed models in WORK/warm/ for the next run (default: a temp folder, removed)")
    p.add_argument("--jobs", type=int, default=1, help="notebooks graded at once (default: 1; each kernel "
                   "trains and decodes on all cores)")


def main(args: argparse.Namespace) -> int:
    """Run `python -m labvae grade` with parsed arguments; 0 when every submission was graded."""
    if args.timeout <= 0 or args.jobs < 1:
        print("labvae: error: --timeout must be above 0 and --jobs at least 1.", file=sys.stderr)
        return 2
    old = signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops kernels like Ctrl-C
    try:
        grade(args.submissions, args.out, timeout=args.timeout, smoke=args.smoke, data=args.data,
              work=args.work, jobs=args.jobs)
    except GradeError as e:
        print(f"labvae: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("labvae: interrupted; every kernel was stopped and no CSV was written.", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, old)
    return 0
