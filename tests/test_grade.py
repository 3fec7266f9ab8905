"""`python -m labvae grade`: submissions found, notebooks run headless, checks applied, CSV written."""

import csv
import os
import shutil
import textwrap
import time
from pathlib import Path

import nbformat
import pytest

from labvae import cli
from labvae.course import grade
from labvae.course.grade.sandbox import available

# These tests grade in the sandbox, as instructors do; unsandboxed (--trust-submissions) where the
# machine has none (tests/test_grade_hostile.py is then skipped) or when LABVAE_TEST_TRUST=1.
TRUST = os.environ.get("LABVAE_TEST_TRUST") == "1" or available() is not None

# A toy registry in the contract of labvae.course.checks.exercises: one checked function and one written answer.
TOY_REGISTRY = '''
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class CheckResult:
    status: str
    message: str


@dataclass(frozen=True)
class Exercise:
    key: str
    title: str
    notebook: str
    symbol: str
    points: float
    check: Callable | None
    manual: bool = False


def check_double(fn):
    try:
        y = fn(21)
    except NotImplementedError:
        return CheckResult("not done", "double: not done yet")
    if y == 42:
        return CheckResult("pass", "double: correct")
    return CheckResult("wrong", f"double(21) gave {y}, expected 42")


EXERCISES = (
    Exercise("t.1-double", "Double a number", "01_toy", "double", 2.0, check_double),
    Exercise("t.2-why", "Why double?", "01_toy", "", 1.0, None, manual=True),
)
'''


def toy_notebook(body: str, answer: str = "YOUR ANSWER HERE", *extra_cells: str):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "some-kernel-the-grader-ignores", "display_name": "x", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Toy"),
                *[nbformat.v4.new_code_cell(c) for c in extra_cells],
                nbformat.v4.new_code_cell(f"def double(x):\n{textwrap.indent(body, '    ')}"),
                nbformat.v4.new_markdown_cell("**Exercise t.2:** why double?"),
                nbformat.v4.new_markdown_cell(answer, metadata={"nbgrader": {"grade_id": "t.2-why"}}),
                nbformat.v4.new_code_cell("print('the end')")]
    return nb


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """Grades seven toy students, one per way a notebook can go, with the toy registry."""
    tmp = tmp_path_factory.mktemp("toy")
    (tmp / "toy_registry.py").write_text(TOY_REGISTRY)
    subs = tmp / "submitted"
    notebooks = {
        "alice": toy_notebook("return 2 * x", "Because **two** is better than one."),
        "bob": toy_notebook("return x + 2", "YOUR ANSWER HERE", "1 / 0"),  # wrong, and a cell raises
        "carol": toy_notebook("# YOUR CODE HERE\nraise NotImplementedError()"),  # the blank edition
        "erin": toy_notebook("return 2 * x", "ok", "while True:\n    pass"),  # never finishes
        "frank": toy_notebook("while True:\n    pass"),  # the check would wait for ever
        "gina": toy_notebook("return 2 * x", "ok", "import os\nos._exit(1)"),  # the kernel dies
        "ida": toy_notebook("return 2 * x", "YOUR ANSWER HERE\n\nMy own words, below the placeholder."),
    }
    for student, nb in notebooks.items():
        (subs / student).mkdir(parents=True)
        nbformat.write(nb, subs / student / "01_toy.ipynb")
    (subs / "dave").mkdir()
    (subs / "dave" / "01_toy.ipynb").write_text('{"cells": [ this is not json')
    (subs / "hal").mkdir()  # submitted nothing recognisable
    (subs / "hal" / "my_work.ipynb").write_text("{}")
    out = tmp / "grades.csv"
    broken = tmp / "jupyter" / "kernels" / "python3"  # a user's own python3 kernel: the grader must not use it
    broken.mkdir(parents=True)
    (broken / "kernel.json").write_text('{"argv": ["/bin/false", "{connection_file}"], "display_name": "x", "language": "python"}')
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(tmp / "jupyter"))
        mp.syspath_prepend(str(tmp))
        mp.setenv("PYTHONPATH", os.pathsep.join([str(tmp), os.environ.get("PYTHONPATH", "")]))
        printed = []
        grade.grade([subs], out, timeout=5, check_timeout=3, smoke=True, registry="toy_registry", warm=False,
                    jobs=2, trust=TRUST, say=printed.append)
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    return {(r["student"], r["exercise"]): r for r in rows}, out, "\n".join(printed)


def test_csv_columns_and_one_row_per_student_and_exercise(toy):
    rows, out, _ = toy
    with open(out, newline="") as f:
        assert next(csv.reader(f)) == list(grade.COLUMNS)
    students = {"alice", "bob", "carol", "dave", "erin", "frank", "gina", "hal", "ida"}
    assert set(rows) == {(s, k) for s in students for k in ("t.1-double", "t.2-why")}


def test_correct_wrong_and_blank(toy):
    rows, _, _ = toy
    alice, bob, carol = (rows[(s, "t.1-double")] for s in ("alice", "bob", "carol"))
    assert (alice["status"], alice["points"], alice["max_points"]) == ("pass", "2", "2")
    assert (bob["status"], bob["points"]) == ("wrong", "0") and "expected 42" in bob["message"]
    assert (carol["status"], carol["points"]) == ("not done", "0")
    assert "ZeroDivisionError" in bob["cell_errors"] and alice["cell_errors"] == ""


def test_written_answers_are_left_to_the_marker(toy):
    rows, out, _ = toy
    alice, bob = rows[("alice", "t.2-why")], rows[("bob", "t.2-why")]
    assert (alice["status"], alice["points"], alice["max_points"]) == ("manual", "", "1")
    assert (bob["status"], bob["points"]) == ("not done", "0")
    answers = grade.answers_path(out).read_text()
    assert "two** is better than one" in answers and "### bob\n\n*(no answer)*" in answers
    ida = rows[("ida", "t.2-why")]  # text after the placeholder is an answer
    assert ida["status"] == "manual" and "My own words, below the placeholder." in answers


def test_failures_score_zero_with_the_reason(toy):
    rows, _, _ = toy
    for student, words in (("dave", "cannot be read"), ("erin", "5 s limit"), ("gina", "kernel died")):
        for key in ("t.1-double", "t.2-why"):
            r = rows[(student, key)]
            assert (r["status"], r["points"]) == ("error", "0"), (student, r)
            assert words in r["message"], r["message"]
    frank = rows[("frank", "t.1-double")]
    assert frank["status"] == "error" and "did not finish" in frank["message"]
    hal = rows[("hal", "t.1-double")]  # no lab notebook at all: the rows say what the folder holds
    assert hal["status"] == "error" and "no lab notebook was found" in hal["message"] and "my_work.ipynb" in hal["message"]


def test_summary_totals_per_student(toy):
    _, _, printed = toy
    lines = {line.split()[0]: line for line in printed.splitlines() if line and not line.startswith(" ")}
    assert "2 / 3" in lines["alice"] and "0 / 3" in lines["bob"]  # out of the lab's marks, written answers included
    assert "kernel died" in lines["gina"]


def test_finding_submissions(tmp_path):
    stems = ["01_toy", "02_more"]
    for rel in ("subs/ann/lab/01_toy.ipynb", "subs/ann/lab/02_more.ipynb", "subs/ben/01_toy.ipynb",
                "subs/ben/.ipynb_checkpoints/01_toy.ipynb", "subs/cy_01_toy.ipynb", "subs/notes.ipynb"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    found = grade.collect([tmp_path / "subs"], stems)
    assert {s: sorted(nbs) for s, nbs in found.items()} == {"ann": stems, "ben": ["01_toy"], "cy": ["01_toy"]}
    assert list(grade.collect([tmp_path / "subs" / "ann"], stems)) == ["ann"]  # one student's folder
    assert list(grade.collect([tmp_path / "subs" / "ben" / "01_toy.ipynb"], stems)) == ["ben"]
    with pytest.raises(grade.GradeError, match="not a lab notebook"):
        grade.collect([tmp_path / "subs" / "notes.ipynb"], stems)
    with pytest.raises(grade.GradeError, match="does not exist"):
        grade.collect([tmp_path / "nowhere"], stems)


def test_identity_comes_from_folders_and_bad_entries_are_refused_per_student(tmp_path):
    stems = ["01_toy", "02_more"]
    for rel in ("subs/ann/01_toy.ipynb", "subs/ann/ben_02_more.ipynb", "subs/dup/01_toy.ipynb",
                "subs/dup/old/01_toy.ipynb", "subs/.eve/01_toy.ipynb", "subs/.git/config"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    (tmp_path / "subs" / "lin").mkdir()
    (tmp_path / "subs" / "lin" / "01_toy.ipynb").symlink_to(tmp_path / "subs" / "ann" / "01_toy.ipynb")
    (tmp_path / "subs" / "dirlink").symlink_to(tmp_path / "subs" / "ann")
    found = grade.collect([tmp_path / "subs"], stems)
    assert sorted(found) == [".eve", "ann", "dirlink", "dup", "lin"]  # no "ben": a prefix does not name anyone
    assert found["ann"]["01_toy"] == tmp_path / "subs/ann/01_toy.ipynb"
    assert "handed in as 'ben_02_more.ipynb'" in found["ann"]["02_more"].reason  # renamed: refused, as nbgrader does
    assert "two copies" in found["dup"]["01_toy"].reason and "02_more" not in found["dup"]
    assert "symbolic link" in found["lin"]["01_toy"].reason and "symbolic link" in found["dirlink"]["02_more"].reason
    assert "hidden" in found[".eve"]["01_toy"].reason


def test_without_a_sandbox_grade_refuses_unless_trusted(tmp_path, monkeypatch, capsys):
    (tmp_path / "subs" / "ann").mkdir(parents=True)
    for stem in ("01_toy", "01_training"):  # a toy notebook, and one the lab's own registry knows
        nbformat.write(toy_notebook("return 2 * x"), tmp_path / "subs" / "ann" / f"{stem}.ipynb")
    (tmp_path / "toy_registry.py").write_text(TOY_REGISTRY)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "no-bwrap-here"))  # no bwrap on PATH: no sandbox can start
    with pytest.raises(grade.GradeError, match="bubblewrap is missing.*--trust-submissions"):
        grade.grade([tmp_path / "subs"], tmp_path / "grades.csv", registry="toy_registry", warm=False)
    assert not (tmp_path / "grades.csv").exists()
    assert cli.main(["grade", str(tmp_path / "subs"), "--out", str(tmp_path / "grades.csv")]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--trust-submissions" in err and "Traceback" not in err


def test_bad_input_is_one_sentence(tmp_path, capsys):
    for args, words in (((), "no submissions"), ((str(tmp_path / "nowhere"),), "does not exist"),
                        ((str(tmp_path), "--out", str(tmp_path)), "is a folder"),
                        ((str(tmp_path),), "holds no lab notebook")):
        assert cli.main(["grade", *args]) == 1
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "grades.csv").exists()


def test_help_explains_submissions_and_columns(capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main(["grade", "--help"])
    assert exit.value.code == 0
    text = capsys.readouterr().out
    for word in ("alice_02_vae_sweep.ipynb", "folder of submissions", "cell_errors", "manual", "--timeout"):
        assert word in text


# ---- the lab's own notebooks, in smoke mode -------------------------------------------------

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
FLIPPED = ("z2 = torch.linspace(limit, -limit, n)", "z2 = torch.linspace(-limit, limit, n)")  # z2 grows downwards


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Grades 02_vae_sweep (and reads 04's written answer) for a correct, a wrong, a blank and a corrupt student."""
    subs = tmp_path_factory.mktemp("lab") / "submitted"
    for student in ("correct", "wrong", "blank", "corrupt"):
        (subs / student).mkdir(parents=True)
    shutil.copy(NOTEBOOKS / "02_vae_sweep.ipynb", subs / "correct")
    shutil.copy(NOTEBOOKS / "04_comparison.ipynb", subs / "correct")
    nb = nbformat.read(NOTEBOOKS / "02_vae_sweep.ipynb", as_version=4)
    grid_cell = next(c for c in nb.cells if FLIPPED[0] in c.source)
    grid_cell.source = grid_cell.source.replace(*FLIPPED)
    nb.cells.insert(2, nbformat.v4.new_code_cell("raise RuntimeError('a stray cell')"))  # raises at top level
    nbformat.write(nb, subs / "wrong" / "02_vae_sweep.ipynb")
    shutil.copy(NOTEBOOKS / "student" / "02_vae_sweep.ipynb", subs / "blank")
    shutil.copy(NOTEBOOKS / "student" / "04_comparison.ipynb", subs / "blank")
    (subs / "corrupt" / "02_vae_sweep.ipynb").write_bytes(
        (NOTEBOOKS / "02_vae_sweep.ipynb").read_bytes()[:500])  # cut off mid-file
    out = subs.parent / "grades.csv"
    grade.grade([subs], out, smoke=True, say=lambda *a: None)
    with open(out, newline="") as f:
        return {(r["student"], r["exercise"]): r for r in csv.DictReader(f)}, out


def test_lab_correct_submission_gets_full_marks(lab):
    rows, _ = lab
    for key in ("1_1-grid", "1_1-sweep"):
        assert (rows[("correct", key)]["status"], rows[("correct", key)]["points"]) == ("pass", "1")
    comparison = rows[("correct", "2_2-comparison")]
    assert (comparison["status"], comparison["points"], comparison["max_points"]) == ("manual", "", "1")
    assert rows[("correct", "2_1-ae")]["status"] == "not done"  # 03 was not submitted


def test_lab_wrong_function_loses_its_mark_only(lab):
    rows, _ = lab
    grid, sweep = rows[("wrong", "1_1-grid")], rows[("wrong", "1_1-sweep")]
    assert (grid["status"], grid["points"]) == ("wrong", "0") and "z2" in grid["message"]
    assert (sweep["status"], sweep["points"]) == ("pass", "1")
    assert "RuntimeError: a stray cell" in grid["cell_errors"]


def test_lab_blank_and_corrupt_submissions(lab):
    rows, out = lab
    for key in ("1_1-grid", "1_1-sweep", "2_2-comparison"):
        assert (rows[("blank", key)]["status"], rows[("blank", key)]["points"]) == ("not done", "0")
        assert rows[("blank", key)]["cell_errors"] == ""  # the student edition runs to the end
    for key in ("1_1-grid", "1_1-sweep"):
        r = rows[("corrupt", key)]
        assert (r["status"], r["points"]) == ("error", "0") and "cannot be read" in r["message"]
    answers = grade.answers_path(out).read_text()
    assert "## 2_2-comparison" in answers and "### blank\n\n*(no answer)*" in answers
    assert "### correct\n\n" in answers and "VAE" in answers.split("### correct")[1]


def running(work: Path, *tokens: str) -> list[str]:
    """Processes (other than this one) working under `work` or naming a token: what grading left running."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if "State:\tZ" in (proc / "status").read_text():
                continue  # a zombie holds no memory and runs nothing: its parent has yet to reap it
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(proc / "cwd")
        except OSError:
            continue  # it ended while we looked
        if cwd.startswith(str(work)) or str(work) in cmdline or any(t in cmdline for t in tokens):
            found.append(f"{proc.name}: {cmdline[:200]} (in {cwd})")
    return found


def test_ctrl_c_stops_every_kernel(tmp_path, monkeypatch):
    """An interrupt while kernels run: grade re-raises, every kernel is gone, no CSV is written."""
    (tmp_path / "toy_registry.py").write_text(TOY_REGISTRY)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    started = "open('started', 'w').close()"  # in the notebook's run folder, its working directory
    slow = "import time\ntime.sleep(30)\nopen('finished', 'w').close()"
    for student, extra in (("ann", ""), ("ben", slow), ("cy", slow)):
        (tmp_path / "subs" / student).mkdir(parents=True)
        nbformat.write(toy_notebook("return 2 * x", "ok", started, extra), tmp_path / "subs" / student / "01_toy.ipynb")
    work = tmp_path / "work"
    ben = work / "runs" / "ben" / "01_toy"

    def interrupt(line):  # ann's finished notebook stands in for the moment Ctrl-C is pressed ...
        if line.startswith("  "):
            for _ in range(600):  # ... once ben's kernel is surely busy in its slow cell
                if (ben / "started").exists():
                    raise KeyboardInterrupt
                time.sleep(0.1)
            raise AssertionError("ben's kernel never ran its first cell")

    with pytest.raises(KeyboardInterrupt):
        grade.grade([tmp_path / "subs"], tmp_path / "grades.csv", timeout=120, registry="toy_registry",
                    warm=False, jobs=2, work=work, trust=TRUST, say=interrupt)
    assert not (tmp_path / "grades.csv").exists()
    assert (ben / "started").exists() and not list(work.glob("runs/*/*/finished"))  # stopped, not waited for
    assert not (work / "runs" / "cy" / "01_toy" / "started").exists()  # no new notebook after Ctrl-C
    assert running(work) == []


def test_missing_grading_packages_are_named_with_the_install_command(tmp_path, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "nbclient" else real(name, *a))
    assert cli.main(["grade", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "needs nbclient" in err and "pip install -e '.[instructor]'" in err


def test_grade_warms_what_it_runs_and_warm_only_adds_what_nbgrader_runs(tmp_path, monkeypatch, capsys):
    from labvae.config import FIXED_SIGMA_NAME, beta_model_name
    from labvae.course.grade.runner import kernel_env
    from labvae.course.grade.warm import warm_up

    monkeypatch.delenv("LABVAE_CHECKPOINTS", raising=False)
    warm_up(tmp_path / "warm", kernel_env(tmp_path, True, None))  # what `grade` trains: 01-03 load them
    results = tmp_path / "warm" / "cache" / "results-smoke"
    assert {"vae.pt", "ae.pt", "ae512.pt"} <= {p.name for p in results.iterdir()}
    nbgrader_only = ["classifier.pt", f"{FIXED_SIGMA_NAME}.pt", f"{beta_model_name(4.0)}.pt"]  # 04 and 05 load them
    assert not any((results / name).exists() for name in nbgrader_only)  # grade reads 04 and 05, runs neither
    assert cli.main(["grade", "--warm-only", "--work", str(tmp_path), "--smoke"]) == 0
    assert all((results / name).is_file() for name in nbgrader_only) and "models ready" in capsys.readouterr().out
    assert cli.main(["grade", "--warm-only", "--smoke"]) == 2  # no --work: nowhere to keep them
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--warm-only takes --work DIR" in err


def test_kernels_share_the_cores_unless_told(tmp_path, monkeypatch):
    from labvae.course.grade.runner import kernel_env

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    threads = {jobs: kernel_env(tmp_path, True, None, jobs=jobs)["OMP_NUM_THREADS"] for jobs in (1, 2, 3, 8)}
    assert threads == {1: "4", 2: "2", 3: "1", 8: "1"}  # never more threads than cores, in all
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the instructor's own setting wins
    assert kernel_env(tmp_path, True, None, jobs=2)["OMP_NUM_THREADS"] == "3"
