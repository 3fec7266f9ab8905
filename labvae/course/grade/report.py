"""Writing the marks: one CSV row per student and exercise, the written answers to mark, a summary."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from pathlib import Path

from .text import MAX_ANSWER, MAX_SHOWN, cut, kept, md_text, shown  # noqa: F401 (report.shown, ...)

COLUMNS = ("student", "notebook", "exercise", "title", "status", "points", "max_points", "message", "cell_errors",
           "submitted")  # submitted: nbgrader's timestamp.txt, ISO 8601 UTC ('' when there is none)
FORMULA = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet reads a cell starting so as a formula


def answers_path(out: Path) -> Path:
    return out.with_name(out.stem + "-answers.md")


def _cell(value: str) -> str:
    """A CSV cell no spreadsheet runs: a leading formula character (or quote) gets a quote before it."""
    return "'" + value if value.startswith((*FORMULA, "'")) else value


def _uncell(value: str) -> str:
    """A cell as _cell wrote it, read back: its guarding quote taken off, so a re-grade finds the same name."""
    return value[1:] if value.startswith("'") and value[1:2].startswith((*FORMULA, "'")) and value[1:2] else value


def answer_hash(text: str) -> str:
    """What a hand mark remembers of the answer it marked: 12 hex digits of the text's SHA-256."""
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:12]


def marked_hash(message: str) -> str:
    """The answer hash a written answer's row message carries ('' if none)."""
    found = re.search(r"answer ([0-9a-f]{12})\)", message or "")
    return found.group(1) if found else ""


def rows(subs, exercises, results, submitted=None) -> list[dict]:
    """One row per student and exercise; submitted: {student: time} from timestamp.txt."""
    rows = []
    for student in sorted(subs):
        for ex in exercises:
            res = results.get((student, ex.notebook))
            row = {"student": student, "notebook": ex.notebook, "exercise": ex.key, "title": ex.title,
                   "max_points": f"{ex.points:g}", "cell_errors": "; ".join(res.cell_errors) if res else "",
                   "submitted": (submitted or {}).get(student, "")}
            if res is None:
                status, message = "not done", f"{ex.notebook}.ipynb was not submitted"
            elif res.failure:
                status, message = "error", res.failure + "; 0 marks"
            elif ex.manual:
                text = res.answers.get(ex.key)
                status = "manual" if text else "not done"
                where = "to mark by hand: answer in the -answers.md file" if ex.points else "practice, not marked"
                message = (f"{where} ({len(text.split())} words, answer {answer_hash(text)})" if text else "no answer written" if text == ""
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
    writer.writerows({k: _cell(shown(v)) for k, v in r.items()} for r in rows)
    return buf.getvalue()


def _md_name(name: str) -> str:
    """A name as Markdown text: its punctuation escaped, so it cannot open a link, tag or emphasis."""
    return md_text(name, most=200)


def fenced(text: str) -> str:
    """text in a code fence longer than any backtick run inside it: it cannot close the fence or hide what follows."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(c if c in "\n\t" or c.isprintable() else shown(c) for c in text)
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return f"{fence}text\n{text}\n{fence}"


def answers_markdown(entries, exercises, marks_file: str = "grades-marks.csv", remark=frozenset()) -> str:
    """Written answers grouped by exercise, one section per student: a marker reads one question at a time,
    with the model answer and rubric at the top and each student's own printed numbers beside the answer.

    entries: {student: {exercise: {"text", "numbers"}}}, the whole class's (answers.merged); remark: the
    (student, exercise) whose answer changed after it was marked."""
    from .marking import marker_notes

    manual = [ex for ex in exercises if ex.manual and ex.points]  # predictions (0 marks) stay in the CSV
    if not manual or not entries:
        return ""
    parts = ["# Written answers to mark by hand\n\nEach answer is shown as the student wrote it, as plain text "
             f"in a fence. Enter marks and comments in `{marks_file}` (student, exercise, points, comment): every "
             "grade run reads it and never writes over it; `python -m labvae gradebook` applies it without running "
             "any notebook. Every student graded so far is here: a re-grade replaces only their own answers.\n"]
    for ex in manual:
        marks = f"{ex.points:g} mark" + ("" if ex.points == 1 else "s")
        parts.append(f"\n## {ex.key}: {ex.title} ({marks}, {ex.notebook})\n\n{marker_notes(ex)}")
        for student, mine in entries.items():
            if ex.key not in mine:
                continue  # graded before this exercise existed
            text, numbers = mine[ex.key]["text"], mine[ex.key]["numbers"]
            again = " (changed since it was marked: mark it again)" if (student, ex.key) in remark else ""
            tag = f"answer {answer_hash(text)}{again}: the marks file's `answer` column names it\n\n" if text else ""
            parts.append(f"\n### {_md_name(student)}\n\n{tag}{fenced(text) if text else '*(no answer)*'}\n")
            if text:
                parts.append("\nPrinted in the notebook they handed in (their own file, as they saved it; the grader "
                             "did not re-run this to get it):\n\n" + fenced(numbers) + "\n" if numbers else
                             "\n*(their notebook carries no printed output: they did not run it, or cleared it)*\n")
    return "".join(parts)


def summary(rows, results, manual_keys) -> str:
    """Per student: points out of the lab's marks (written answers included), answers left to mark, what went wrong."""
    lines = [f"{'student':<24}{'marks':>12}  {'to mark':<9}notes"]
    for student in dict.fromkeys(r["student"] for r in rows):
        mine = [r for r in rows if r["student"] == student]
        got = sum(float(r["points"] or 0) for r in mine)
        best = sum(float(r["max_points"]) for r in mine)
        manual = sum(r["status"] in ("manual", "remark") and float(r["max_points"]) > 0 for r in mine)
        changed = sum(r["status"] == "remark" for r in mine)
        notes = [f"{stem}: {res.failure}" for (s, stem), res in sorted(results.items()) if s == student and res.failure]
        raised = sum(len(res.cell_errors) for (s, _), res in results.items() if s == student)
        notes += [f"{raised} cell(s) raised"] if raised else []
        notes += [f"{changed} answer(s) changed since marked: mark again"] if changed else []
        lines.append(f"{shown(student):<24}{f'{got:g} / {best:g}':>12}  {manual or '':<9}{cut(shown('; '.join(notes)))}")
    return "\n".join(lines)


def safe_names(names) -> dict[str, str]:
    """Name -> a safe, distinct file or folder name: `bob x` and `bob_x` get two, never one."""
    out, taken = {}, set()
    for name in sorted(names):
        base = re.sub(r"[^\w.-]", "_", name).lstrip(".-")[:60] or "student"  # `-rf.md`: no option to a shell
        safe, n = base, 1
        while safe.lower() in taken:
            n += 1
            safe = f"{base}-{n}"
        taken.add(safe.lower())
        out[name] = safe
    return out
