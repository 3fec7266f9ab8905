"""What a grading run hands on: a feedback file per student, the gradebook export, the class summary.

All three are made from grades.csv's rows alone, so `python -m labvae gradebook grades.csv` rewrites
them after the marker has filled in the marks file, without running any notebook again.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from ..._io import atomic_write
from .report import _cell, _md_name, md_text, safe_names, shown

TIMESTAMP = "timestamp.txt"  # nbgrader's collect/submit writes the submission time there
MAX_TIMESTAMP_BYTES = 200
COLLECTED = "submitted"  # nbgrader's CourseDirectory.submitted_directory: where collect writes timestamp.txt


def export_path(out: Path) -> Path:
    return out.with_name(out.stem + "-export.csv")


def summary_path(out: Path) -> Path:
    return out.with_name(out.stem + "-summary.md")


def feedback_dir(out: Path) -> Path:
    return out.with_name(out.stem + "-feedback")


def parse_time(text: str) -> datetime:
    """A date and time as nbgrader writes it ('2027-03-01 17:05:09.123456 UTC') or ISO 8601; naive means UTC."""
    from dateutil import parser

    when = parser.parse(text.strip())
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when


def submitted_at(notebooks) -> str:
    """The submission time nbgrader's collect left (submitted/STUDENT/ASSIGNMENT/timestamp.txt), ISO 8601 UTC; '' if none.

    Only there: a timestamp.txt anywhere else is a file the student handed in, not the collecting system's."""
    for nb in notebooks:
        stamp = Path(nb).parent / TIMESTAMP if isinstance(nb, Path) else None
        up = Path(nb).absolute().parents if stamp is not None else ()
        if len(up) < 3 or up[2].name != COLLECTED:
            continue
        if stamp.is_symlink() or not stamp.is_file():
            continue
        with open(stamp, "rb") as f:
            text = f.read(MAX_TIMESTAMP_BYTES).decode("utf-8", "replace")
        try:
            return parse_time(text).astimezone(timezone.utc).isoformat(timespec="seconds")
        except (ValueError, OverflowError):
            return ""
    return ""


def late_by(submitted: str, due: datetime | None) -> str:
    """How late a submission is ('3h 20m'), '' when on time, unknown or no due date is given."""
    from .submissions import LATE

    if submitted == LATE:  # Canvas says late by its own due date, and gives no time
        return "late (the LMS says so)"
    if due is None or not submitted:
        return ""
    seconds = (parse_time(submitted) - due).total_seconds()
    if seconds <= 0:
        return ""
    hours, minutes = divmod(int(seconds + 59) // 60, 60)
    return f"{hours}h {minutes:02d}m"


def marked_keys(rows) -> list[str]:
    """The exercises worth marks, in the order grades.csv lists them."""
    return list(dict.fromkeys(r["exercise"] for r in rows if float(r["max_points"] or 0) > 0))


def students(rows) -> dict[str, dict[str, dict]]:
    by = {}
    for r in rows:
        by.setdefault(r["student"], {})[r["exercise"]] = r
    return by


def total(mine: dict, keys) -> tuple[float, float, list[str]]:
    """Points, the lab's maximum and the exercises still to mark by hand."""
    got = sum(float(mine[k]["points"] or 0) for k in keys if k in mine)
    best = sum(float(mine[k]["max_points"]) for k in keys if k in mine)
    return got, best, [k for k in keys if k in mine and mine[k]["status"] in ("manual", "remark")]


def export_csv(rows, due: datetime | None = None) -> str:
    """One row per student: student id, each marked exercise's points, total, maximum, to mark, submitted, late."""
    keys = marked_keys(rows)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["student", *keys, "total", "max", "to_mark", "submitted", "late_by"])
    for student, mine in students(rows).items():
        got, best, pending = total(mine, keys)
        submitted = next(iter(mine.values())).get("submitted", "")
        writer.writerow([_cell(shown(student)), *[mine[k]["points"] if k in mine else "" for k in keys],
                         f"{got:g}", f"{best:g}", " ".join(pending), submitted, late_by(submitted, due)])
    return buf.getvalue()


def feedback_markdown(student: str, mine: dict, keys, due: datetime | None = None) -> str:
    """One student's feedback: total, lateness, then every exercise with its points and the check's message."""
    from .submissions import LATE

    got, best, pending = total(mine, keys)
    lines = [f"# Lab 8 feedback: {_md_name(student)}\n", f"**Total: {got:g} / {best:g}**"
             + (f" (still to be marked by hand: {', '.join(pending)})" if pending else "") + "\n"]
    submitted = next(iter(mine.values())).get("submitted", "")
    late = late_by(submitted, due)
    if late and submitted == LATE:  # Canvas gives the flag, no time: no "late ... after the due date"
        lines.append("Submitted late, by the LMS's own due date.\n")
    elif late:
        lines.append(f"Submitted {submitted}, {late} after the due date.\n")
    lines.append("| exercise | points | feedback |\n|---|---|---|")
    for r in mine.values():
        worth = float(r["max_points"] or 0)
        points = f"{r['points'] or '–'} / {worth:g}" if worth else "practice"
        message = md_text(r["message"]) or r["status"]  # the student's text inside a check's message: inert
        lines.append(f"| {r['exercise']}: {r['title']} | {points} | {message} |")  # the lab's own words
    return "\n".join(lines) + "\n"


def _file_names(names) -> dict[str, str]:
    """Student -> a safe, distinct file name ('bob x' and 'bob_x' get two)."""
    return {student: name + ".md" for student, name in safe_names(names).items()}


def mistake(message: str) -> str:
    """The named cause of a wrong answer: the check's sentence after 'label:' up to the hint, numbers as N."""
    text = re.sub(r"^\W*\w+: ", "", message, count=1).split(";")[0].strip().rstrip(".")
    return re.sub(r"(?<![\w.])-?\d+(\.\d+)?(e-?\d+)?(?!\w)", "N", text)[:160]  # z2 stays, 0.37 is N


def summary_markdown(rows, due: datetime | None = None) -> str:
    """Per exercise: how many students got each status and the mean points; the named mistakes, most common first."""
    by = students(rows)
    keys = list(dict.fromkeys(r["exercise"] for r in rows))
    parts = [f"# Lab 8: the class at a glance ({len(by)} students)\n",
             "| exercise | max | pass | marked | wrong | not done | error | to mark | mean |",
             "|---|---|---|---|---|---|---|---|---|"]
    for key in keys:
        mine = [r for r in rows if r["exercise"] == key]
        counts = Counter(r["status"] for r in mine)
        worth = float(mine[0]["max_points"] or 0)
        mean = sum(float(r["points"] or 0) for r in mine) / len(mine) if worth else 0
        parts.append(f"| {key} | {worth:g} | {counts['pass']} | {counts['marked']} | {counts['wrong']} | "
                     f"{counts['not done']} | {counts['error']} | {counts['manual'] + counts['remark']} | "
                     + (f"{mean:.2f} |" if worth else "practice |"))
    marked = marked_keys(rows)
    totals = Counter(total(mine, marked)[0] for mine in by.values())
    parts += ["\n## Totals\n", "| total | students |", "|---|---|"]
    parts += [f"| {t:g} | {n} |" for t, n in sorted(totals.items())]
    named = Counter((r["exercise"], mistake(r["message"])) for r in rows if r["status"] == "wrong")
    parts += ["\n## Mistakes the checks named\n"]
    parts += [f"- {key}: {md_text(text)}: {n} student{'s' if n > 1 else ''}" for (key, text), n in named.most_common()]
    if not named:
        parts.append("None.")
    late = [s for s, mine in by.items() if late_by(next(iter(mine.values())).get("submitted", ""), due)]
    if due is not None:
        parts.append(f"\n## Late\n\n{len(late)} submitted after {due.isoformat()}: "
                     + (", ".join(_md_name(s) for s in late) or "none") + ".")
    return "\n".join(parts) + "\n"


def write_all(out: Path, rows, due: datetime | None = None) -> list[Path]:
    """Write the export, the summary and one feedback file per student beside out; returns the paths."""
    keys = marked_keys(rows)
    written = [atomic_write(export_path(out), lambda f: f.write(export_csv(rows, due).encode())),
               atomic_write(summary_path(out), lambda f: f.write(summary_markdown(rows, due).encode()))]
    by = students(rows)
    folder = feedback_dir(out)
    for student, name in _file_names(by).items():
        text = feedback_markdown(student, by[student], keys, due)
        written.append(atomic_write(folder / name, lambda f, t=text: f.write(t.encode())))
    return written


def due_date(text: str) -> datetime:
    """argparse type for --due: a date and time; one sentence when it is not one."""
    import argparse

    try:
        return parse_time(text)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a date and time; give one like '2027-03-01 17:00' "
                                         "(UTC) or '2027-03-01T17:00+01:00'") from None
