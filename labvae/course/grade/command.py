"""The whole grading run, and the `grade` subcommand: warm the models, run every notebook, write the marks."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from ..._io import check_writable
from . import feedback, gradebook, report
from .kernel import _STOP, kill_live_kernels, worker_slot
from .runfolder import NOT_KEPT, held, make_inert
from .runner import (
    CHECK_TIMEOUT,
    DEFAULT_TIMEOUT,
    PACKAGE,
    NotebookResult,
    copy_registry,
    kernel_env,
    run_notebook,
    trusted_env,
)
from .submissions import GradeError, Refused, collect
from .warm import private_copy, warm_only, warm_up


def grade(paths, out: Path, *, timeout: float = DEFAULT_TIMEOUT, check_timeout: float = CHECK_TIMEOUT,
          smoke: bool = False, data: str | None = None, work: Path | None = None, jobs: int = 1,
          registry: str = "labvae.course.checks.exercises", warm: bool = True, trust: bool = False,
          due=None, say=print) -> list[dict]:
    """Grade every submission; merge into out (CSV), write the answers to mark, feedback, export; return the rows.

    trust: run the notebooks without a sandbox, with the grader's rights (only for code you trust).
    due: a datetime; submissions whose timestamp.txt is later are flagged late."""
    if not paths:
        raise GradeError("no submissions given; pass students' notebooks or folders holding them.")
    missing = [m for m in ("nbformat", "nbclient", "ipykernel") if importlib.util.find_spec(m) is None]
    if missing:  # not needed by students, so not in labvae's own dependencies
        raise GradeError(f"grading runs notebooks and needs {', '.join(missing)}; "
                         "install them with: pip install -e '.[instructor]' in your checkout of the solutions' repository.")
    if out.is_dir():
        raise GradeError(f"--out {out} is a folder; give a file name such as grades.csv.")
    for p in paths:
        if not Path(p).exists():
            raise GradeError(f"{p} does not exist; give students' notebooks, or folders holding them.")
    try:
        check_writable(Path(out).absolute().parent)  # before any kernel: a CSV that cannot be written is said now
    except OSError as e:
        raise GradeError(str(e)) from None
    exercises = importlib.import_module(registry).EXERCISES
    gradebook.preflight(out, exercises)  # a grades.csv or marks file it cannot merge is refused before any run
    subs = collect(paths, list(dict.fromkeys(ex.notebook for ex in exercises)), say)  # says what a folder was taken for
    if not trust:
        from .sandbox import available

        if (why := available()) is not None:
            raise GradeError(f"students' notebooks run in a sandbox, and none is available: {why.rstrip('.')}; "
                             "or, only if you trust every submission, pass --trust-submissions.")
    keep = work is not None
    work = Path(work).resolve() if keep else Path(tempfile.mkdtemp(prefix="labvae-grade-"))  # kernels start elsewhere
    try:
        env = kernel_env(work, smoke, data, [] if trust else [p for p in [copy_registry(registry, work / "trusted")] if p],
                         jobs)
        if warm:
            t0 = time.perf_counter()
            say(f"preparing the models the notebooks load, in {work / 'warm'} ...")
            where = warm_up(work / "warm", env, say=say)
            say(f"models ready ({time.perf_counter() - t0:.1f} s): {where}")
        from .verdicts import kernels_config  # torch: only once grading starts
        handed_in = [e for e in exercises if any(e.notebook in nbs for nbs in subs.values())]
        cfg = kernels_config(env, work / "warm" if warm else work, handed_in)  # check_ae's reference, once
        jobs_list = [(s, stem, p, d) for (s, d) in _run_folders(subs, work).items() for stem, p in sorted(subs[s].items())]
        ctx = _Context(exercises, env, work, keep, timeout, check_timeout, registry, trust,
                       [Path(p).resolve() for p in paths], say, cfg)
        results = _run_all(jobs_list, ctx, jobs)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    rows = gradebook.write_results(out, subs, exercises, results, due, say)
    return rows


def _run_folders(subs, work: Path) -> dict[str, Path]:
    """Student -> their own folder under work/runs: `bob x` and `bob_x` get two, never one."""
    return {student: work / "runs" / name for student, name in report.safe_names(subs).items()}


@dataclass
class _Context:
    """What every notebook of one grading run shares."""

    exercises: tuple
    env: dict
    work: Path
    keep: bool
    timeout: float
    check_timeout: float
    registry: str
    trust: bool
    given: list  # the submissions named on the command line: no sandbox sees them
    say: object
    cfg: object  # the kernels' LabConfig, as the grader's verdicts see it (verdicts.kernels_config)


def _grade_one(ctx: _Context, student: str, stem: str, path, run_dir: Path) -> NotebookResult:
    """One notebook in its own run folder (sandboxed unless trusted); any failure is this notebook's alone."""
    if isinstance(path, Refused):
        return NotebookResult(failure=path.reason)
    ex = [e for e in ctx.exercises if e.notebook == stem]
    with held(run_dir, keep=ctx.keep):  # a tmpfs capped at the disk quota, where the grader may mount one
        shared = [d for d in (ctx.work / "warm" / "results", ctx.work / "warm" / "cache" / "results-smoke") if d.is_dir()]
        if (ctx.work / "warm").is_dir() and any(not e.manual for e in ex):  # the rest (smoke data): a private copy
            private_copy(ctx.work / "warm", run_dir)
        env = {**ctx.env, "LABVAE_CACHE": str(run_dir / "cache"),  # warmed checkpoints: shared read-only, never copied
               "LABVAE_CHECKPOINTS": os.pathsep.join(map(str, shared))}
        sandbox = None
        if not ctx.trust:
            from .sandbox import NOBODY, Sandbox

            ro = [PACKAGE, *[Path(p) for p in env["PYTHONPATH"].split(os.pathsep)[1:]], *shared]
            if (Path(env["LABVAE_DATA"]) / "FashionMNIST").is_dir():  # the data only, not what lies beside it
                ro.append(Path(env["LABVAE_DATA"]) / "FashionMNIST")
            hidden = [p for p in (ctx.work, *ctx.given) if any(p.is_relative_to(r) for r in ro)]
            # Kernels that run at once get uids of their own (when the grader is root): one kernel's
            # processes then count against no other's process limit, nor can it signal them.
            uid = NOBODY - worker_slot()
            sandbox = Sandbox(run_dir, ro=ro, hidden=hidden, env=env, uid=uid, gid=uid)
        # The executed copy goes to WORK/executed/, where no kernel can write: a folder or file of that name
        # made by a kernel cannot stop it, and a copy that is missing says so in the CSV.
        save = executed_path(ctx.work, run_dir) if ctx.keep else None
        res = run_notebook(path, ex, env=trusted_env(env), cwd=run_dir, timeout=ctx.timeout,
                           check_timeout=ctx.check_timeout, registry=ctx.registry, sandbox=sandbox, save=save, cfg=ctx.cfg)
        ran = any(not e.manual and e.check is not None for e in ex)  # 04 is read, not run: no copy to miss
        if ran and save is not None and not (save.is_file() and not save.is_symlink()):
            res.cell_errors.append(f"the executed notebook was not written to {save}: spot-check it by hand")
    if (run_dir / NOT_KEPT).is_file():
        res.cell_errors.append((run_dir / NOT_KEPT).read_text().strip())
    return res


def executed_path(work: Path, run_dir: Path) -> Path:
    """WORK/executed/STUDENT/NOTEBOOK.ipynb: the grader writes it; no kernel ever sees that folder."""
    return work / "executed" / run_dir.parent.name / f"{run_dir.name}.ipynb"


def _run_all(jobs_list, ctx: _Context, jobs: int):
    """Grade (student, stem, path, folder) items, jobs at a time; Ctrl-C stops every kernel before returning."""
    results: dict[tuple[str, str], NotebookResult] = {}

    def one(student, stem, path, folder):
        if _STOP.is_set():
            return NotebookResult(failure="interrupted")
        try:
            res = _grade_one(ctx, student, stem, path, folder / stem)
        except Exception as e:  # the grader's own trouble with this notebook (a folder it cannot make...)
            res = NotebookResult(failure=f"the grader could not run it ({type(e).__name__}: {str(e)[:160]})")
        if not ctx.keep:
            shutil.rmtree(folder / stem, ignore_errors=True)
        elif (folder / stem).is_dir():
            make_inert(folder / stem)  # what the student's code left: nothing in it may run later
        if _STOP.is_set():
            return res
        done = sum(s == "pass" for s, _ in res.results.values())
        what = res.failure or (f"{done}/{len(res.results)} checks pass" if res.results else "written answers read")
        raised = f", {len(res.cell_errors)} cell(s) raised" if res.cell_errors else ""
        ctx.say(f"  {report.shown(student)} {stem}: {report.shown(what + raised)} ({res.seconds:.1f} s)")
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
        kill_live_kernels()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        _STOP.clear()  # every worker has ended: a later run in this process is not born interrupted
    return results


GRADE_HELP = """\
submissions: each SUBMISSION is a notebook file or a folder.
  - a lab notebook is recognised by its name: 02_vae_sweep.ipynb, or alice_02_vae_sweep.ipynb
    (the part before the notebook's name is then the student id);
  - a folder in which each lab notebook occurs at most once (at any depth) is ONE student's
    submission, and the folder's name is the student id: submitted/alice/lab8/02_vae_sweep.ipynb
    passed as submitted/alice grades alice; but a folder whose notebooks all lie in one subfolder
    while it holds other subfolders too is a folder of submissions (a class where only one
    student's notebooks were found), and whenever a folder could be either, grade says which it took;
  - a folder holding several copies of a lab notebook is a folder of submissions: each
    subfolder is one student (named by the subfolder), as is each name prefix of the
    notebooks lying directly in it;
  - several folders named at once (`grade submitted/*`) are one student each, whatever their
    files are called, exactly as the subfolders are under `grade submitted/`: the two give the
    same rows (when there is only one student, only `submitted/*` names them right).
  Inside a student's folder the folder alone names the student, and only the exact name is graded,
  as in nbgrader: 'Copy of 02_vae_sweep.ipynb' there scores 0 with a note to rename it.
  Hidden folders inside it (.ipynb_checkpoints) are skipped; notebooks that are not lab notebooks are
  ignored. A student whose folder holds no lab notebook (only lab8.zip, or lab8-02.ipynb) gets error
  rows saying what it holds. A symbolic link, a hidden student folder or two copies of one notebook
  for a student are not graded: that student's rows say why (status "error"), and everyone else is
  graded as usual. A student id with characters other than ASCII, or odd spaces, is shown with their
  code points (`аlice [U+0430]`), so no two students look alike.

how it runs: each notebook gets a fresh kernel in its own folder, in a sandbox (bubblewrap: a
read-only system, no network, no view of other submissions, the grader or its environment; only
its own run folder writable; limits on memory, CPU, file size and processes), with the student's
cells run top to bottom; a cell that raises is recorded (cell_errors column) and the rest still run. Then
each exercise's check runs in that kernel on what the student's code defined. A notebook that
cannot be read, runs past --timeout or whose kernel dies scores 0 for its exercises (status
"error", the reason in message). Before the first kernel, the models the notebooks load are
trained once (or loaded), so every student's notebook loads the same checkpoints.

writes: --out, a CSV with one row per student and exercise: student, notebook, exercise,
title, status (pass / wrong / not done / error / manual / marked), points, max_points, message,
cell_errors, submitted. An existing --out is merged into: the students graded now replace their
rows, every other row is kept, and a mark typed into a written answer's points cell is kept.
Written exercises have status "manual" and an empty points cell; the class's answers go to
OUT-answers.md (grades-answers.md for grades.csv; merged across runs through OUT-answers.json)
with the model answer and rubric; marks and
comments go in OUT-marks.csv (written once, empty, then only read). Beside --out also:
OUT-export.csv (one row per student: each exercise, total out of the lab's marks; for Moodle/Canvas),
OUT-summary.md (per-exercise distribution, the mistakes the checks named, late submissions) and
OUT-feedback/STUDENT.md (each student's points and the checks' messages).
`python -m labvae gradebook OUT` rewrites these from the CSV and the marks file, running nothing."""


def add_parser(sub) -> None:
    """The `grade` subcommand's arguments, on the CLI's subparsers."""
    p = sub.add_parser("grade", help="run students' notebooks headless and write their marks to a CSV",
                       description="Grade students' lab notebooks: run each in a fresh kernel, apply the "
                                   "exercise checks, write one CSV row per student and exercise.",
                       epilog=GRADE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("submissions", nargs="*", metavar="SUBMISSION", help="a student's notebook, a student's "
                   "folder, or a folder of students' folders (see below)")
    p.add_argument("--out", type=Path, default=None, help="the CSV to write (default: labvae-grades.csv; an existing "
                   "grades.csv of labvae's outside a course folder; `nbgrader export` writes grades.csv)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"seconds one notebook's cells may run in all (default: {DEFAULT_TIMEOUT})")
    p.add_argument("--smoke", action=argparse.BooleanOptionalAction, default=None, help="run the notebooks on small "
                   "generated data with few epochs (LABVAE_SMOKE=1): fast, for trying the grader out; marks use the "
                   "same checks (default: the course folder's mode, else real)")
    p.add_argument("--data", metavar="ROOT", default=None,
                   help="folder holding FashionMNIST/raw/ for the notebooks (default: $LABVAE_DATA)")
    p.add_argument("--work", type=Path, default=None, help="keep each executed notebook, with its outputs, as "
                   "WORK/executed/STUDENT/NOTEBOOK.ipynb (safe to open: only the grader writes there), what each "
                   "kernel wrote under WORK/runs/STUDENT/NOTEBOOK/ (student-made files: read them, never run them "
                   "or start Jupyter there), and the warmed models in WORK/warm/ for the next run (default: a temp "
                   "folder, removed)")
    p.add_argument("--trust-submissions", action="store_true",
                   help="run the notebooks WITHOUT a sandbox, with your rights and environment; only where no "
                        "sandbox is available and you trust every submission's code")
    p.add_argument("--due", type=feedback.due_date, default=None, metavar="WHEN",
                   help="the due date, e.g. '2027-03-01 17:00' (UTC unless a zone is given): a submission whose "
                   "nbgrader timestamp.txt is later is flagged late in the export, feedback and summary")
    # 2: on 2 cores, two kernels of a thread each grade a student in 15 s, one kernel on both in 25 s
    # (benchmarks/bench_grade.py), as one kernel spends half its time starting and importing on one core
    p.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="notebooks graded at once, "
                   "the cores shared among them (default: 2, or 1 on one core)")
    p.add_argument("--warm-only", action="store_true", help="only train the checkpoints every lab notebook "
                   "loads into WORK/warm/results (with the classifier and beta family 04 and 05 load), for "
                   "nbgrader's autograde; needs --work")


def main(args: argparse.Namespace) -> int:
    """Run `python -m labvae grade` with parsed arguments; 0 when every submission was graded."""
    if args.timeout <= 0 or args.jobs < 1:
        print("labvae: error: --timeout must be above 0 and --jobs at least 1.", file=sys.stderr)
        return 2
    try:  # in a course folder (labvae-course.json) its due date, mode, data and work folder are the defaults
        from .course import fill, load

        fill(args, load())
    except GradeError as e:
        print(f"labvae: error: {e}", file=sys.stderr)
        return 1
    if args.warm_only:
        return warm_only(args)
    old = signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops kernels like Ctrl-C
    try:
        grade(args.submissions, args.out, timeout=args.timeout, smoke=args.smoke, data=args.data,
              work=args.work, jobs=args.jobs, trust=args.trust_submissions, due=args.due)
    except GradeError as e:
        print(f"labvae: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("labvae: interrupted; every kernel was stopped and no CSV was written.", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, old)
    return 0
