"""A hand mark remembers the answer it marked: a changed answer is flagged for re-marking, never kept silently."""

import nbformat
from test_grade import toy_notebook
from test_gradebook import grade_toy, klass, read  # noqa: F401 (klass: the fixture)

from labvae.course.grade import gradebook, report


def test_a_changed_answer_is_flagged_for_marking_again(klass):  # noqa: F811
    grade_toy(klass, ["alice", "bob"])
    template = read(klass / "grades-marks.csv")
    line = next(r for r in template if (r["student"], r["exercise"]) == ("alice", "t.2-why"))
    assert line["answer"] == report.answer_hash("alice's reason")
    marks = klass / "grades-marks.csv"
    marks.write_text("student,exercise,points,comment,answer\n"
                     f"alice,t.2-why,1,clear,{line['answer']}\nbob,t.2-why,0.5,thin,{report.answer_hash(chr(98) + 'ob' + chr(39) + 's reason')}\n")
    first = grade_toy(klass, ["alice", "bob"])
    assert (first[("alice", "t.2-why")]["status"], first[("alice", "t.2-why")]["points"]) == ("marked", "1")
    nbformat.write(toy_notebook("return 2 * x", "a different reason"), klass / "submitted" / "alice" / "01_toy.ipynb")
    after = grade_toy(klass, ["alice"])
    row = after[("alice", "t.2-why")]
    assert (row["status"], row["points"]) == ("remark", "") and "changed after it was marked" in row["message"], row
    assert (after[("bob", "t.2-why")]["status"], after[("bob", "t.2-why")]["points"]) == ("marked", "0.5")
    assert "changed since it was marked" in (klass / "grades-answers.md").read_text()
    assert [r["student"] for r in gradebook.unmarked(after.values())] == ["alice"]
    lines = report.summary(list(after.values()), {}, {"t.2-why"})
    assert "changed since marked" in lines


def test_a_mark_without_a_hash_is_applied_as_before():
    rows = [{"student": "ann", "exercise": "2_2-comparison", "status": "manual", "points": "", "max_points": "1",
             "message": "to mark by hand (3 words, answer 0123456789ab)"}]
    assert gradebook.apply_marks(rows, {("ann", "2_2-comparison"): (1.0, "ok", "")})[0]["status"] == "marked"
    same = gradebook.apply_marks(rows, {("ann", "2_2-comparison"): (1.0, "ok", "0123456789ab")})[0]
    other = gradebook.apply_marks(rows, {("ann", "2_2-comparison"): (1.0, "ok", "ffffffffffff")})[0]
    assert same["status"] == "marked" and other["status"] == "remark"
