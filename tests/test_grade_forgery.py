"""Marks no kernel can forge: a submission that patches the checks, CheckResult, json or print gets what its functions earn."""

import csv
import shutil
from pathlib import Path

import nbformat
import pytest
from test_grade import TRUST

from labvae.course import grade

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

# Everything a kernel could patch so that a check it runs reports a pass: the checks and their halves,
# CheckResult, the registry the grader's cell reads, json (the old result channel) and print.
PATCH = """\
import builtins, json
import labvae.course.checks.checking as C, labvae.course.checks as K, labvae.course.checks.exercises as E
class R:
    status, message, passed = "pass", "✓ forged", True
ok = lambda *a, **k: R()
C.CheckResult = ok
C.Check.__call__ = lambda self, fn: R()
C.Check.decide = lambda self, data, seed=0: R()
C.Check.gather = lambda self, fn, seed=0: {}
for n in dir(K):
    if n.startswith("check_"):
        setattr(K, n, ok)
E.EXERCISES = tuple(type(e)(e.key, e.title, e.notebook, e.symbol, e.points, ok, e.manual) for e in E.EXERCISES)
_dumps = json.dumps  # only the check's result: the kernel's own messages still need the real one
json.dumps = lambda o, *a, **k: _dumps(["pass", "✓ forged"] if isinstance(o, list) and len(o) == 2 else o, *a, **k)
_print = builtins.print
builtins.print = lambda *a, **k: _print(*(str(x).replace("✗", "✓").replace("…", "✓") for x in a), **k)
"""
# 125 characters: a check's result, as the old route sent it, reads as a pass.
JSON = "import json;d=json.dumps;json.dumps=lambda o,*a,**k:d(['pass','✓ forged']if type(o)is list and len(o)==2 else o,*a,**k)"
# Only the gathering half: the kernel sends outputs its functions never made.
GATHER = """\
import torch, labvae.course.checks.checking as C
C.Check.gather = lambda self, fn, seed=0: {"out": torch.zeros(441, 2), "image": torch.zeros(1, 588, 588), "calls": 1}
"""
FOLDERS = """\
import os
for where in ("02_vae_sweep.ipynb", "../../executed/folder_maker/02_vae_sweep.ipynb"):
    try:
        os.makedirs(where, exist_ok=True)
        print("made", where)
    except OSError as e:
        print("blocked", where, e)
"""
WRAPPED_GRID = "_impl = [labvae.latent_grid]\n\ndef latent_grid(n=21, limit=4.0):\n    return _impl[0](n, limit)\n"
WRAPPED_SWEEP = ("import types\nfrom labvae.course.checks import fallbacks as _f\n"
                 "sweep_image = types.FunctionType(_f.sweep_image.__code__, _f.__dict__, 'sweep_image')\n")
# Nothing named: labvae's functions kept as class attributes and fetched by built strings, or rebuilt
# from their source. The checks catch them when they run, in the kernel the grader drives.
HIDDEN_GRID = ("class Box:\n    f = labvae.latent_grid\n\n"
               "def latent_grid(n=21, limit=4.0):\n    return getattr(Box, chr(102))(n, limit)\n")
HIDDEN_SWEEP = ("%time _ = 0\nimport inspect\nfrom labvae.course.checks import fallbacks as _f\n_s = dict(vars(_f))\n"
                "exec(inspect.getsource(_f.sweep_image), _s)\nsweep_image = _s['sweep_image']\n")


def edited(base: str, after_imports: str = "", answers: dict | None = None, notebook: str = "02_vae_sweep"):
    """A lab notebook: base 'solution' or 'student' edition, a cell after the imports, answer cells replaced."""
    nb = nbformat.read(NOTEBOOKS / ("" if base == "solution" else "student") / f"{notebook}.ipynb", as_version=4)
    for cell in nb.cells:
        key = cell.metadata.get("nbgrader", {}).get("grade_id")
        if answers and key in answers:
            cell.source = answers[key]
    if after_imports:
        at = next(i for i, c in enumerate(nb.cells) if "from labvae.course import checks" in c.source)
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell(after_imports))
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("forgery")
    subs = tmp / "submitted"
    students = {
        "honest": edited("solution"),
        "hex_forger": edited("student", f"exec(bytes.fromhex({PATCH.encode().hex()!r}))"),
        "json_forger": edited("student", JSON),
        "gather_forger": edited("student", GATHER),
        "folder_maker": edited("solution", FOLDERS),
        "wrapper": edited("student", answers={"1_1-grid": WRAPPED_GRID, "1_1-sweep": WRAPPED_SWEEP}),
        "hider": edited("student", answers={"1_1-grid": HIDDEN_GRID,
                                            "1_1-sweep": HIDDEN_SWEEP}),
    }
    for name, nb in students.items():
        (subs / name).mkdir(parents=True)
        nbformat.write(nb, subs / name / "02_vae_sweep.ipynb")
    out, work = tmp / "grades.csv", tmp / "work"
    grade.grade([subs], out, smoke=True, work=work, jobs=2, trust=TRUST, say=lambda *a: None)
    with open(out, newline="") as f:
        rows = {(r["student"], r["exercise"]): r for r in csv.DictReader(f)}
    yield rows, out, work
    shutil.rmtree(work, ignore_errors=True)


def marks(rows, student) -> dict:
    return {key: rows[(student, key)]["points"] for key in ("1_1-grid", "1_1-sweep")}


def test_the_honest_student_gets_full_marks(graded):
    rows, _, _ = graded
    assert marks(rows, "honest") == {"1_1-grid": "1", "1_1-sweep": "1"}


@pytest.mark.parametrize("student", ["hex_forger", "json_forger", "gather_forger"])
def test_patching_the_checks_in_the_kernel_earns_what_the_stubs_earn(graded, student):
    rows, _, _ = graded
    assert marks(rows, student) == {"1_1-grid": "0", "1_1-sweep": "0"}, [rows[(student, k)] for k in ("1_1-grid", "1_1-sweep")]
    assert not any("forged" in rows[(student, k)]["message"] for k in ("1_1-grid", "1_1-sweep"))


def test_folders_where_the_executed_copies_go_do_not_stop_them(graded):
    rows, _, work = graded
    assert marks(rows, "folder_maker") == {"1_1-grid": "1", "1_1-sweep": "1"}
    for student in ("honest", "hex_forger", "folder_maker"):
        executed = work / "executed" / student / "02_vae_sweep.ipynb"
        assert executed.is_file(), student
        assert rows[(student, "1_1-grid")]["cell_errors"].count("not written") == 0
    text = (work / "executed" / "folder_maker" / "02_vae_sweep.ipynb").read_text()
    assert "blocked ../../executed/folder_maker/02_vae_sweep.ipynb" in text  # the grader's folder is out of reach


def test_wrapping_labvaes_own_solution_is_named(graded):
    rows, _, _ = graded
    for key in ("1_1-grid", "1_1-sweep"):
        row = rows[("wrapper", key)]
        assert (row["status"], row["points"]) == ("wrong", "0") and "labvae's own" in row["message"], row


def test_labvaes_code_reached_without_its_name_is_caught_when_it_runs(graded):
    rows, out, _ = graded
    for key in ("1_1-grid", "1_1-sweep"):
        row = rows[("hider", key)]
        assert (row["status"], row["points"]) == ("wrong", "0") and "labvae's own" in row["message"], row
    text = out.with_name("grades-similarity.md").read_text()
    assert "### hider" in text and "when the check ran it" in text and "getsource" in text


def test_the_copying_report_shows_the_hidden_code(graded):
    _, out, _ = graded
    text = out.with_name("grades-similarity.md").read_text()
    assert "hex\\_forger" in text and "fromhex" in text and "changes json, a module" in text
    assert "### honest" not in text and "### folder" not in text


# 03: check_ae is decided in the grader too. Patching check_ae and CheckResult makes the notebook's own
# cells print a pass; the grader still judges the tensors the model gives on the images it chooses.
# (A patch made before the registry is first imported also swaps the registry's check: the kernel's
# collect then fails, which is an error row and 0 marks, as for "missing" below.)
AE_PATCH = """\
import labvae.course.checks.checking as C, labvae.course.checks as K, labvae.course.checks.exercises
class R:
    status, message, passed = "pass", "✓ forged", True
C.CheckResult = K.CheckResult = lambda *a, **k: R()
K.check_ae = lambda *a, **k: R()
"""
UNTRAINED = "def train_ae(x_train, x_test):\n    return labvae.Autoencoder(latent_dim=2)\n"


@pytest.fixture(scope="module")
def graded_ae(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("forgery-ae")
    students = {
        "honest": edited("solution", notebook="03_ae_sweep"),
        "untrained": edited("student", AE_PATCH, {"2_1-ae": UNTRAINED}, notebook="03_ae_sweep"),
        "missing": edited("student", f"exec(bytes.fromhex({PATCH.encode().hex()!r}))", notebook="03_ae_sweep"),
    }
    for name, nb in students.items():
        (tmp / "submitted" / name).mkdir(parents=True)
        nbformat.write(nb, tmp / "submitted" / name / "03_ae_sweep.ipynb")
    out = tmp / "grades.csv"
    grade.grade([tmp / "submitted"], out, smoke=True, work=tmp / "work", jobs=2, trust=TRUST, say=lambda *a: None)
    with open(out, newline="") as f:
        yield {r["student"]: r for r in csv.DictReader(f) if r["exercise"] == "2_1-ae"}
    shutil.rmtree(tmp / "work", ignore_errors=True)


def test_patching_check_ae_in_the_kernel_earns_what_the_model_earns(graded_ae):
    rows = graded_ae
    assert (rows["honest"]["status"], rows["honest"]["points"]) == ("pass", "1"), rows["honest"]
    assert (rows["untrained"]["status"], rows["untrained"]["points"]) == ("wrong", "0"), rows["untrained"]
    assert "untrained" in rows["untrained"]["message"]  # decided on its model's tensors, in the grader
    assert rows["missing"]["points"] == "0" and rows["missing"]["status"] in ("not done", "wrong", "error"), rows["missing"]
    assert not any("forged" in row["message"] for row in rows.values())
