"""The student edition: generated from the solutions, in sync with them, and free of their answers."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import labvae
from labvae.course import checks
from labvae.course.checks import exercises
from labvae.course.editions import student

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = student.lesson_notebooks(ROOT / "notebooks")  # the instructors' appendix is not released
STUDENT = ROOT / "notebooks" / "student"
REGENERATE = "python -m labvae student notebooks/student"


def cells(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))["cells"]


def regions(path):
    """The text of every solution region of a notebook: (cell type, [lines])."""
    found = []
    for cell in cells(path):
        text = "".join(cell["source"])
        for body in re.findall(r"### BEGIN SOLUTION\n(.*?)\n\s*(?:# )?### END SOLUTION", text, re.S):
            found.append((cell["cell_type"], body.splitlines()))
    return found


def test_committed_student_edition_matches_the_solutions():
    committed = sorted(p.name for p in STUDENT.glob("*.ipynb"))
    assert committed == [p.name for p in SOLUTIONS], f"notebooks/student/ is out of date; run: {REGENERATE}"
    for src in SOLUTIONS:
        expected = student.dumps(student.student_notebook(src))
        assert (STUDENT / src.name).read_text(encoding="utf-8") == expected, (
            f"notebooks/student/{src.name} is out of date with notebooks/{src.name}; run: {REGENERATE}"
        )
    assert (STUDENT / "jupytext.toml").read_text() == student.JUPYTEXT_TOML, f"run: {REGENERATE}"
    # Each twin's cells must match its notebook (test_notebooks checks that); here, that it exists.
    assert sorted(p.name for p in STUDENT.glob("[0-9][0-9]_*.py")) == [p.with_suffix(".py").name for p in SOLUTIONS], (
        f"notebooks/student/ lacks .py twins; run: {REGENERATE}")


@pytest.mark.parametrize("src", SOLUTIONS, ids=lambda p: p.stem)
def test_every_solution_region_is_replaced(src):
    text = (STUDENT / src.name).read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    kinds = [kind for kind, _ in regions(src)]
    assert kinds, f"{src.name} has no exercise"
    assert text.count("# YOUR CODE HERE") == text.count("raise NotImplementedError()") == kinds.count("code")
    assert text.count("YOUR ANSWER HERE") == kinds.count("markdown")


@pytest.mark.parametrize("src", SOLUTIONS, ids=lambda p: p.stem)
def test_no_solution_text_leaks(src):
    student_text = "\n".join("".join(c["source"]) for c in cells(STUDENT / src.name))
    solution_text = "\n".join("".join(c["source"]) for c in cells(src))
    outside = re.sub(r"### BEGIN SOLUTION\n.*?### END SOLUTION", "", solution_text, flags=re.S)
    for _, lines in regions(src):
        for line in lines:
            line = line.strip().lstrip("# ").strip()
            if len(line) >= 12 and line not in outside:  # skip fragments and code the lesson shows anyway
                assert line not in student_text, f"solution text leaks into the student {src.name}: {line!r}"


def test_every_exercise_has_one_answer_cell_in_its_notebook():
    for ex in exercises.EXERCISES:
        for nb in (ROOT / "notebooks" / f"{ex.notebook}.ipynb", STUDENT / f"{ex.notebook}.ipynb"):
            if ex.manual and not ex.points:  # a prediction: a plain markdown cell tagged with its key, so
                # that nbgrader never asks for it to be graded by hand
                tagged = [c for c in cells(nb) if ex.key in c["metadata"].get("tags", [])]
                assert len(tagged) == 1 and tagged[0]["cell_type"] == "markdown", f"{ex.key} in {nb.name}"
                assert "nbgrader" not in tagged[0]["metadata"], f"{ex.key} in {nb.name} is an nbgrader cell"
                continue
            answers = [c for c in cells(nb) if c["metadata"].get("nbgrader", {}).get("grade_id") == ex.key]
            assert len(answers) == 1, f"{ex.key}: {len(answers)} answer cells in {nb.name}"
            meta = answers[0]["metadata"]["nbgrader"]
            assert meta["solution"] and meta["grade"] == ex.manual and not meta["locked"]
            if ex.manual:
                assert answers[0]["cell_type"] == "markdown" and meta["points"] == ex.points
                continue
            binds = re.compile(rf"^(def {ex.symbol}\(|{ex.symbol} = )", re.M)
            notebook_code = "\n".join("".join(c["source"]) for c in cells(nb) if c["cell_type"] == "code")
            assert binds.search(notebook_code), f"{nb.name} never binds {ex.symbol}"
            by_id = {c["metadata"].get("nbgrader", {}).get("grade_id"): c for c in cells(nb)}
            check = by_id[f"{ex.key}-check"]
            assert check["metadata"]["nbgrader"]["locked"] and not check["metadata"]["nbgrader"]["grade"]
            assert f"checks.{ex.check.__name__}(" in "".join(check["source"])
            test = by_id.get(f"{ex.key}-test")  # the autograded cell: only exercises worth marks have one
            if not ex.points:
                assert test is None, f"{ex.key} is practice, yet {nb.name} grades it"
                continue
            meta = test["metadata"]["nbgrader"]
            assert meta["grade"] and meta["locked"] and not meta["solution"] and meta["points"] == ex.points
            assert f"checks.mark(checks.{ex.check.__name__}, {ex.symbol})" in "".join(test["source"])


def test_student_stubs_are_reported_not_done(capsys):
    """Run each student exercise cell as written, then its check: every one says 'not done yet'."""
    for ex in (e for e in exercises.EXERCISES if not e.manual):
        cell = next(c for c in cells(STUDENT / f"{ex.notebook}.ipynb")
                    if c["metadata"].get("nbgrader", {}).get("grade_id") == ex.key)
        namespace = {"torch": torch, "labvae": labvae}
        exec("".join(cell["source"]), namespace)
        fn = next(v for k, v in namespace.items() if callable(v) and k not in ("torch", "labvae"))
        answer = checks.attempt(fn, None, None) if ex.symbol == "my_ae" else fn
        result = ex.check(answer)
        assert result.status == "not done", result.message
    assert capsys.readouterr().out.count("not done yet") == sum(not e.manual for e in exercises.EXERCISES)


def test_student_notebooks_open_the_student_edition_in_colab():
    from labvae.course.editions import colab

    handout = colab.recorded_handout(ROOT / "pyproject.toml")  # its notebooks/ is the student edition
    where = f"{colab.github_repository(handout)}/blob/main/notebooks/" if handout else "/blob/main/notebooks/student/"
    for src in SOLUTIONS:
        first = "".join(cells(STUDENT / src.name)[0]["source"])
        assert f"{where}{src.name})" in first


def test_strip_solutions_keeps_indentation_and_replaces_markdown():
    code = "def f(x):\n    \"\"\"Doc.\"\"\"\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n"
    out, n = student.strip_solutions(code, "code")
    assert n == 1 and out == "def f(x):\n    \"\"\"Doc.\"\"\"\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    text = "Question?\n### BEGIN SOLUTION\nThe answer.\n### END SOLUTION"
    assert student.strip_solutions(text, "markdown") == ("Question?\nYOUR ANSWER HERE", 1)


@pytest.mark.parametrize("source, says", [
    ("### BEGIN SOLUTION\nx = 1", "never closed"),
    ("x = 1\n### END SOLUTION", "without a ### BEGIN SOLUTION"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "a second"),
])
def test_unbalanced_markers_are_one_sentence(source, says):
    with pytest.raises(student.SolutionMarkerError, match=says):
        student.strip_solutions(source, "code")


def test_cli_writes_the_edition(tmp_path):
    out = tmp_path / "student"
    r = subprocess.run([sys.executable, "-m", "labvae", "student", str(out)], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.glob("*.ipynb")) == [p.name for p in SOLUTIONS]
    assert (out / SOLUTIONS[0].name).read_text() == (STUDENT / SOLUTIONS[0].name).read_text()


def test_cli_refuses_to_overwrite_the_solutions(tmp_path):
    r = subprocess.run([sys.executable, "-m", "labvae", "student", "notebooks"], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 1 and "overwrite the solutions" in r.stderr and "Traceback" not in r.stderr


def test_an_exercise_cell_without_a_key_is_refused(tmp_path):
    nb = json.loads(SOLUTIONS[0].read_text())
    for cell in nb["cells"]:
        cell["metadata"].pop("nbgrader", None)
    (tmp_path / "01_x.ipynb").write_text(json.dumps(nb))
    with pytest.raises(student.SolutionMarkerError, match="not an nbgrader solution cell of a known exercise"):
        student.write_student_edition(tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing half-written


DEVELOPER_WORDS = ("smoke", "partial dataset", "seed report", "nbval", "LABVAE_SMOKE")


@pytest.mark.parametrize("name", [p.stem for p in SOLUTIONS])
def test_student_text_has_no_developer_words(name):
    for nb in (ROOT / "notebooks" / f"{name}.ipynb", STUDENT / f"{name}.ipynb"):
        prose = "\n".join("".join(c["source"]) for c in cells(nb) if c["cell_type"] == "markdown").lower()
        found = [w for w in DEVELOPER_WORDS if w.lower() in prose]
        assert not found, f"{nb.relative_to(ROOT)} speaks to developers: {found}"


@pytest.mark.parametrize("ex", [e for e in exercises.EXERCISES if e.key.startswith("predict-")], ids=lambda e: e.key)
def test_predict_questions_come_before_their_answer_and_a_reveal(ex):
    nb = cells(ROOT / "notebooks" / f"{ex.notebook}.ipynb")
    at = next(i for i, c in enumerate(nb) if ex.key in c["metadata"].get("tags", []))  # tagged, not an nbgrader cell
    assert "".join(nb[at - 1]["source"]).startswith("**Predict before you run:**")
    assert any(c["cell_type"] == "code" for c in nb[at + 1 :]), "a later code cell reveals the number"


def test_student_edition_without_jupytext_says_what_to_install(tmp_path, monkeypatch, capsys):
    from labvae import cli

    monkeypatch.setitem(sys.modules, "jupytext", None)  # None in sys.modules makes the import fail
    assert cli.main(["student", str(tmp_path / "out"), "--notebooks", str(SOLUTIONS[0].parent)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install -e '.[instructor]'" in err
    assert not (tmp_path / "out").exists()  # nothing half-written
