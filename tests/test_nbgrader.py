"""The lab as an nbgrader assignment: the real generate_assignment, validate and autograde, the same marks as labvae grade."""

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from labvae.course.checks import exercises
from labvae.course.editions.student import lesson_notebooks, student_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
GRADED = ("02_vae_sweep", "03_ae_sweep")  # the notebooks with autograded exercises
ID = re.compile(r"^[a-zA-Z0-9_\-]*$")  # nbgrader's schema for grade_id
FLIPPED = ("z2 = torch.linspace(limit, -limit, n)", "z2 = torch.linspace(-limit, limit, n)")  # z2 grows downwards
ONE_EPOCH = ("epochs=cfg.epochs", "epochs=1")
MARKED = [e for e in exercises.EXERCISES if e.points and not e.manual]
# What each submission should score per autograded exercise: the spec the run must meet.
EXPECTED = {
    "correct": {e.key: e.points for e in MARKED},
    "wrong": {"1_1-grid": 0, "1_1-sweep": 1, "2_1-ae": 0, "2_1-ae-sweep": 1},
    "blank": {e.key: 0 for e in MARKED},
    "tampered": {e.key: 0 for e in MARKED},  # locked cells edited to pass: autograde puts them back
    # 02 handed in as "Copy of 02_vae_sweep.ipynb" (Colab's download name): refused with a note on both routes
    "renamed": {e.key: 0 if e.notebook == "02_vae_sweep" else e.points for e in MARKED},
}
HANDOUT = "https://github.com/comp6258-test/lab8"


def env() -> dict:
    # nbgrader runs `alembic` from PATH; the kernels import this checkout's labvae in smoke mode.
    return {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
            "LABVAE_SMOKE": "1"}


def nbgrader(course: Path, *args: str) -> str:
    # 300 s per cell, as README advises for real mode: on a busy machine even smoke mode's cells pass 30 s.
    r = subprocess.run([sys.executable, "-m", "nbgrader", *args, "--Execute.timeout=300"], cwd=course, env=env(),
                       capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r.stdout + r.stderr


def by_id(nb) -> dict:
    return {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells if "nbgrader" in c.metadata}


def submission(stem: str, kind: str, release: Path):
    """A student's notebook made from the released one: answered right, wrongly, not at all, or tampered with."""
    nb = nbformat.read(release / f"{stem}.ipynb", as_version=4)
    cells = by_id(nb)
    if kind in ("correct", "wrong", "renamed"):
        solutions = by_id(nbformat.read(NOTEBOOKS / f"{stem}.ipynb", as_version=4))
        for key, cell in cells.items():
            if cell.metadata["nbgrader"]["solution"]:
                cell.source = solutions[key].source
        if kind == "wrong":
            for key, (old, new) in (("1_1-grid", FLIPPED), ("2_1-ae", ONE_EPOCH)):
                if key in cells:
                    assert old in cells[key].source
                    cells[key].source = cells[key].source.replace(old, new)
    if kind == "tampered":  # a blank notebook whose locked cells are edited so that nothing can fail
        for key, cell in cells.items():
            if key.endswith("-test"):
                cell.source = "print('full marks')"
            elif key.endswith("-check"):
                cell.source = cell.source.split(" = ")[0] + " = checks.CheckResult('pass', '✓ trust me')"
    return nb


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course folder as `python -m labvae course` makes it, source/lab8/ then holding the twins and results too."""
    course = tmp_path_factory.mktemp("course") / "c"
    r = subprocess.run([sys.executable, "-m", "labvae", "course", str(course), "--handout", HANDOUT, "--smoke"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    shutil.copytree(NOTEBOOKS, course / "source" / "lab8", ignore=shutil.ignore_patterns(".ipynb_checkpoints"),
                    dirs_exist_ok=True)
    shutil.copy(ROOT / "jupytext.toml", course / "source" / "lab8")
    for name in ("results/ae.pt", "results/vae_grid.png", "results/ae_grid.png", "ae.pt"):  # left by a run of the solutions
        (course / "source" / "lab8" / name).parent.mkdir(exist_ok=True)
        (course / "source" / "lab8" / name).write_bytes(b"trained answer")
    nbgrader(course, "generate_assignment", "lab8")
    release = course / "release" / "lab8"
    for student in EXPECTED:
        folder = course / "submitted" / student / "lab8"
        folder.mkdir(parents=True)
        for stem in GRADED:
            name = f"Copy of {stem}.ipynb" if student == "renamed" and stem == "02_vae_sweep" else f"{stem}.ipynb"
            nbformat.write(submission(stem, student, release), folder / name)
    # Warm the models the notebooks load once, as docs/instructors.md tells instructors to, read-only:
    # the course folder's nbgrader_config.py points nbgrader's kernels at them, `labvae grade` reuses them.
    r = subprocess.run([sys.executable, "-m", "labvae", "grade", "--warm-only"], cwd=course, env=env(),
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    subprocess.run(["chmod", "-R", "a-w", str(course / "grading" / "warm")], check=True)
    return course


def test_release_is_the_student_edition(course):
    release = course / "release" / "lab8"
    assert sorted(p.name for p in release.iterdir()) == [p.name for p in lesson_notebooks(NOTEBOOKS)]
    for path in release.iterdir():  # no .py twin (they hold the solutions), no jupytext.toml, no student/
        released = nbformat.read(path, as_version=4)
        student = student_notebook(NOTEBOOKS / path.name, repository=HANDOUT)  # badges: the recorded hand-out
        assert [(c.cell_type, c.source) for c in released.cells] == [(c["cell_type"], "".join(c["source"]))
                                                                     for c in student["cells"]]
        assert "BEGIN SOLUTION" not in json.dumps([c.source for c in released.cells])


def test_every_nbgrader_id_is_legal():
    for path in [*lesson_notebooks(NOTEBOOKS), *(NOTEBOOKS / "student").glob("*.ipynb")]:  # not the appendix
        for key in by_id(nbformat.read(path, as_version=4)):
            assert key and ID.match(key), f"{path.name}: grade_id {key!r} breaks nbgrader's schema"
    assert all(ID.match(e.key) for e in exercises.EXERCISES)


def test_predictions_are_not_nbgrader_grade_cells():
    """A 0-point grade cell would put "needs manual grade" on every student: predictions are tagged cells."""
    for path in [*lesson_notebooks(NOTEBOOKS), *(NOTEBOOKS / "student").glob("*.ipynb")]:  # not the appendix
        for key, cell in by_id(nbformat.read(path, as_version=4)).items():
            meta = cell.metadata["nbgrader"]
            assert not (meta.get("grade") and not meta.get("points")), f"{path.name}: {key} is a 0-point grade cell"
        tags = {t for c in nbformat.read(path, as_version=4).cells for t in c.metadata.get("tags", [])}
        assert f"predict-{path.name[:2]}" in tags, f"{path.name} lost its tagged prediction cell"


@pytest.fixture(scope="module")
def validated(course):
    """nbgrader validate's reports on notebook 02 of each submission, in one run (one report after the other)."""
    students = [s for s in EXPECTED if s != "renamed"]
    names = [f"submitted/{student}/lab8/02_vae_sweep.ipynb" for student in students]
    text = nbgrader(course, "validate", *names)
    reports = re.split(r"(?m)^(?=Success!|VALIDATION FAILED|THE CONTENTS)", text)
    found = [r for r in reports if r.startswith(("Success!", "VALIDATION FAILED", "THE CONTENTS"))]
    assert len(found) == len(students), text[-3000:]
    return dict(zip(students, found))


def test_validate_passes_only_the_correct_notebook(validated):
    assert validated["correct"].startswith("Success! Your notebook passes all the tests.")
    assert validated["wrong"].startswith("VALIDATION FAILED ON 1 CELL(S)")  # latent_grid wrong, sweep_image right
    assert validated["blank"].startswith("VALIDATION FAILED ON 2 CELL(S)")
    assert validated["tampered"].startswith("THE CONTENTS OF")  # validate sees the edited locked cells


@pytest.fixture(scope="module")
def marks(course):
    """Per submission: {exercise key: points} from nbgrader autograde's gradebook and from labvae grade."""
    log = nbgrader(course, "autograde", "lab8")
    assert "labvae: renamed: handed in as 'Copy of 02_vae_sweep.ipynb'" in log  # nbgrader's route says why it is 0
    from_nbgrader = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in EXPECTED:
            for stem in GRADED:
                for g in gb.find_submission_notebook(stem, "lab8", student).grades:
                    if g.name.endswith("-test"):
                        from_nbgrader.setdefault(student, {})[g.name[: -len("-test")]] = g.score
    nbgrader(course, "export")  # grades.csv is nbgrader's: labvae grade writes labvae-grades.csv beside it
    r = subprocess.run([sys.executable, "-m", "labvae", "grade", "submitted"], cwd=course, env=env(),
                       capture_output=True, text=True)  # the course folder's settings and read-only warm folder
    assert r.returncode == 0, r.stderr[-2000:]
    with open(course / "labvae-grades.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["exercise"] in EXPECTED["correct"]]
    assert not [r for r in rows if "PermissionError" in r["cell_errors"]]  # the shared warm folder is read-only
    assert all("handed in as 'Copy of 02_vae_sweep.ipynb'" in r["message"] for r in rows
               if r["student"] == "renamed" and r["notebook"] == "02_vae_sweep")
    assert open(course / "grades.csv").readline().startswith("assignment,")  # nbgrader's export, untouched
    from_labvae = {}
    for r in rows:
        from_labvae.setdefault(r["student"], {})[r["exercise"]] = float(r["points"])
    return from_nbgrader, from_labvae


def test_autograde_marks_each_cell_as_expected(marks):
    from_nbgrader, _ = marks
    assert from_nbgrader == EXPECTED


def test_labvae_grade_gives_the_same_marks_as_nbgrader(marks):
    from_nbgrader, from_labvae = marks
    for student in EXPECTED:  # the table, for `pytest -s`
        print(student, *(f"{k}: nbgrader {from_nbgrader[student][k]:g}, labvae {from_labvae[student][k]:g}"
                         for k in EXPECTED[student]), sep=" | ")
    assert from_labvae == from_nbgrader


def test_no_submission_needs_manual_grading_for_its_predictions(course, marks):
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for student in EXPECTED:
            for stem in GRADED:  # each holds a prediction, and no written answer worth marks
                nb = gb.find_submission_notebook(stem, "lab8", student)
                assert not [g.name for g in nb.grades if g.name.startswith("predict-")]
                assert not nb.needs_manual_grade, (student, stem)


def test_autograde_restores_the_tampered_cells(course, marks):
    executed = nbformat.read(course / "autograded" / "tampered" / "lab8" / "02_vae_sweep.ipynb", as_version=4)
    text = "\n".join(c.source for c in executed.cells)
    assert "full marks" not in text and "trust me" not in text
    assert "checks.mark(checks.check_latent_grid, latent_grid)" in text


def test_both_routes_export_the_same_marks_to_canvas_and_moodle(course, marks):
    """nbgrader's gradebook.db and labvae-grades.csv, each through `labvae export`: the LMS gets the same marks."""
    students = sorted(EXPECTED)
    (course / "canvas.csv").write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,Lab 8 (555)\n    Points Possible,,,,,5\n"
        + "".join(f"\"{s.title()}, Ann\",{100 + i},s{i},{s},COMP6258,\n" for i, s in enumerate(students)))
    (course / "moodle.csv").write_text(
        "First name,Last name,ID number,Username,Email address\n"
        + "".join(f"Ann,{s.title()},{300 + i},{s},{s}@uni.ac.uk\n" for i, s in enumerate(students)))
    got = {}
    for lms, roster, extra in (("canvas", "canvas.csv", ["--column", "Lab 8 (555)"]), ("moodle", "moodle.csv", [])):
        for grades in ("gradebook.db", "labvae-grades.csv"):
            r = subprocess.run([sys.executable, "-m", "labvae", "export", lms, roster, "--grades", grades, "--partial",
                                *extra], cwd=course, env=env(), capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
            path = course / f"{Path(grades).stem}-{lms}.csv"
            with open(path, newline="") as f:
                rows = list(csv.reader(f))
            column = rows[0].index("Lab 8 (555)" if lms == "canvas" else next(c for c in rows[0] if c.startswith("Lab 8")))
            login = rows[0].index("SIS Login ID" if lms == "canvas" else "Username")
            got[(lms, grades)] = {row[login]: float(row[column]) for row in rows[1:] if row[login] in EXPECTED}
    want = {s: float(sum(EXPECTED[s].values())) for s in students}
    assert all(table == want for table in got.values()), got


def test_feedback_shows_every_figure_autograde_kept_in_fewest_bytes(course, marks):
    """autograde keeps figures re-encoded without a pixel changed and no widget state; feedback shows those pixels."""
    import base64
    import io

    import numpy as np
    from PIL import Image

    def pixels(data):
        with Image.open(io.BytesIO(base64.b64decode(data))) as im:
            return im.mode, np.asarray(im.convert("RGBA"))

    nbgrader(course, "generate_feedback", "lab8", "--student", "correct")
    for stem in GRADED:
        nb = nbformat.read(course / "autograded" / "correct" / "lab8" / f"{stem}.ipynb", as_version=4)
        assert "widgets" not in nb.metadata
        kept = [o.data["image/png"] for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
        assert kept and all(pixels(k)[0] in ("L", "P", "RGB") for k in kept)  # matplotlib wrote each as RGBA
        html = (course / "feedback" / "correct" / "lab8" / f"{stem}.html").read_text()
        shown = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
        assert len(shown) == len(kept)
        assert all(np.array_equal(pixels(a)[1], pixels(b)[1]) for a, b in zip(shown, kept))
