"""The repository a course points at: named once in pyproject.toml, stamped into badges and setup cells."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from labvae.course.editions import colab, student

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = student.lesson_notebooks(ROOT / "notebooks")  # the instructors' appendix is not released
STUDENT = sorted((ROOT / "notebooks" / "student").glob(student.NOTEBOOK_GLOB))
# What this checkout names (a course's stamped copy names its own): never hard-coded.
OURS = colab.github_repository(colab.pyproject_repository(ROOT / "pyproject.toml"))
OUR_HANDOUT = colab.recorded_handout(ROOT / "pyproject.toml")
# The course these tests stamp: never the one this checkout already names, or stamping would change nothing.
TEST_OWNER = "comp6258-2027" if not OURS.startswith("comp6258-2027/") else "comp6258-2028"
COURSE = f"https://github.com/{TEST_OWNER}/lab8-private"
HANDOUT = f"https://github.com/{TEST_OWNER}/lab8"


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
    """One setup cell, tested once for all (tests/test_colab_setup.py): they differ in nothing but the repository,
    which is the solutions' in the solutions and the recorded hand-out repository (if any) in the student edition."""
    cells = {colab.REPOSITORY_LINE.sub('REPOSITORY = ""', setup_cell(p)) for p in SOLUTIONS + STUDENT}
    assert len(cells) == 1, "the notebooks' setup cells differ; copy one setup cell into all of them"
    ours = colab.pyproject_repository(ROOT / "pyproject.toml")
    assert all(f'REPOSITORY = "{ours}"' in setup_cell(p) for p in SOLUTIONS)
    assert all(f'REPOSITORY = "{OUR_HANDOUT or ours}"' in setup_cell(p) for p in STUDENT)


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
    """A copy of the repository's notebooks and pyproject.toml, as a course's fork would have them (no hand-out yet)."""
    text = (ROOT / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(colab.TOOL_SECTION.sub("", text) if OUR_HANDOUT else text)
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks",
                    ignore=shutil.ignore_patterns("results*", ".ipynb_checkpoints"))
    if OUR_HANDOUT:  # start from the solutions' own links, as a fresh fork has them
        for nb in (tmp_path / "notebooks").glob(student.NOTEBOOK_GLOB):
            (tmp_path / "notebooks" / "student" / nb.name).write_text(student.dumps(student.student_notebook(nb)))
    return tmp_path


def test_repository_command_stamps_pyproject_solutions_twins_and_student_edition(course):
    r = run_cli("repository", COURSE + ".git", cwd=course)
    assert r.returncode == 0, r.stderr
    assert colab.pyproject_repository(course / "pyproject.toml") == COURSE
    for nb in sorted((course / "notebooks").glob(student.NOTEBOOK_GLOB)):
        assert f'REPOSITORY = "{COURSE}"' in setup_cell(nb)
        assert badge(nb) == (f"{TEST_OWNER}/lab8-private", f"notebooks/{nb.name}")
        twin = nb.with_suffix(".py").read_text()
        assert f'REPOSITORY = "{COURSE}"' in twin and f"github/{TEST_OWNER}/lab8-private/blob/main" in twin
        assert OURS not in nb.read_text() + twin
        edition = course / "notebooks" / "student" / nb.name
        if student.INSTRUCTORS_ONLY in nb.stem:  # the appendix is stamped but never released
            assert not edition.exists()
            continue
        assert f'REPOSITORY = "{COURSE}"' in setup_cell(edition)
        assert badge(edition) == (f"{TEST_OWNER}/lab8-private", f"notebooks/student/{nb.name}")
        # The student edition is exactly what `student` makes from the stamped solutions: in step.
        assert edition.read_text() == student.dumps(student.student_notebook(nb))
    # Stamping is the only change: the notebooks' other cells are byte for byte the same.
    for nb in SOLUTIONS:
        stamped = (course / "notebooks" / nb.name).read_text()
        assert stamped.replace(f"{TEST_OWNER}/lab8-private", OURS) == nb.read_text()


def test_student_repository_records_the_handout_and_regeneration_keeps_it(course):
    out = course / "notebooks" / "student"
    r = run_cli("student", str(out), "--repository", HANDOUT, cwd=course)
    assert r.returncode == 0, r.stderr
    assert colab.recorded_handout(course / "pyproject.toml") == HANDOUT
    assert colab.pyproject_repository(course / "pyproject.toml") == colab.pyproject_repository(ROOT / "pyproject.toml")

    def points_at_the_handout():
        for nb in SOLUTIONS:
            assert f'REPOSITORY = "{HANDOUT}"' in setup_cell(out / nb.name)
            # the hand-out repository's notebooks/ is the student edition
            assert badge(out / nb.name) == (f"{TEST_OWNER}/lab8", f"notebooks/{nb.name}")
            assert f'REPOSITORY = "{HANDOUT}"' in (out / nb.with_suffix(".py").name).read_text()

    points_at_the_handout()
    for nb in SOLUTIONS:
        assert (course / "notebooks" / nb.name).read_text() == nb.read_text()  # the solutions untouched
    # The regeneration step after editing a twin, and naming the course's (private) solutions repository:
    assert run_cli("student", str(out), cwd=course).returncode == 0
    points_at_the_handout()
    assert run_cli("repository", COURSE, cwd=course).returncode == 0
    points_at_the_handout()
    assert badge(course / "notebooks" / SOLUTIONS[0].name) == (f"{TEST_OWNER}/lab8-private",
                                                               f"notebooks/{SOLUTIONS[0].name}")


def test_nbgrader_release_points_at_the_recorded_handout(course):
    """The real generate_assignment, with nbgrader_config.py's StudentBadge: the release is the student edition."""
    pytest.importorskip("nbgrader")
    assert run_cli("student", str(course / "notebooks" / "student"), "--repository", HANDOUT, cwd=course).returncode == 0
    shutil.copy(ROOT / "nbgrader_config.py", course)
    assert run_cli("course", "nbgrader-course", cwd=course).returncode == 0  # takes the hand-out pyproject records
    r = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "lab8"], cwd=course / "nbgrader-course",
                       capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    for nb in SOLUTIONS:
        released = course / "nbgrader-course" / "release" / "lab8" / nb.name
        assert f'REPOSITORY = "{HANDOUT}"' in setup_cell(released)
        assert badge(released) == (f"{TEST_OWNER}/lab8", f"notebooks/{nb.name}")


@pytest.mark.parametrize("command", [("repository", "https://gitlab.com/onlyone"),
                                     ("repository", "https://user:token@gitlab.com/a/b"),
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
