"""Writing the marks: one CSV row per student and exercise, the written answers to mark, a summary."""

from __future__ import annotations

import csv
import io
from pathlib import Path

COLUMNS = ("student", "notebook", "exercise", "title", "status", "points", "max_points", "message", "cell_errors")


def answers_path(out: Path) -> Path:
    return out.with_name(out.stem + "-answers.md")


def rows(subs, exercises, results) -> list[dict]:
    rows = []
    for student in sorted(subs):
        for ex in exercises:
            res = results.get((student, ex.notebook))
            row = {"student": student, "notebook": ex.notebook, "exercise": ex.key, "title": ex.title,
                   "max_points": f"{ex.points:g}", "cell_errors": "; ".join(res.cell_errors) if res else ""}
            if res is None:
                status, message = "not done", f"{ex.notebook}.ipynb was not submitted"
            elif res.failure:
                status, message = "error", res.failure + "; 0 marks"
            elif ex.manual:
                text = res.answers.get(ex.key)
                status = "manual" if text else "not done"
                where = "to mark by hand: answer in the -answers.md file" if ex.points else "practice, not marked"
                message = (f"{where} ({len(text.split())} words)" if text else "no answer written" if text == ""
                           else f"the answer cell ({ex.key}) is missing: it was deleted or replaced")
            else:
                status, message = res.results.get(ex.key, ("error", "the check did not run"))
            points = "" if status == "manual" else f"{ex.points if status == 'pass' else 0:g}"
            rows.append({**row, "status": status, "points": points, "message": message})
    return rows


def to_csv(rows) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def answers_markdown(subs, exercises, results) -> str:
    """Written answers grouped by exercise, one section per student: a marker reads one question at a time."""
    manual = [ex for ex in exercises if ex.manual and ex.points]  # predictions (0 marks) stay in the CSV
    if not manual:
        return ""
    parts = ["# Written answers to mark by hand\n"]
    for ex in manual:
        marks = f"{ex.points:g} mark" + ("" if ex.points == 1 else "s")
        parts.append(f"\n## {ex.key}: {ex.title} ({marks}, {ex.notebook})\n")
        for student in sorted(subs):
            res = results.get((student, ex.notebook))
            text = "" if res is None or res.failure else res.answers.get(ex.key) or ""
            parts.append(f"\n### {student}\n\n{text or '*(no answer)*'}\n")
    return "".join(parts)


def summary(rows, results, manual_keys) -> str:
    """Per student: auto-marked points, written answers left to mark, and what went wrong."""
    lines = [f"{'student':<24}{'marks':>12}  {'to mark':<9}notes"]
    for student in dict.fromkeys(r["student"] for r in rows):
        mine = [r for r in rows if r["student"] == student]
        got = sum(float(r["points"] or 0) for r in mine)
        best = sum(float(r["max_points"]) for r in mine if r["exercise"] not in manual_keys)
        manual = sum(r["status"] == "manual" and float(r["max_points"]) > 0 for r in mine)
        notes = [f"{stem}: {res.failure}" for (s, stem), res in sorted(results.items()) if s == student and res.failure]
        raised = sum(len(res.cell_errors) for (s, _), res in results.items() if s == student)
        notes += [f"{raised} cell(s) raised"] if raised else []
        lines.append(f"{student:<24}{f'{got:g} / {best:g}':>12}  {manual or '':<9}{'; '.join(notes)}")
    return "\n".join(lines)
