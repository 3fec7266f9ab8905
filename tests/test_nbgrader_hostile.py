"""The nbgrader route against a hostile student (issue 29): the real `nbgrader autograde` and `generate_feedback`
with the shipped nbgrader_config.py, a hostile submission between two honest ones, and an honest-only run beside.

A toy assignment (one answer cell, one locked test cell) keeps the kernels fast: the sandbox does not
depend on the lab; tests/test_nbgrader.py runs the lab's own notebooks through the same config.
"""

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbconvert import HTMLExporter
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from labvae.course.grade import nbroute
from labvae.course.grade.sandbox import available

ROOT = Path(__file__).resolve().parents[1]
WHY = available()
SECRET = "labvae-test-secret-7f3a"  # in the instructor's environment and home: no kernel may print it
HONEST = ("alice", "zoe")  # autograde takes students in order: the hostile one runs between them

HOSTILE = """\
import os, sqlite3
from pathlib import Path
from IPython.display import HTML, Javascript, display
course = Path.cwd().parents[2]
def attempt(what, fn):
    try:
        fn()
        print("did", what)
    except Exception as e:
        print("blocked", what, type(e).__name__)
attempt("plant", lambda: (course / "planted.txt").write_text("pwned"))
attempt("edit-submitted", lambda: open(course / "submitted/zoe/toy/01_toy.ipynb", "a").write("pwned"))
attempt("edit-autograded", lambda: open(course / "autograded/alice/toy/01_toy.ipynb", "a").write("pwned"))
attempt("gradebook", lambda: sqlite3.connect(course / "gradebook.db").execute(
    "insert into student (id) values ('ghost')").connection.commit())
attempt("home", lambda: print(open(HOME + "/secret.txt").read()))
attempt("own-folder", lambda: Path("mine.txt").write_text("mine"))
print({k: v for k, v in os.environ.items() if "SECRET" in k or v == SECRET})
display(HTML("<script>alert(1)</script><img src=x onerror=alert(2)><a href='javascript:alert(3)'>x</a>"))
display(Javascript("alert(4)"))
def f():
    return 1
"""
MARKDOWN = "<script>alert(5)</script>\n\n[click](javascript:alert(6)) <img src=x onerror=alert(7)>"

pytestmark = pytest.mark.skipif(WHY is not None, reason=f"no sandbox here: {WHY}")


def meta(**kw) -> dict:
    return {"nbgrader": {"schema_version": 3, "grade": False, "solution": False, "locked": False, **kw}}


def env(home: Path, path: str | None = None) -> dict:
    return {**os.environ, "PATH": path or os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]),
            "HOME": str(home), "LABVAE_TEST_SECRET": SECRET, "OMP_NUM_THREADS": "1"}


def nbgrader(course: Path, home: Path, *args: str, ok: bool = True, path: str | None = None):
    r = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env(home, path),
                       capture_output=True, text=True, timeout=900)
    assert (r.returncode == 0) == ok, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def make_course(root: Path, home: Path, students: dict) -> Path:
    """A course with the toy assignment released and students' notebooks in submitted/ (name -> answer source)."""
    course = root / "course"
    (course / "source" / "toy").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    # A course folder records its hand-out address (release refuses without one, issue 31); nbgrader's default
    # course id, and smoke mode as the test suite runs.
    (course / "labvae-course.json").write_text(json.dumps({"course_id": "default_course", "smoke": True,
                                                           "handout": "https://github.com/comp6258-test/lab8"}))
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_markdown_cell("# Toy"),
                nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
                                          metadata=meta(solution=True, grade_id="answer")),
                nbformat.v4.new_code_cell("assert f() == 1", metadata=meta(grade=True, locked=True, points=1,
                                                                            grade_id="answer-test"))]
    nbformat.write(nb, course / "source" / "toy" / "01_toy.ipynb")
    nbgrader(course, home, "generate_assignment", "toy")
    for name, (source, markdown) in students.items():
        sub = nbformat.read(course / "release" / "toy" / "01_toy.ipynb", as_version=4)
        sub.cells[1].source = source
        sub.cells.insert(1, nbformat.v4.new_markdown_cell(markdown))
        (course / "submitted" / name / "toy").mkdir(parents=True)
        nbformat.write(sub, course / "submitted" / name / "toy" / "01_toy.ipynb")
    return course


def honest(name: str) -> tuple[str, str]:
    return f"print('{name} at work')\ndef f():\n    return 1", f"{name}'s notes"


def scores(course: Path, students) -> dict:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s: gb.find_submission_notebook("01_toy", "toy", s).score for s in students}


class Active(HTMLParser):
    """What in a page would run of the students' (whose attacks all call alert): handlers, javascript: targets, scripts."""

    def __init__(self, page: str):
        super().__init__()
        self.found, self.script = [], False
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.script = tag == "script"
        self.found += [(tag, k, v) for k, v in attrs  # the page's own handlers (formgrader's) call no alert
                       if (k.startswith("on") and "alert" in (v or "")) or "javascript:" in re.sub(r"\s", "", v or "").lower()]

    def handle_endtag(self, tag):
        self.script = False

    def handle_data(self, data):
        if self.script and "alert" in data:
            self.found.append(("script", data[:200]))


def outputs(course: Path, student: str) -> list:
    nb = nbformat.read(course / "autograded" / student / "toy" / "01_toy.ipynb", as_version=4)
    return [(c.cell_type, c.source, c.get("outputs")) for c in nb.cells]


def files(top: Path) -> dict:
    return {p.relative_to(top): p.read_bytes() for p in sorted(top.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    (home / "secret.txt").write_text(SECRET)
    hostile = HOSTILE.replace("HOME + ", repr(str(home)) + " + ").replace("v == SECRET", f"v == {SECRET!r}")
    course = make_course(tmp_path_factory.mktemp("hostile"), home,
                         {"alice": honest("alice"), "mallory": (hostile, MARKDOWN), "zoe": honest("zoe")})
    alone = make_course(tmp_path_factory.mktemp("honest"), home, {n: honest(n) for n in HONEST})
    before = {p: files(course / p) for p in ("source", "release", "submitted")}
    for c in (course, alone):
        nbgrader(c, home, "autograde", "toy")
        nbgrader(c, home, "generate_feedback", "toy")
    return {"course": course, "alone": alone, "home": home, "before": before,
            "log": "".join(o.get("text", "") for _, _, outs in outputs(course, "mallory") for o in outs or [])}


def test_the_hostile_kernel_tried_and_reached_nothing(graded):
    log = graded["log"]
    for what in ("plant", "edit-submitted", "edit-autograded", "gradebook", "home"):
        assert f"blocked {what}" in log, log  # each attack ran, and failed
    assert "did own-folder" in log, log  # its own run folder is writable: the sandbox ran its code
    assert SECRET not in log


def test_nothing_outside_its_run_folder_changed(graded):
    course = graded["course"]
    assert not (course / "planted.txt").exists()
    for p in ("source", "release", "submitted"):
        assert files(course / p) == graded["before"][p], p
    with sqlite3.connect(course / "gradebook.db") as db:
        assert sorted(r[0] for r in db.execute("select id from student")) == ["alice", "mallory", "zoe"]
    assert all("pwned" not in str(files(course / "autograded" / s)) for s in HONEST)
    assert (course / "autograded" / "mallory" / "toy" / "mine.txt").read_text() == "mine"


def test_honest_marks_and_files_equal_an_honest_only_run(graded):
    course, alone = graded["course"], graded["alone"]
    assert scores(course, HONEST) == scores(alone, HONEST) == {"alice": 1.0, "zoe": 1.0}
    assert scores(course, ["mallory"]) == {"mallory": 1.0}  # its own answer is right: its marks are its own
    for s in HONEST:
        assert outputs(course, s) == outputs(alone, s)


def test_run_folders_are_inert_and_the_instructors(graded):
    for p in (graded["course"] / "autograded").rglob("*"):
        st = p.lstat()
        assert st.st_uid == os.geteuid() and not (p.is_file() and st.st_mode & 0o111), p


def test_feedback_and_formgrader_html_hold_no_active_content(graded):
    course = graded["course"]
    html = (course / "feedback" / "mallory" / "toy" / "01_toy.html").read_text()
    assert "blocked plant" in html and "alert(5)" in html  # the output and the markdown are there, as text
    assert Active(html).found == []
    from nbgrader.server_extensions.formgrader import handlers

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    cfg.merge(Config({"HTMLExporter": {"template_name": "formgrade", "extra_template_basedirs": [handlers.template_path]}}))
    resources = {"assignment_id": "toy", "notebook_id": "01_toy", "submission_id": "x", "index": 0, "total": 3,
                 "base_url": "", "student": "mallory", "last_name": None, "first_name": None, "notebook_path": "x"}
    shown, _ = HTMLExporter(config=cfg).from_filename(str(course / "autograded" / "mallory" / "toy" / "01_toy.ipynb"),
                                                      resources=resources)
    assert "blocked plant" in shown and "alert(5)" in shown and Active(shown).found == []


def test_without_a_sandbox_autograde_refuses_in_one_sentence(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    course = make_course(tmp_path, home, {"alice": honest("alice")})
    r = nbgrader(course, home, "autograde", "toy", ok=False, path=str(Path(sys.executable).parent))  # no bwrap
    said = [line for line in r.stderr.splitlines() if line.startswith("labvae:")]
    assert len(said) == 1 and "bubblewrap is missing" in said[0] and "trust_submissions=True" in said[0], r.stderr[-2000:]
    assert not (course / "autograded" / "alice" / "toy" / "01_toy.ipynb").exists()


def test_trusting_leaves_nbgraders_executor_and_still_cleans_html():
    trusted, sandboxed = Config(), Config()
    nbroute.configure(trusted, trust_submissions=True)
    nbroute.configure(sandboxed)
    from nbgrader.preprocessors import Execute

    from labvae.course.grade.figures import SmallerFigures

    assert Execute in trusted.Autograde.autograde_preprocessors and "pre_convert_hook" not in trusted.Autograde
    assert nbroute.SandboxedExecute in sandboxed.Autograde.autograde_preprocessors
    assert Execute not in sandboxed.Autograde.autograde_preprocessors
    for c in (trusted, sandboxed):
        assert c.HTMLExporter.sanitize_html and nbroute.Inert in c.GenerateFeedback.preprocessors
        assert SmallerFigures in c.GenerateFeedback.preprocessors and SmallerFigures in c.Autograde.autograde_preprocessors
        assert c.Execute.store_widget_state is False
