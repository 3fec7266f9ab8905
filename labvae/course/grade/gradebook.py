"""The class's gradebook across runs: merge a re-grade into grades.csv, keep hand marks, read the marks file.

grades.csv holds one row per student and exercise. A run grades some students: their rows are
replaced, every other student's rows are kept as they were. A mark typed into grades.csv for a
written answer survives a re-grade, and the marks file (grades-marks.csv: student, exercise, points,
comment) is read on every run and never written over: its marks win.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..._io import atomic_write
from .report import COLUMNS, _cell, _uncell, marked_hash, shown
from .submissions import GradeError

MARK_COLUMNS = ("student", "exercise", "points", "comment", "answer")  # answer: the hash of the answer marked
MAX_CSV_BYTES = 32 << 20  # 150 students x 13 rows is ~0.5 MB; a file far past this is not a gradebook
HAND = ("manual", "marked", "remark")  # written answers: to mark, marked, or changed since marked (to mark again)


def marks_path(out: Path) -> Path:
    return out.with_name(out.stem + "-marks.csv")


def _read_csv(path: Path, what: str) -> tuple[list[str], list[dict]]:
    """A CSV's header and rows, or GradeError in one sentence (too big, not UTF-8, not a CSV)."""
    if path.stat().st_size > MAX_CSV_BYTES:
        raise GradeError(f"{path} is over {MAX_CSV_BYTES >> 20} MB, too big for {what}; give another file.")
    try:
        text = path.read_text(encoding="utf-8-sig")
        reader = csv.DictReader(io.StringIO(text, newline=""))
        return list(reader.fieldnames or []), list(reader)
    except (UnicodeDecodeError, csv.Error) as e:
        raise GradeError(f"{path} cannot be read as {what} ({e}); fix or move it: nothing was written.") from None


def read_existing(out: Path) -> list[dict]:
    """The rows of an existing grades.csv to merge into (none if there is no file); refuses any other file."""
    if not out.exists():
        return []
    header, rows = _read_csv(out, "a grades CSV")
    known = list(COLUMNS)
    if header not in (known, known[: known.index("submitted")]):
        raise GradeError(f"{out} exists but is not a grades CSV written by labvae grade (its first line is not "
                         f"{','.join(COLUMNS)}); give another --out or move it away: nothing was changed.")
    rows = [{k: _uncell(r.get(k) or "") for k in COLUMNS} for r in rows]  # no `submitted` column: empty
    for r in rows:  # a mark typed into a written answer's points cell
        if r["status"] == "manual" and r["points"].strip():
            r.update(status="marked", points=r["points"].strip(), message="marked by hand in the CSV")
    return rows


_unquoted = _uncell  # a CSV cell as report._cell wrote it: the quote guarding a formula character taken off


def read_marks(path: Path, exercises) -> dict[tuple[str, str], tuple[float, str, str]]:
    """{(student, exercise): (points, comment, answer hash or '')} from the marks file; rows without points are skipped."""
    if not path.exists():
        return {}
    header, rows = _read_csv(path, "a marks file")
    if not {"student", "exercise", "points"} <= set(header):
        raise GradeError(f"{path} needs the columns {', '.join(MARK_COLUMNS)} (comment may be empty); its first "
                         f"line is {','.join(header)!r}: fix it, nothing was written.")
    maxima = {ex.key: ex.points for ex in exercises if ex.manual and ex.points}
    marks = {}
    for line, r in enumerate(rows, 2):
        points = (r.get("points") or "").strip()
        if not points:
            continue
        student, key = _unquoted(r.get("student") or ""), (r.get("exercise") or "").strip()
        if key not in maxima:
            raise GradeError(f"{path}, line {line}: {key!r} is not an exercise marked by hand (those are "
                             f"{', '.join(maxima)}); fix the line, nothing was written.")
        try:
            value = float(points)
        except ValueError:
            value = -1.0
        if not 0 <= value <= maxima[key]:
            raise GradeError(f"{path}, line {line}: points {points!r} is not a number from 0 to {maxima[key]:g} "
                             f"for {key}; fix the line, nothing was written.")
        marks[(student, key)] = (value, (r.get("comment") or "").strip(), (r.get("answer") or "").strip().lower())
    return marks


def marks_template(rows, exercises) -> str:
    """A marks file with one empty line per written answer to mark, for the marker to fill in."""
    keys = [ex.key for ex in exercises if ex.manual and ex.points]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(MARK_COLUMNS)
    for r in rows:
        if r["exercise"] in keys and r["status"] in HAND:
            writer.writerow([_cell(shown(r["student"])), r["exercise"], "", "", marked_hash(r.get("message", ""))])  # `=1+1`: text
    return buf.getvalue()


def merge(old: list[dict], new: list[dict]) -> list[dict]:
    """new's students replace their rows in old; everyone else's rows stay; a hand mark in old is kept."""
    graded = {r["student"] for r in new}
    before = {(r["student"], r["exercise"]): r for r in old}
    merged = [r for r in old if r["student"] not in graded]
    for r in new:
        prior = before.get((r["student"], r["exercise"]))
        if r["status"] == "manual" and prior and prior["status"] == "marked":  # the marks file decides (apply_marks)
            r = {**r, "status": "marked", "points": prior["points"], "message": prior["message"], "answer": marked_hash(r["message"])}
        merged.append(r)
    order = {}
    for r in new + old:
        order.setdefault(r["exercise"], len(order))
    return sorted(merged, key=lambda r: (r["student"], order[r["exercise"]]))


def apply_marks(rows: list[dict], marks: dict) -> list[dict]:
    """Rows with the marks file's points and comments on the written answers they name; a mark given to another
    answer than the one now submitted (its hash differs) is flagged for re-marking, never kept."""
    out = []
    for r in rows:
        mark = marks.get((r["student"], r["exercise"]))
        now = r.pop("answer", "") or marked_hash(r.get("message", ""))
        if mark is not None:
            points, comment, then = mark
            if then and now and then != now:
                r = {**r, "status": "remark", "points": "",
                     "message": f"to mark again: the answer changed after it was marked ({points:g} then; answer {now})"}
            else:
                r = {**r, "status": "marked", "points": f"{points:g}", "message": shown(comment) or "marked by hand"}
        out.append(r)
    return out


def unmarked(rows) -> list[dict]:
    """Written answers worth marks that nobody has marked yet."""
    return [r for r in rows if r["status"] in ("manual", "remark") and float(r["max_points"] or 0) > 0]


def preflight(out: Path, exercises) -> None:
    """Refuse a grades.csv or marks file that cannot be merged before any notebook runs (GradeError)."""
    from .answers import read

    read_existing(out)
    read_marks(marks_path(out), exercises)
    read(out)  # the answers kept by earlier runs


def update(out: Path, new: list[dict], exercises) -> tuple[list[dict], str]:
    """Merge new rows into out (if it exists), apply the marks file, write out: (the class's rows, "" or why not).

    A CSV that cannot be written (a full disk) is kept in a fallback file, and the one line says where."""
    from .keep import write_or_keep
    from .report import to_csv

    rows = merge(read_existing(out), new)
    rows = apply_marks(rows, read_marks(marks_path(out), exercises))
    _, why = write_or_keep(out, to_csv(rows))
    template = marks_path(out)
    if not why and not template.exists():  # written once, for the marker; never written over
        try:
            atomic_write(template, lambda f: f.write(marks_template(rows, exercises).encode()))
        except OSError as e:
            why = f"could not write the marks template {template} ({e.strerror or type(e).__name__})."
    return rows, why



def write_results(out: Path, subs, exercises, results, due, say) -> list[dict]:
    """Everything a grade run writes beside out (CSV merged, answers, feedback, export, copying report); its rows.

    Marks are written first; when they cannot be (a full disk), they are kept elsewhere and one line says where."""
    from . import answers as written
    from . import feedback, report, similarity
    from .keep import write_or_keep
    from .lms import (
        recorded_time,  # an LMS's time, recorded by `collect` beside the students' folders
    )

    stamps = {s: recorded_time(s, list(nbs.values())) or feedback.submitted_at(list(nbs.values()))
              for s, nbs in subs.items()}
    rows = report.rows(subs, exercises, results, stamps)
    everyone, why = update(out, rows, exercises)  # other students' rows and hand marks are kept
    entries, store = written.merged(out, subs, exercises, results)  # the class's answers, as the CSV's rows
    remark = {(r["student"], r["exercise"]) for r in everyone if r["status"] == "remark"}
    answers = report.answers_markdown(entries, exercises, marks_path(out).name, remark)
    kept = [why, *(write_or_keep(path, text)[1] for path, text in
                   ((report.answers_path(out), answers), (written.store_path(out), store)) if answers)]
    if not any(kept):
        try:
            feedback.write_all(out, everyone, due)
        except OSError as e:
            kept.append(f"feedback and the export were not written ({e.strerror or type(e).__name__}); "
                        f"`python -m labvae gradebook {out}` writes them again")
    try:  # read from the files, outside every kernel; the marks stand whatever happens here
        copying = f", {similarity.write(subs, exercises, out, results)[0].name} (copying)"
    except Exception as e:
        copying = f"; the copying report could not be written ({type(e).__name__}: {str(e)[:120]})"
    rows = [r for r in everyone if r["student"] in subs]
    say(report.summary(rows, results, {ex.key for ex in exercises if ex.manual}))
    if any(kept):  # a full disk: the marks are kept elsewhere, and the one line says where
        raise GradeError(" ".join(w for w in kept if w))
    say(f"wrote {out} ({len(subs)} graded, {len({r['student'] for r in everyone}) - len(subs)} kept from before), "
        f"and beside it {report.answers_path(out).name + ', ' if answers else ''}{feedback.export_path(out).name}, "
        f"{feedback.summary_path(out).name}, {feedback.feedback_dir(out).name}/{copying}")
    return rows

def refresh(out: Path, due=None, registry: str = "labvae.course.checks.exercises") -> list[dict]:
    """Apply the marks file to out and rewrite it, the export, summary and feedback; runs no notebook."""
    import importlib

    from . import feedback

    if not out.is_file():
        raise GradeError(f"{out} does not exist; run `python -m labvae grade ... --out {out}` first.")
    exercises = importlib.import_module(registry).EXERCISES
    preflight(out, exercises)
    rows, why = update(out, [], exercises)
    if why:
        raise GradeError(why)
    feedback.write_all(out, rows, due)
    return rows


def add_parser(sub) -> None:
    """The `gradebook` subcommand: after marking by hand, rewrite the CSV, feedback and export."""
    import argparse

    from .feedback import due_date

    p = sub.add_parser("gradebook", help="apply the marks file to grades.csv and rewrite feedback and export",
                       description="Read OUT (grades.csv) and OUT-marks.csv, write the marks into OUT and rewrite "
                                   "OUT-export.csv, OUT-summary.md and OUT-feedback/: no notebook is run.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path, metavar="OUT", nargs="?", default=None,
                   help="the grades CSV written by `labvae grade` (default: labvae-grades.csv, else grades.csv)")
    p.add_argument("--due", type=due_date, default=None, metavar="WHEN", help="the due date (UTC unless a zone "
                   "is given): later submissions are flagged late (default: the course folder's)")
    p.set_defaults(run=lambda args: _main(args))


def _main(args) -> None:
    from .course import fill, load
    from .feedback import export_path, summary_path

    fill(args, load())  # in a course folder: its due date, so no late flag is dropped
    rows = refresh(args.out, args.due)
    pending = unmarked(rows)
    print(f"wrote {args.out}, {export_path(args.out)}, {summary_path(args.out)} and the feedback files; "
          + (f"{len(pending)} written answer(s) still to mark in {marks_path(args.out)}." if pending
             else "every written answer is marked."))
