"""The class's gradebook: re-grading merges, hand marks survive, feedback, export, summary and late flags."""

import csv
import os
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest
from test_grade import TOY_REGISTRY, TRUST, toy_notebook

from labvae import cli
from labvae.course.checks import exercises
from labvae.course.grade import feedback, gradebook, marking, report
from labvae.course.grade.runner import NotebookResult
from labvae.course.grade.submissions import GradeError

ROOT = Path(__file__).resolve().parents[1]


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def grade_toy(tmp, students, **kw):
    """Grade some toy students (folders under tmp/submitted) into tmp/grades.csv; returns the rows by key."""
    from labvae.course import grade

    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(tmp))
        mp.setenv("PYTHONPATH", os.pathsep.join([str(tmp), os.environ.get("PYTHONPATH", "")]))
        grade.grade([tmp / "submitted" / s for s in students], tmp / "grades.csv", timeout=30, smoke=True,
                    registry="toy_registry", warm=False, trust=TRUST, say=lambda *_: None, **kw)
    return {(r["student"], r["exercise"]): r for r in read(tmp / "grades.csv")}


@pytest.fixture
def klass(tmp_path):
    (tmp_path / "toy_registry.py").write_text(TOY_REGISTRY)
    for student, body in (("alice", "return 2 * x"), ("bob", "return x + 2"), ("carol", "return 2 * x")):
        (tmp_path / "submitted" / student).mkdir(parents=True)
        nbformat.write(toy_notebook(body, f"{student}'s reason"), tmp_path / "submitted" / student / "01_toy.ipynb")
    return tmp_path


def test_regrading_one_student_keeps_the_class_and_hand_marks(klass):
    first = grade_toy(klass, ["alice", "bob", "carol"])
    assert first[("bob", "t.1-double")]["status"] == "wrong"
    rows = read(klass / "grades.csv")
    for r in rows:  # the marker types carol's mark straight into the CSV
        if (r["student"], r["exercise"]) == ("carol", "t.2-why"):
            r["points"] = "0.5"
    (klass / "grades.csv").write_text(report.to_csv(rows))
    # bob fixes his answer and is re-graded alone
    nbformat.write(toy_notebook("return 2 * x", "fixed"), klass / "submitted" / "bob" / "01_toy.ipynb")
    after = grade_toy(klass, ["bob"])
    assert set(after) == set(first)  # every student's rows are still there
    assert after[("bob", "t.1-double")]["status"] == "pass"
    assert after[("alice", "t.1-double")] == first[("alice", "t.1-double")]
    assert (after[("carol", "t.2-why")]["status"], after[("carol", "t.2-why")]["points"]) == ("marked", "0.5")
    answers = (klass / "grades-answers.md").read_text()  # the whole class's answers, bob's replaced
    assert "alice's reason" in answers and "carol's reason" in answers and "fixed" in answers
    assert "bob's reason" not in answers


def test_a_damaged_answers_store_is_refused_before_grading(klass):
    grade_toy(klass, ["alice"])
    (klass / "grades-answers.json").write_text('{"alice": [1, 2')
    before = (klass / "grades.csv").read_bytes()
    with pytest.raises(GradeError, match="grades-answers.json cannot be read.*move it away.*nothing was written"):
        grade_toy(klass, ["bob"])
    assert (klass / "grades.csv").read_bytes() == before


def test_a_file_that_is_not_a_gradebook_is_refused_and_kept(klass):
    (klass / "grades.csv").write_text("name,mark\nzoe,5\n")
    with pytest.raises(GradeError, match="not a grades CSV written by labvae grade.*nothing was changed"):
        grade_toy(klass, ["alice"])
    assert (klass / "grades.csv").read_text() == "name,mark\nzoe,5\n"


def test_the_marks_file_is_applied_and_never_written_over(klass):
    grade_toy(klass, ["alice", "bob"])
    marks = klass / "grades-marks.csv"
    assert [(r["student"], r["exercise"], r["points"]) for r in read(marks)] == [
        ("alice", "t.2-why", ""), ("bob", "t.2-why", "")]  # the template, for the marker
    marks.write_text("student,exercise,points,comment\nalice,t.2-why,1,clear and right\n")
    rows = grade_toy(klass, ["alice", "bob", "carol"])
    assert (rows[("alice", "t.2-why")]["status"], rows[("alice", "t.2-why")]["points"]) == ("marked", "1")
    assert rows[("alice", "t.2-why")]["message"] == "clear and right"
    assert rows[("bob", "t.2-why")]["status"] == "manual"
    assert marks.read_text() == "student,exercise,points,comment\nalice,t.2-why,1,clear and right\n"
    feedback_text = (klass / "grades-feedback" / "alice.md").read_text()
    assert "**Total: 3 / 3**" in feedback_text and "clear and right" in feedback_text


@pytest.mark.parametrize("line, words", [("alice,t.2-why,7,", "not a number from 0 to 1"),
                                         ("alice,t.1-double,1,", "not an exercise marked by hand"),
                                         ("alice,t.2-why,lots,", "not a number")])
def test_a_bad_mark_is_one_sentence_and_changes_nothing(klass, line, words):
    grade_toy(klass, ["alice"])
    before = (klass / "grades.csv").read_bytes()
    (klass / "grades-marks.csv").write_text(f"student,exercise,points,comment\n{line}\n")
    with pytest.raises(GradeError, match=f"line 2: .*{words}"):
        grade_toy(klass, ["alice"])
    assert (klass / "grades.csv").read_bytes() == before


def lab_rows(tmp_path):
    """grades.csv rows for the real lab: ann all correct, ben z2 upside down, cy that and blank, dee blank; ben late."""
    keys = [e for e in exercises.EXERCISES if not e.manual]
    upside = "✗ latent_grid: z2 is upside down; it grows from bottom to top."
    results, subs = {}, {}
    for student in ("ann", "ben", "cy", "dee"):
        subs[student] = {}
        for stem in dict.fromkeys(e.notebook for e in exercises.EXERCISES):
            got = {e.key: ("pass", "✓ ok") if student in ("ann", "ben") else ("not done", "… not done yet")
                   for e in keys if e.notebook == stem}
            if student == "ben" and "1_1-grid" in got:
                got["1_1-grid"] = ("wrong", upside)
            if student == "cy" and "1_1-grid" in got:  # the same mistake, other numbers in the hint
                got["1_1-grid"] = ("wrong", upside.replace("top.", "top (row 0.25)."))
            results[(student, stem)] = NotebookResult(results=got, answers={e.key: "words" for e in exercises.EXERCISES
                                                                             if e.manual and e.notebook == stem})
    stamps = {"ann": "2027-03-01T16:00:00+00:00", "ben": "2027-03-02T09:30:00+00:00", "cy": "", "dee": ""}
    return report.rows(subs, exercises.EXERCISES, results, stamps)


def test_export_feedback_and_summary_for_the_lab(tmp_path):
    rows = lab_rows(tmp_path)
    out = tmp_path / "grades.csv"
    assert gradebook.update(out, rows, exercises.EXERCISES)[1] == ""
    (tmp_path / "grades-marks.csv").write_text("student,exercise,points,comment\nann,2_2-comparison,1,good\n")
    due = feedback.parse_time("2027-03-01 17:00")
    gradebook.refresh(out, due)
    export = read(feedback.export_path(out))
    assert [r["student"] for r in export] == ["ann", "ben", "cy", "dee"]  # one row per student
    marked = [e.key for e in exercises.EXERCISES if e.points]
    assert list(export[0]) == ["student", *marked, "total", "max", "to_mark", "submitted", "late_by"]
    ann, ben = export[0], export[1]
    assert (ann["total"], ann["max"], ann["to_mark"], ann["late_by"]) == ("5", "5", "", "")
    assert (ben["total"], ben["max"], ben["to_mark"], ben["late_by"]) == ("3", "5", "2_2-comparison", "16h 30m")
    assert sorted(p.name for p in feedback.feedback_dir(out).iterdir()) == ["ann.md", "ben.md", "cy.md", "dee.md"]
    ben_text = (feedback.feedback_dir(out) / "ben.md").read_text()
    assert "**Total: 3 / 5**" in ben_text and "z2 is upside down" in ben_text and "16h 30m after" in ben_text
    summary = feedback.summary_path(out).read_text()
    assert "- 1_1-grid: z2 is upside down: 2 students" in summary
    assert "1 submitted after" in summary and "ben" in summary.split("## Late")[1]


def test_nbgrader_timestamps_are_read(tmp_path):
    collected = tmp_path / "submitted" / "ann" / "lab8"  # where nbgrader collect writes it
    collected.mkdir(parents=True)
    (collected / "timestamp.txt").write_text("2027-03-01 17:05:09.123456 UTC")
    assert feedback.submitted_at([collected / "01_training.ipynb"]) == "2027-03-01T17:05:09+00:00"
    own = tmp_path / "uploads" / "ann" / "lab8"  # a timestamp.txt the student handed in is not a submission time
    own.mkdir(parents=True)
    (own / "timestamp.txt").write_text("2027-03-01 09:00:00 UTC")
    assert feedback.submitted_at([own / "01_training.ipynb"]) == ""
    assert feedback.late_by("2027-03-01T17:05:09+00:00", datetime(2027, 3, 1, 17, tzinfo=timezone.utc)) == "0h 06m"
    assert feedback.submitted_at([tmp_path / "nowhere" / "01_training.ipynb"]) == ""


def test_the_marker_gets_model_answer_rubric_and_the_students_numbers(tmp_path):
    ex = exercises.exercise("2_2-comparison")
    notes = marking.marker_notes(ex)
    assert "**Model answer**" in notes and "Prior and KL term" in notes  # from the solutions' 04
    assert "(no solutions/rubric" not in notes
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print(table)", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="KL 6.1 nats | codes inside 74%\n")]),
        nbformat.v4.new_markdown_cell("my comparison", metadata={"nbgrader": {"grade_id": ex.key}})]
    nbformat.write(nb, tmp_path / "04_comparison.ipynb")
    assert "codes inside 74%" in marking.own_numbers(tmp_path / "04_comparison.ipynb", ex)


def test_gradebook_command_without_a_csv_is_one_line(tmp_path, capsys):
    assert cli.main(["gradebook", str(tmp_path / "grades.csv")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "run `python -m labvae grade" in err
