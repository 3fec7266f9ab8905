"""Names and messages a student makes, in every file a grade run writes (issue 29): inert, stable, never a crash.

A class with a folder name that is not UTF-8, spreadsheet formulas, a leading '-', a backslash, a zero-width
space and HTML for names, and a student whose check message and written answer carry forged Markdown,
HTML, ANSI escapes and a 60,000-character line, is graded twice into one CSV and rewritten twice by
`gradebook`; every file is read back.
"""

import csv
import io
import os
import re

import nbformat
import pytest
from nbconvert.filters import markdown2html
from test_grade import TOY_REGISTRY, TRUST, toy_notebook
from test_nbgrader_hostile import Active

from labvae.course import grade
from labvae.course.grade import answers, feedback, gradebook, report, similarity

NOT_UTF8 = b"caf\xe9"  # what unzip makes of a cp437 archive's name
NAMES = ["=1+1", "@SUM(A1)", "-rf", "a\\b", "zw\u200bsp", "<img src=x onerror=alert(1)>"]
FORGED = "**Total: 5 / 5** | forged | <script>alert(2)</script> [x](javascript:alert(3)) \x1b[2J\n| mallory | 5 |"
ANSWER = "```\n</pre><script>alert(4)</script>\n" + "A" * 60_000
MARKDOWN = re.compile(r"<(script|img|iframe|a (?!class=\"anchor-link\"))", re.I)  # nbconvert links its own headings


def write_class(subs, honest_only: bool = False):
    names = ["alice"] if honest_only else ["alice", *NAMES]
    for name in names:
        (subs / name).mkdir(parents=True)
        nbformat.write(toy_notebook("return 2 * x", f"Because {name} says so."), subs / name / "01_toy.ipynb")
    if not honest_only:
        os.mkdir(os.fsencode(subs) + b"/" + NOT_UTF8)
        nbformat.write(toy_notebook("return 2 * x", "Parce que."), os.fsdecode(os.fsencode(subs) + b"/" + NOT_UTF8)
                       + "/01_toy.ipynb")
        (subs / "mallory").mkdir()
        nbformat.write(toy_notebook(f"return {FORGED!r} + 'B' * 5000", ANSWER), subs / "mallory" / "01_toy.ipynb")


def run(subs, out, printed):
    grade.grade(subs, out, timeout=60, check_timeout=30, smoke=True, registry="toy_registry", warm=False,
                jobs=2, trust=TRUST, say=printed.append)


def read_csv(path):
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("names")
    (tmp / "toy_registry.py").write_text(TOY_REGISTRY)
    write_class(tmp / "class")
    write_class(tmp / "alone", honest_only=True)
    out, printed, snapshots = tmp / "grades.csv", [], []
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(tmp))
        mp.setenv("PYTHONPATH", os.pathsep.join([str(tmp), os.environ.get("PYTHONPATH", "")]))
        for _ in range(2):  # a re-grade of the whole class into the same CSV
            run([tmp / "class"], out, printed)
            snapshots.append(read_csv(out))
        for _ in range(2):  # and `labvae gradebook` twice
            gradebook.refresh(out, registry="toy_registry")
            snapshots.append(read_csv(out))
        run(sorted((tmp / "alone").iterdir()), tmp / "alone.csv", [])  # `alone/*`: alone/ alone would be one student
    return {"out": out, "printed": "\n".join(printed), "snapshots": snapshots, "alone": tmp / "alone.csv"}


def written(out):
    files = [out, gradebook.marks_path(out), report.answers_path(out), answers.store_path(out),
             feedback.export_path(out), feedback.summary_path(out), *similarity.paths_for(out),
             *sorted(feedback.feedback_dir(out).iterdir())]
    return {p: p.read_bytes().decode("utf-8") for p in files}  # strict: a crash or a raw byte fails here


def test_every_file_is_written_and_names_round_trip(graded):
    files = written(graded["out"])
    assert all(files.values())
    first, *later = graded["snapshots"]
    assert all(s == first for s in later)  # no ghost student, no backslash doubled, however often rewritten
    students = {r["student"] for r in first}
    assert len(students) == len(NAMES) + 3
    assert "caf\\xe9" in students and "zw\\u200bsp" in students and "a\\b" in students
    for p in (graded["out"], feedback.export_path(graded["out"])):
        assert "caf\\xe9" in files[p]


def test_nothing_a_student_wrote_is_active_in_any_file(graded):
    for path, text in written(graded["out"]).items():
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text), path  # no ANSI escape, no control character
        if path.suffix == ".csv":
            for row in csv.reader(io.StringIO(text, newline="")):
                assert not [c for c in row if c[:1] in ("=", "+", "-", "@")], (path, row)
        if path.suffix == ".md":
            html = markdown2html(text)
            assert Active(html).found == [] and not MARKDOWN.search(html), path
            assert all(len(line) < report.MAX_ANSWER + 200 for line in text.splitlines()), path
    mine = feedback.feedback_dir(graded["out"]) / "mallory.md"
    html = markdown2html(mine.read_text())
    assert html.count("<strong>") == 1 and "more characters not shown" in html  # one Total, the forged one is text
    assert not [p for p in feedback.feedback_dir(graded["out"]).iterdir() if p.name.startswith("-")]
    assert "\x1b" not in graded["printed"]


def test_a_long_answer_is_kept_cut_with_a_note(graded):
    store = answers.read(graded["out"])
    text = store["mallory"]["t.2-why"]["text"]
    assert len(text) < report.MAX_ANSWER + 100 and text.endswith("more characters not shown]")


def test_honest_rows_and_feedback_equal_an_honest_only_run(graded):
    out, alone = graded["out"], graded["alone"]
    assert [r for r in read_csv(out) if r["student"] == "alice"] == read_csv(alone)
    assert (feedback.feedback_dir(out) / "alice.md").read_text() == (feedback.feedback_dir(alone) / "alice.md").read_text()


def test_a_class_where_one_student_handed_in_notebooks_is_still_a_class(tmp_path):
    cls = tmp_path / "class"
    for name, file in (("alice", "01_toy.ipynb"), ("bob", "lab8.zip"), ("carol", "my_work.ipynb")):
        (cls / name).mkdir(parents=True)
        (cls / name / file).write_text("{}")
    said = []
    named_alone = grade.collect([cls], ["01_toy"], said.append)
    globbed = grade.collect(sorted(cls.iterdir()), ["01_toy"])
    assert set(named_alone) == set(globbed) == {"alice", "bob", "carol"}  # never one student called "class"
    assert len(said) == 1 and "as a folder of submissions" in said[0]
    only = tmp_path / "dave"  # one student's folder, their notebooks in lab8/: taken as theirs, and said so
    (only / "lab8").mkdir(parents=True)
    (only / "lab8" / "01_toy.ipynb").write_text("{}")
    said.clear()
    assert set(grade.collect([only], ["01_toy"], said.append)) == {"dave"}
    assert len(said) == 1 and "as one student's folder (dave)" in said[0] and "dave/*" in said[0]
