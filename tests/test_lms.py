"""Hand-in from Moodle and Canvas (`collect`) and marks back into them (`export`): real zips, the real CLI."""

import csv
import io
import json
import os
import stat
import zipfile
from pathlib import Path

import nbformat
import pytest
from test_grade import TOY_REGISTRY, TRUST, toy_notebook

from labvae import cli
from labvae.course.checks import exercises
from labvae.course.grade import feedback, gradebook, lms, lms_export, report
from labvae.course.grade.runner import NotebookResult
from labvae.course.grade.submissions import GradeError

NB = nbformat.writes(toy_notebook("return 2 * x", "because")).encode()
STEMS = ["02_vae_sweep", "03_ae_sweep", "04_comparison"]


def make_zip(path: Path, entries) -> Path:
    """A zip of (name, bytes) entries; bytes None makes a symbolic link."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            if data is None:
                info = zipfile.ZipInfo(name)
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                z.writestr(info, "/etc/passwd")
            else:
                z.writestr(name, data)
    return path


def moodle_zip(tmp_path):
    """Moodle's "Download all submissions" (folders, the default since 3.1), as mod/assign names it."""
    return make_zip(tmp_path / "moodle.zip", [
        ("Ann Lee_4711_assignsubmission_file_/02_vae_sweep.ipynb", NB),
        ("Ann Lee_4711_assignsubmission_file_/03_ae_sweep.ipynb", NB),
        ("Bo Chan_4712_assignsubmission_file_/Copy of 02_vae_sweep.ipynb", NB),
        ("Zoë Ng_4713_assignsubmission_onlinetext_/onlinetext.html", b"<p>see attached</p>"),
        ("Cy Ray_4714_assignsubmission_file_02_vae_sweep.ipynb", NB),  # "download as folders" switched off
    ])


def canvas_zip(tmp_path):
    """Canvas's "Download Submissions": lastfirst[_LATE]_USERID_ATTACHMENTID_filename, "-1" on a second name."""
    return make_zip(tmp_path / "canvas.zip", [
        ("leeann_101_9001_02_vae_sweep.ipynb", NB),
        ("chanbo_LATE_102_9002_02_vae_sweep-1.ipynb", NB),
        ("chanbo_LATE_102_9003_03_ae_sweep.ipynb", NB),
    ])


def test_moodle_zip_becomes_one_folder_per_student(tmp_path, capsys):
    out = tmp_path / "submitted"
    assert cli.main(["collect", str(moodle_zip(tmp_path)), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [".lms.json", "Ann_Lee_4711", "Bo_Chan_4712", "Cy_Ray_4714",
                                                      "Zo_Ng_4713"]
    assert sorted(p.name for p in (out / "Ann_Lee_4711").iterdir()) == ["02_vae_sweep.ipynb", "03_ae_sweep.ipynb"]
    assert (out / "Ann_Lee_4711" / "02_vae_sweep.ipynb").read_bytes() == NB
    assert (out / "Bo_Chan_4712" / "Copy of 02_vae_sweep.ipynb").is_file()  # kept as handed in: grade says so
    assert (out / "Cy_Ray_4714" / "02_vae_sweep.ipynb").is_file()
    record = lms.load_record(out)
    assert record["Zo_Ng_4713"] == {"lms": "moodle", "name": "Zoë Ng", "lms_id": "4713", "submitted": "",
                                    "late": False}
    said = capsys.readouterr().out
    assert "Zo_Ng_4713 handed in no file named like a lab notebook (onlinetext.html)" in said


def test_moodle_worksheet_gives_times_and_emails_and_due_reads_them(tmp_path):
    sheet = tmp_path / "worksheet.csv"
    sheet.write_text("Identifier,Full name,Email address,Status,Grade,Maximum Grade,Grade can be changed,"
                     "Last modified (submission),Last modified (grade),Feedback comments\n"
                     '"Participant 4711","Ann Lee",ann@uni.ac.uk,"Submitted for grading",,5.00,Yes,'
                     '"Monday, 1 March 2027, 5:30 PM",-,\n'
                     '"Participant 4712","Bo Chan",bo@uni.ac.uk,"No submission",,5.00,Yes,-,-,\n')
    out = tmp_path / "submitted"
    assert cli.main(["collect", str(moodle_zip(tmp_path)), "--out", str(out), "--worksheet", str(sheet),
                     "--timezone", "Europe/London"]) == 0
    record = lms.load_record(out)
    assert record["Ann_Lee_4711"]["submitted"] == "2027-03-01T17:30:00+00:00"  # GMT in March
    assert record["Ann_Lee_4711"]["email"] == "ann@uni.ac.uk" and record["Bo_Chan_4712"]["submitted"] == ""
    notebooks = [out / "Ann_Lee_4711" / "02_vae_sweep.ipynb"]
    assert lms.recorded_time("Ann_Lee_4711", notebooks) == "2027-03-01T17:30:00+00:00"
    assert feedback.late_by(lms.recorded_time("Ann_Lee_4711", notebooks),
                            feedback.parse_time("2027-03-01 17:00")) == "0h 30m"


def test_canvas_zip_with_late_flag_and_renamed_copy(tmp_path):
    out = tmp_path / "submitted"
    written, notes = lms.collect(canvas_zip(tmp_path), out, STEMS)
    assert written == ["chanbo_102", "leeann_101"] and notes == []
    assert sorted(p.name for p in (out / "chanbo_102").iterdir()) == ["02_vae_sweep.ipynb", "03_ae_sweep.ipynb"]
    record = lms.load_record(out)
    assert record["chanbo_102"]["late"] and record["chanbo_102"]["submitted"] == lms.LATE
    assert record["leeann_101"] == {"lms": "canvas", "name": "leeann", "lms_id": "101", "submitted": "", "late": False}
    assert feedback.late_by(lms.LATE, None) == "late (the LMS says so)"  # Canvas gives no time, only the flag
    row = {"exercise": "1_1-grid", "title": "t", "points": "1", "max_points": "1", "status": "pass", "message": "ok",
           "submitted": lms.LATE}
    text = feedback.feedback_markdown("chanbo_102", {"1_1-grid": row}, ["1_1-grid"])
    assert "Submitted late, by the LMS's own due date." in text and "after the due date" not in text  # one sentence


def test_in_a_course_folder_collect_writes_nbgraders_layout_and_time(tmp_path, monkeypatch, capsys):
    """Both routes read submitted/STUDENT/lab8/ and timestamp.txt: an LMS's hand-in is graded like nbgrader's."""
    sheet = tmp_path / "worksheet.csv"
    sheet.write_text('Identifier,Full name,Email address,Last modified (submission)\n'
                     '"Participant 4711","Ann Lee",ann@uni.ac.uk,"1 March 2027 17:30"\n')
    (tmp_path / "labvae-course.json").write_text(json.dumps({"course_id": "comp6258", "smoke": True}))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["collect", str(moodle_zip(tmp_path)), "--worksheet", str(sheet)]) == 0
    assert "submitted/STUDENT/lab8/" in capsys.readouterr().out
    ann = tmp_path / "submitted" / "Ann_Lee_4711" / "lab8"
    assert sorted(p.name for p in ann.iterdir()) == ["02_vae_sweep.ipynb", "03_ae_sweep.ipynb", "timestamp.txt"]
    assert (ann / "timestamp.txt").read_text() == "2027-03-01 17:30:00.000000 UTC"  # as nbgrader's collect writes
    assert feedback.submitted_at([ann / "02_vae_sweep.ipynb"]) == "2027-03-01T17:30:00+00:00"
    assert not (tmp_path / "submitted" / "Bo_Chan_4712" / "lab8" / "timestamp.txt").exists()  # no time known
    chan = lms.collect(canvas_zip(tmp_path), tmp_path / "canvas", STEMS, assignment="lab8")
    assert chan[0] == ["chanbo_102", "leeann_101"]
    assert not (tmp_path / "canvas" / "chanbo_102" / "lab8" / "timestamp.txt").exists()  # LATE, and no time


def test_a_handed_in_timestamp_is_never_unpacked(tmp_path):
    zip_path = make_zip(tmp_path / "m.zip", [("Ann Lee_4711_assignsubmission_file_/02_vae_sweep.ipynb", NB),
                                             ("Ann Lee_4711_assignsubmission_file_/timestamp.txt", b"2000-01-01"),
                                             ("leeann_101_9001_Timestamp.txt ", b"2000-01-01")])
    for assignment in (None, "lab8"):
        out = tmp_path / f"out-{assignment}"
        written, notes = lms.collect(zip_path, out, STEMS, assignment=assignment)
        assert [n for n in notes if "would set the student's own submission time" in n] and len(notes) == 2
        assert not [p for p in out.rglob("*") if p.name.strip().casefold() == "timestamp.txt"]


def test_a_later_download_replaces_only_its_students(tmp_path):
    out = tmp_path / "submitted"
    lms.collect(canvas_zip(tmp_path), out, STEMS)
    (out / "leeann_101" / "stale.txt").write_text("old")
    again = make_zip(tmp_path / "again.zip", [("leeann_101_9100_03_ae_sweep.ipynb", NB)])
    lms.collect(again, out, STEMS)
    assert sorted(p.name for p in (out / "leeann_101").iterdir()) == ["03_ae_sweep.ipynb"]
    assert (out / "chanbo_102" / "02_vae_sweep.ipynb").is_file() and "chanbo_102" in lms.load_record(out)


HOSTILE = [
    ("leeann_101_9001_02_vae_sweep.ipynb", NB),
    ("../evil_101_1_x.ipynb", NB),
    ("/etc/leeann_101_1_x.ipynb", NB),
    ("Ann Lee_4711_assignsubmission_file_/../../escape.ipynb", NB),
    ("linky_103_1_02_vae_sweep.ipynb", None),
    ("Ann Lee_4711_assignsubmission_file_/.hidden.ipynb", NB),
    ("readme.txt", b"hello"),
]


def test_hostile_entries_are_refused_one_sentence_each(tmp_path, capsys):
    out = tmp_path / "class" / "submitted"
    assert cli.main(["collect", str(make_zip(tmp_path / "h.zip", HOSTILE)), "--out", str(out)]) == 0
    said = [line for line in capsys.readouterr().out.splitlines() if line.startswith("not placed:")]
    assert len(said) == len(HOSTILE) - 1
    for words in ("points outside the folder", "symbolic link", "hidden", "not named like a Moodle or Canvas"):
        assert any(words in line for line in said), words
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["class/submitted/.lms.json", "class/submitted/leeann_101/02_vae_sweep.ipynb", "h.zip"]


def test_zip_bombs_and_floods_are_refused(tmp_path, monkeypatch):
    bomb = make_zip(tmp_path / "bomb.zip", [("leeann_101_1_02_vae_sweep.ipynb", b"0" * (4 << 20)),
                                            ("chanbo_102_2_02_vae_sweep.ipynb", NB)])
    written, notes = lms.collect(bomb, tmp_path / "out", STEMS)
    assert written == ["chanbo_102"] and "zip bomb" in notes[0]
    monkeypatch.setattr(lms, "MAX_ENTRIES", 2)
    flood = make_zip(tmp_path / "flood.zip", [(f"s_{i}_1_02_vae_sweep.ipynb", NB) for i in range(3)])
    with pytest.raises(GradeError, match="3 entries, over 2"):
        lms.collect(flood, tmp_path / "out2", STEMS)
    assert not (tmp_path / "out2").exists()
    (tmp_path / "not.zip").write_text("hello")
    assert cli.main(["collect", str(tmp_path / "not.zip"), "--out", str(tmp_path / "o3")]) == 1


def test_a_student_file_cannot_set_its_own_time(tmp_path):
    out = tmp_path / "submitted"
    lms.collect(canvas_zip(tmp_path), out, STEMS)
    inner = out / "chanbo_102" / "lab8"
    inner.mkdir()
    (inner / lms.RECORD).write_text(json.dumps({"students": {"lab8": {"submitted": "2000-01-01T00:00:00+00:00"}}}))
    (inner / "02_vae_sweep.ipynb").write_bytes(NB)
    assert lms.recorded_time("chanbo_102", [inner / "02_vae_sweep.ipynb"]) == lms.LATE


def test_collected_canvas_class_is_graded_with_its_late_flag(tmp_path, monkeypatch):
    """The real path: Canvas zip -> collect -> grade (toy registry, no warm-up) -> grades.csv's submitted column."""
    from labvae.course import grade

    (tmp_path / "toy_registry.py").write_text(TOY_REGISTRY)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    zip_path = make_zip(tmp_path / "c.zip", [("leeann_101_1_01_toy.ipynb", NB), ("chanbo_LATE_102_2_01_toy.ipynb", NB)])
    out = tmp_path / "submitted"
    lms.collect(zip_path, out, ["01_toy"])
    grade.grade(sorted(out.iterdir()), tmp_path / "grades.csv", timeout=60, smoke=True, registry="toy_registry",
                warm=False, trust=TRUST, say=lambda *_: None)
    rows = {r["student"]: r for r in csv.DictReader(open(tmp_path / "grades.csv", newline=""))}
    assert set(rows) == {"chanbo_102", "leeann_101"}  # .lms.json is no student
    assert rows["chanbo_102"]["submitted"] == lms.LATE and rows["leeann_101"]["submitted"] == ""
    export = list(csv.DictReader(open(feedback.export_path(tmp_path / "grades.csv"), newline="")))
    assert {r["student"]: r["late_by"] for r in export} == {"chanbo_102": "late (the LMS says so)", "leeann_101": ""}


# --- export: rosters written from the LMSs' documented exports ---------------------------------------------

CANVAS_ROSTER = ("\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,Lab 8 (555),Quiz 1 (556),Current Score,Final Score\n"
                 "    Points Possible,,,,,5,10,(read only),(read only)\n"
                 '"Lee, Ann",101,s101,ann@uni.ac.uk,COMP6258,,8,80,80\n'
                 '"Chan, Bo",102,s102,bo@uni.ac.uk,COMP6258,,9,90,90\n'
                 '"=HYPERLINK(""http://x""),Eve",103,s103,eve@uni.ac.uk,COMP6258,,7,70,70\n'
                 '"Student, Test",104,,,COMP6258,,,0,0\n')
MOODLE_ROSTER = ("First name,Last name,ID number,Institution,Department,Email address,"
                 '"Assignment: Lab 8 (Real)","Last downloaded from this course"\n'
                 "Ann,Lee,30001,,,ann@uni.ac.uk,-,1767225600\n"
                 "Bo,Chan,30002,,,bo@uni.ac.uk,-,1767225600\n"
                 "Cy,Ray,30003,,,cy@uni.ac.uk,-,1767225600\n")


def lab_grades(tmp_path, students) -> Path:
    """grades.csv for the real lab: every automatic mark passed, 2.2 still to mark."""
    results, subs = {}, {}
    for student in students:
        subs[student] = {}
        for stem in dict.fromkeys(e.notebook for e in exercises.EXERCISES):
            results[(student, stem)] = NotebookResult(
                results={e.key: ("pass", "✓ ok") for e in exercises.EXERCISES if not e.manual and e.notebook == stem},
                answers={e.key: "words" for e in exercises.EXERCISES if e.manual and e.notebook == stem})
    out = tmp_path / "grades.csv"
    assert gradebook.update(out, report.rows(subs, exercises.EXERCISES, results), exercises.EXERCISES)[1] == ""
    return out


def read_rows(path):
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_canvas_import_file_has_its_id_columns_points_row_and_safe_cells(tmp_path, capsys):
    lms.collect(canvas_zip(tmp_path), tmp_path / "submitted", STEMS)
    out = lab_grades(tmp_path, ["leeann_101", "chanbo_102", "103", "stranger"])
    (tmp_path / "roster.csv").write_text(CANVAS_ROSTER, encoding="utf-8")
    args = ["export", "canvas", str(tmp_path / "roster.csv"), "--grades", str(out), "--column", "Lab 8 (555)",
            "--submitted", str(tmp_path / "submitted")]
    assert cli.main(args) == 1  # 2.2 is still to mark
    assert "still have written answers to mark" in capsys.readouterr().err
    assert not lms_export.output_path(out, "canvas").exists()
    marks = "".join(f"{s},2_2-comparison,1,\n" for s in ("leeann_101", "chanbo_102", "103", "stranger"))
    (tmp_path / "grades-marks.csv").write_text("student,exercise,points,comment\n" + marks)
    assert cli.main(args) == 0
    said = capsys.readouterr().out
    assert "stranger is in no roster row" in said
    rows = read_rows(lms_export.output_path(out, "canvas"))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Lab 8 (555)"]
    assert rows[1] == ["    Points Possible", "", "", "", "", "5"]
    assert rows[2:] == [["Lee, Ann", "101", "s101", "ann@uni.ac.uk", "COMP6258", "5"],
                        ["Chan, Bo", "102", "s102", "bo@uni.ac.uk", "COMP6258", "5"],
                        ["'=HYPERLINK(\"http://x\"),Eve", "103", "s103", "eve@uni.ac.uk", "COMP6258", "5"]]


def test_canvas_points_that_disagree_are_refused(tmp_path):
    out = lab_grades(tmp_path, ["101"])
    (tmp_path / "roster.csv").write_text(CANVAS_ROSTER.replace(",,,,,5,10,", ",,,,,10,10,"), encoding="utf-8")
    with pytest.raises(GradeError, match="worth 10 points.*out of 5"):
        lms_export.export("canvas", out, tmp_path / "roster.csv", "Lab 8 (555)", partial=True)


def test_moodle_import_file_matches_by_email_or_name_and_says_what_is_to_mark(tmp_path):
    sheet = tmp_path / "ws.csv"
    sheet.write_text('Identifier,Full name,Email address,Last modified (submission)\n'
                     '"Participant 4711","Ann Lee",ann@uni.ac.uk,"1 March 2027 17:30"\n')
    lms.collect(moodle_zip(tmp_path), tmp_path / "submitted", STEMS, sheet)
    out = lab_grades(tmp_path, ["Ann_Lee_4711", "Bo_Chan_4712", "30003"])
    (tmp_path / "grades-marks.csv").write_text("student,exercise,points,comment\nAnn_Lee_4711,2_2-comparison,1,\n")
    (tmp_path / "roster.csv").write_text(MOODLE_ROSTER)
    path, n, notes = lms_export.export("moodle", out, tmp_path / "roster.csv", submitted=tmp_path / "submitted",
                                       partial=True, due=feedback.parse_time("2027-03-01 17:00"))
    rows = read_rows(path)
    column = "Lab 8 (partial: hand marks missing)"
    assert rows[0] == ["First name", "Last name", "ID number", "Email address", column, f"{column} feedback"]
    assert rows[1:] == [["Ann", "Lee", "30001", "ann@uni.ac.uk", "5", "5 / 5; late by 0h 30m"],  # worksheet's email
                        ["Bo", "Chan", "30002", "bo@uni.ac.uk", "4", "4 / 5; still to mark: 2_2-comparison"],  # name
                        ["Cy", "Ray", "30003", "cy@uni.ac.uk", "4", "4 / 5; still to mark: 2_2-comparison"]]  # id
    assert n == 3 and any("Bo_Chan_4712: still to mark" in note for note in notes)


def test_nbgrader_export_names_a_mark_flagged_for_review_after_a_re_autograde(tmp_path):
    """nbgrader flags a hand mark for review when the student is autograded again: export waits, and says why."""
    from nbgrader.api import Gradebook

    db = tmp_path / "gradebook.db"
    with Gradebook(f"sqlite:///{db}") as gb:
        gb.add_assignment("lab8")
        gb.add_notebook("04_comparison", "lab8")
        gb.add_grade_cell("2_2-comparison", "04_comparison", "lab8", max_score=1, cell_type="markdown")
        gb.add_solution_cell("2_2-comparison", "04_comparison", "lab8")
        gb.add_student("frank")
        gb.add_submission("lab8", "frank")
        grade = gb.find_grade("2_2-comparison", "04_comparison", "lab8", "frank")
        grade.manual_score, grade.needs_manual_grade = 0.5, True  # what SaveAutoGrades leaves on a re-autograde
        gb.db.commit()
    roster = tmp_path / "moodle.csv"
    roster.write_text("First name,Last name,ID number,Email address\nFrank,Brown,frank,frank@uni.example\n")
    assert lms_export.nbgrader_marks(db, "lab8")["frank"]["review"]
    with pytest.raises(GradeError, match="flagged for review: open it in formgrader and save it again"):
        lms_export.export("moodle", db, roster, submitted=tmp_path / "submitted")
    assert not (tmp_path / "gradebook-moodle.csv").exists()


def test_export_with_no_marks_says_what_to_run_first(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "grades.csv").write_text("assignment,duedate,timestamp,student_id,last_name,first_name,email,"
                                         "raw_score,late_submission_penalty,score,max_score\nlab8,,,al,,,,4,0,4,5\n")
    (tmp_path / "moodle.csv").write_text(MOODLE_ROSTER)
    assert cli.main(["export", "moodle", "moodle.csv"]) == 1
    said = capsys.readouterr().err
    assert "No marks to export here" in said and "nbgrader autograde lab8" in said and said.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grades.csv", "moodle.csv"]
