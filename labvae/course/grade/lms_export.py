"""Marks into the LMS: a Moodle grade import and a Canvas gradebook import, built on the LMS's own roster.

`python -m labvae export canvas ROSTER.csv` (or `moodle`) reads the marks of either route, labvae-grades.csv
with its marks file applied or nbgrader's gradebook.db (autograde and formgrader's hand marks), and the
roster the instructor exported from the LMS, and writes a file that LMS imports as it is:
- Canvas (Grades > Import): its own identity columns as exported (Student, ID, SIS User ID, SIS Login ID,
  Section), then one assignment column; an existing assignment is named as Canvas exports it, "Name (ID)",
  and any other header makes a new assignment, so no other column is written; the second row is
  "Points Possible" (the format of Canvas's gradebook export, which its import takes back).
- Moodle (Grades > Import > CSV file): the roster's identity columns (First name, Last name, ID number,
  Email address) with the grade and a feedback column; at import, map "Email address" (or "ID number") to
  the user and the two columns to the assignment's grade and feedback (Moodle's CSV import asks for that
  mapping; e.g. github.com/aaronsamuel137/moodle-autograder maps by email the same way).
Students are matched by what `collect` recorded (Canvas user id; Moodle email or full name), else by a
student folder named by an id the roster holds. Every cell is formula-safe (report._cell).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timezone
from pathlib import Path

from ..._io import atomic_write
from .report import _cell, shown
from .submissions import GradeError

CANVAS_IDS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Integration ID", "Section")
MOODLE_IDS = ("First name", "Last name", "ID number", "Username", "Email address")
POINTS_ROW = "    Points Possible"  # as Canvas writes it: the row under the header, before any student


def output_path(out: Path, lms: str) -> Path:
    return out.with_name(f"{out.stem}-{lms}.csv")


def _key(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def class_marks(out: Path) -> dict[str, dict]:
    """{student: {"got", "max", "pending", "submitted"}} from grades.csv with the marks file applied."""
    from ..checks.exercises import EXERCISES
    from . import feedback, gradebook

    if not Path(out).is_file():
        raise GradeError(f"{out} does not exist; run `python -m labvae grade ... --out {out}` first.")
    rows = gradebook.read_existing(out)
    rows = gradebook.apply_marks(rows, gradebook.read_marks(gradebook.marks_path(out), EXERCISES))
    keys = feedback.marked_keys(rows)
    marks = {}
    for student, mine in feedback.students(rows).items():
        got, best, pending = feedback.total(mine, keys)
        marks[gradebook._unquoted(student)] = {"got": got, "max": best, "pending": pending,
                                               "submitted": next(iter(mine.values())).get("submitted", "")}
    return marks


def nbgrader_marks(db: Path, assignment: str) -> dict[str, dict]:
    """{student: {"got", "max", "pending", "submitted"}} from nbgrader's gradebook: autograde's and formgrader's marks."""
    from nbgrader.api import Gradebook, MissingEntry

    if not Path(db).is_file():
        raise GradeError(f"{db} does not exist; run `nbgrader autograde {assignment}` in the course folder first.")
    marks = {}
    with Gradebook(f"sqlite:///{Path(db).resolve()}") as gb:
        try:
            submissions = gb.find_assignment(assignment).submissions
        except MissingEntry:
            raise GradeError(f"{db} holds no assignment {assignment!r}; run `nbgrader autograde {assignment}` in the "
                             "course folder first.") from None
        for sub in submissions:
            flagged = [g for nb in sub.notebooks for g in nb.grades if g.needs_manual_grade]
            stamp = sub.timestamp.replace(tzinfo=timezone.utc).isoformat() if sub.timestamp else ""  # naive UTC
            marks[sub.student_id] = {"got": float(sub.score), "max": float(sub.max_score), "submitted": stamp,
                                     "pending": sorted(g.name for g in flagged),
                                     # a re-autograde flags a mark already given for review (nbgrader's SaveAutoGrades)
                                     "review": bool(flagged) and all(g.manual_score is not None for g in flagged)}
    if not marks:
        raise GradeError(f"{db} holds no submission of {assignment!r} yet; run `nbgrader autograde {assignment}` first.")
    return marks


def match(marks: dict, roster: list[dict], lms: str, record: dict) -> tuple[dict[int, str], list[str]]:
    """{roster row index: student} and one sentence per graded student no roster row could be given."""
    ids = CANVAS_IDS[1:4] if lms == "canvas" else ("ID number", "Username", "Email address")
    by_value: dict[str, set[int]] = {}
    for i, r in enumerate(roster):
        for column in ids:
            if (r.get(column) or "").strip():
                by_value.setdefault(_key(r[column]), set()).add(i)
        name = r.get("Student", "") if lms == "canvas" else f"{r.get('First name', '')} {r.get('Last name', '')}"
        by_value.setdefault("name:" + _key(name), set()).add(i)
    placed, notes = {}, []
    for student in sorted(marks):
        seen = record.get(student, {})
        if seen.get("lms") == "canvas":
            tries = [seen.get("lms_id", "")]
        elif seen.get("lms") == "moodle":
            tries = [seen.get("email", ""), "name:" + seen.get("name", "")]
        else:
            tries = [student]
        hits = next((by_value[_key(t)] for t in tries if t and _key(t) in by_value), set())
        if len(hits) == 1 and (i := next(iter(hits))) not in placed:
            placed[i] = student
        else:
            why = ("matches several roster rows (two students of that name?)" if len(hits) > 1 else
                   "matches a roster row already given to another student" if hits else "is in no roster row")
            notes.append(f"{shown(student)} {why}, so their marks were not exported; enter them by hand.")
    return placed, notes


def _canvas(marks, roster_path: Path, column: str, record: dict, maximum: float, due=None) -> tuple[list[list[str]], list]:
    from .lms import read_table

    header, rows = read_table(roster_path, "Canvas's gradebook export")
    if not {"Student", "ID"} <= set(header):
        raise GradeError(f"{roster_path} is not Canvas's gradebook export (its first line lacks Student and ID); "
                         "export it from Grades > Export > Export Entire Gradebook.")
    points = next((r for r in rows if (r.get("Student") or "").strip() == "Points Possible"), {})
    students = [r for r in rows if re.fullmatch(r"\d+", (r.get("ID") or "").strip())]
    worth = (points.get(column) or "").strip()
    if worth and _number(worth) != maximum:
        raise GradeError(f"Canvas's {column!r} is worth {worth} points and labvae's marks are out of "
                         f"{maximum:g}; set the assignment's points to {maximum:g} in Canvas, or give another "
                         "--column: nothing was written.")
    placed, notes = match(marks, students, "canvas", record)
    keep = [c for c in CANVAS_IDS if c in header]
    table = [keep + [column], [POINTS_ROW] + [""] * (len(keep) - 1) + [f"{maximum:g}"]]
    for i, student in sorted(placed.items()):
        table.append([students[i].get(c) or "" for c in keep] + [f"{marks[student]['got']:g}"])
    return table, notes


def _moodle(marks, roster_path: Path, column: str, record: dict, maximum: float, due=None) -> tuple[list[list[str]], list]:
    from .feedback import late_by
    from .lms import read_table

    header, rows = read_table(roster_path, "Moodle's grade export")
    if not {"ID number", "Email address", "Username"} & set(header):
        raise GradeError(f"{roster_path} has no ID number, Username or Email address column to tell students "
                         "apart; export it from Grades > Export > Plain text file with those user fields.")
    placed, notes = match(marks, rows, "moodle", record)
    keep = [c for c in MOODLE_IDS if c in header]
    table = [keep + [column, f"{column} feedback"]]
    for i, student in sorted(placed.items()):
        m = marks[student]
        note = [f"{m['got']:g} / {m['max']:g}"] + ([f"still to mark: {', '.join(m['pending'])}"] if m["pending"] else [])
        late = late_by(m["submitted"], due)
        late = late if not late or late.startswith("late") else f"late by {late}"
        table.append([rows[i].get(c) or "" for c in keep] + [f"{m['got']:g}", "; ".join(note + ([late] if late else []))])
    return table, notes


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def export(lms: str, out: Path, roster: Path, column: str | None = None, submitted: Path = Path("submitted"),
           partial: bool = False, due=None, assignment: str = "lab8") -> tuple[Path, int, list[str]]:
    """Write out's marks (labvae's grades CSV, or nbgrader's gradebook.db) as LMS's import file beside out:
    (its path, students written, notes)."""
    from .lms import load_record

    nbgrader = Path(out).suffix == ".db"
    marks = nbgrader_marks(out, assignment) if nbgrader else class_marks(out)
    record = load_record(submitted)
    for student, m in marks.items():  # Canvas's late flag, which gives nbgrader no timestamp.txt
        m["submitted"] = m["submitted"] or record.get(student, {}).get("submitted", "")
    pending = sorted(s for s, m in marks.items() if m["pending"])
    if pending and not partial:
        where = ("in formgrader (or `nbgrader` commands)" if nbgrader else
                 f"in {out.stem}-marks.csv and run `python -m labvae gradebook`")
        raise GradeError(f"{len(pending)} student(s) still have written answers to mark ({', '.join(map(shown, pending[:5]))}"
                         f"{' ...' if len(pending) > 5 else ''}); mark them {where}, or pass --partial to export what "
                         "is marked so far (under a column that says so): nothing was written."
                         + (" (A student autograded again after marking keeps the mark, flagged for review: open "
                            "it in formgrader and save it again.)" if any(marks[s].get("review") for s in pending) else ""))
    maximum = max((m["max"] for m in marks.values()), default=0)
    column = column or ("Lab 8 (partial: hand marks missing)" if pending else "Lab 8")
    build = _canvas if lms == "canvas" else _moodle
    table, notes = build(marks, Path(roster), column, record, maximum, due)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([[_cell(shown(v)) for v in row] for row in table])
    path = atomic_write(output_path(Path(out), lms), lambda f: f.write(buf.getvalue().encode("utf-8")))
    header_rows = 2 if lms == "canvas" else 1
    return path, len(table) - header_rows, notes + [f"{shown(s)}: still to mark, exported without those marks"
                                                    for s in pending]


def add_parser(sub) -> None:
    """The `export` subcommand: either route's marks -> the LMS's own import file."""
    from .feedback import due_date

    p = sub.add_parser("export", help="write either route's marks as a file Moodle's or Canvas's gradebook imports",
                       description="Read the marks (labvae-grades.csv with its marks file applied, or nbgrader's "
                                   "gradebook.db) and the roster exported from the LMS, and write NAME-canvas.csv or "
                                   "NAME-moodle.csv beside them (labvae-grades-canvas.csv, gradebook-canvas.csv) for "
                                   "the LMS's grade import. Students still to mark by hand are refused unless --partial.")
    p.add_argument("lms", choices=("canvas", "moodle"))
    p.add_argument("roster", type=Path, metavar="ROSTER",
                   help="Canvas: Grades > Export (the gradebook CSV); Moodle: Grades > Export > Plain text file")
    p.add_argument("--grades", type=Path, default=None,
                   help="the marks: labvae grade's CSV, or nbgrader's gradebook.db (default: labvae-grades.csv where "
                        "it exists, else gradebook.db where autograde wrote marks, else a grades.csv of labvae's)")
    p.add_argument("--due", type=due_date, default=None, metavar="WHEN",
                   help="the due date for Moodle's late flag (default: the course's)")
    p.add_argument("--column", default=None, metavar="NAME",
                   help="the assignment column; Canvas: an existing one as exported, 'Lab 8 (12345)' (default: "
                        "'Lab 8', a new assignment)")
    p.add_argument("--submitted", type=Path, default=Path("submitted"),
                   help="the folder `collect` wrote, whose record matches students to the roster (default: submitted)")
    p.add_argument("--partial", action="store_true", help="export although written answers are still to mark")
    p.set_defaults(run=_main)


def _main(args) -> None:
    from .course import ASSIGNMENT, fill, load

    fill(args, load())  # in a course folder: its due date
    if args.grades is None:  # labvae grade's marks, else nbgrader's; nbgrader's own export is grades.csv
        db = Path("gradebook.db")
        if Path("labvae-grades.csv").exists():
            args.grades = Path("labvae-grades.csv")
            if db.exists() and _has_marks(db, ASSIGNMENT):
                print("reading labvae grade's marks (labvae-grades.csv); --grades gradebook.db exports nbgrader's")
        elif db.exists() and _has_marks(db, ASSIGNMENT):
            args.grades = db
        elif _labvaes(Path("grades.csv")):  # what labvae grade wrote before course folders
            args.grades = Path("grades.csv")
        else:
            raise GradeError(f"No marks to export here: no labvae-grades.csv, and no gradebook.db with an autograded "
                             f"{ASSIGNMENT} (nbgrader export's grades.csv is not read); run `python -m labvae grade "
                             f"submitted` or `nbgrader autograde {ASSIGNMENT}` in the course folder first, or give "
                             "--grades.")
    path, n, notes = export(args.lms, args.grades, args.roster, args.column, args.submitted, args.partial, args.due,
                            ASSIGNMENT)
    for note in notes:
        print(f"note: {note}")
    print(f"wrote {path}: {n} students; import it in {args.lms.capitalize()} "
          + ("(Grades > Import, choose the file, check the preview)." if args.lms == "canvas" else
             "(Grades > Import > CSV file; map Email address or ID number to the user, the grade column to the "
             "assignment and the feedback column to its feedback)."))


def _labvaes(path: Path) -> bool:
    """path is a grades CSV labvae grade wrote (its header starts with student), not nbgrader export's."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.readline(200).startswith("student,")
    except OSError:
        return False


def _has_marks(db: Path, assignment: str) -> bool:
    try:
        return bool(nbgrader_marks(db, assignment))
    except GradeError:
        return False
