"""The repository a course points at: named once in pyproject.toml, stamped into badges and setup cells."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from labvae.course import colab, student

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = student.lesson_notebooks(ROOT / "notebooks")  # the instructors' appendix is not released
STUDENT = sorted((ROOT / "notebooks" / "student").glob(student.NOTEBOOK_GLOB))
COURSE = "https://github.com/comp6258-2027/lab8-private"


def setup_cell(path):
    cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
    found = [c for c in cells if c["cell_type"] == "code" and "google.colab" in "".join(c["source"])]
    assert len(found) == 1, f"{path.name}: {len(found)} setup cells"
    return "".join(found[0]["source"])


def badge(path):
    first = "".join(json.loads(Path(path).read_text(encoding="utf-8"))["cells"][0]["source"])
    found = re.search(r"colab\.research\.google\.com/github/([^)]+?)/blob/main/(notebooks/\S+?)\)", first)
    assert found, f"{path.name} has no Colab badge in its first cell"
    return found.groups()


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "labvae", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_every_notebook_has_the_same_setup_cell():
    """One setup cell, tested once for all (tests/test_colab_setup.py): they differ in nothing."""
    cells = {setup_cell(p) for p in SOLUTIONS + STUDENT}
    assert len(cells) == 1, "the notebooks' setup cells differ; copy one setup cell into all of them"
    assert colab.pyproject_repository(ROOT / "pyproject.toml") in cells.pop()


@pytest.mark.parametrize("url, path", [
    ("https://github.com/a-course/lab8", "a-course/lab8"),
    ("https://github.com/a-course/lab8.git", "a-course/lab8"),
    ("https://github.com/a.b/c_d-e/", "a.b/c_d-e"),
])
def test_github_urls_are_understood(url, path):
    assert colab.github_repository(url) == path
    assert colab.canonical(url) == f"https://github.com/{path}"


@pytest.mark.parametrize("url", ["gitlab.com/a/b", "https://gitlab.com/a/b", "https://github.com/onlyowner",
                                 "https://github.com/a/b/tree/main", "", None])
def test_other_urls_are_one_sentence(url):
    with pytest.raises(ValueError, match=r"not a GitHub repository URL; .*https://github.com/OWNER/NAME"):
        colab.github_repository(url)


@pytest.fixture
def course(tmp_path):
    """A copy of the repository's notebooks and pyproject.toml, as a course's fork would have them."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks",
                    ignore=shutil.ignore_patterns("results*", ".ipynb_checkpoints"))
    return tmp_path


def test_repository_command_stamps_pyproject_solutions_twins_and_student_edition(course):
    r = run_cli("repository", COURSE + ".git", cwd=course)
    assert r.returncode == 0, r.stderr
    assert colab.pyproject_repository(course / "pyproject.toml") == COURSE
    for nb in sorted((course / "notebooks").glob(student.NOTEBOOK_GLOB)):
        assert f'REPOSITORY = "{COURSE}"' in setup_cell(nb)
        assert badge(nb) == ("comp6258-2027/lab8-private", f"notebooks/{nb.name}")
        twin = nb.with_suffix(".py").read_text()
        assert f'REPOSITORY = "{COURSE}"' in twin and "github/comp6258-2027/lab8-private/blob/main" in twin
        assert "labvae/labvae" not in nb.read_text() + twin
        edition = course / "notebooks" / "student" / nb.name
        if student.INSTRUCTORS_ONLY in nb.stem:  # the appendix is stamped but never released
            assert not edition.exists()
            continue
        assert f'REPOSITORY = "{COURSE}"' in setup_cell(edition)
        assert badge(edition) == ("comp6258-2027/lab8-private", f"notebooks/student/{nb.name}")
        # The student edition is exactly what `student` makes from the stamped solutions: in step.
        assert edition.read_text() == student.dumps(student.student_notebook(nb))
    # Stamping is the only change: the notebooks' other cells are byte for byte the same.
    for nb in SOLUTIONS:
        stamped = (course / "notebooks" / nb.name).read_text()
        assert stamped.replace("comp6258-2027/lab8-private", "labvae/labvae") == nb.read_text()


def test_student_repository_stamps_only_the_student_edition(course):
    out = course / "handout"
    r = run_cli("student", str(out), "--repository", COURSE, cwd=course)
    assert r.returncode == 0, r.stderr
    for nb in SOLUTIONS:
        assert f'REPOSITORY = "{COURSE}"' in setup_cell(out / nb.name)
        assert badge(out / nb.name) == ("comp6258-2027/lab8-private", f"notebooks/student/{nb.name}")
        assert f'REPOSITORY = "{COURSE}"' in (out / nb.with_suffix(".py").name).read_text()
        assert (course / "notebooks" / nb.name).read_text() == nb.read_text()  # the solutions untouched


@pytest.mark.parametrize("command", [("repository", "https://gitlab.com/a/b"),
                                     ("student", "out", "--repository", "github.com/a")])
def test_a_bad_repository_url_is_one_line(course, command):
    before = {p: p.read_bytes() for p in course.rglob("*") if p.is_file()}
    r = run_cli(*command, cwd=course)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "https://github.com/OWNER/NAME" in r.stderr
    assert {p: p.read_bytes() for p in course.rglob("*") if p.is_file()} == before  # nothing written


def test_stamp_setup_takes_any_git_url_and_refuses_a_cell_without_the_line():
    cell = setup_cell(SOLUTIONS[0])
    local = colab.stamp_setup(cell, "file:///tmp/course.git")
    assert 'REPOSITORY = "file:///tmp/course.git"' in local and local.count("REPOSITORY = ") == 1
    with pytest.raises(ValueError, match="no line REPOSITORY"):
        colab.stamp_setup("import sys\n", "file:///tmp/x.git")
