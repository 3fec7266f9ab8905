"""What the marker of a written answer sees beside it: the model answer, the rubric, the student's own numbers.

The model answer is read from the solution notebooks and the rubric from solutions/, both in the
instructors' copy of the repository (beside the labvae package); neither ships to students.
"""

from __future__ import annotations

import time
from pathlib import Path

from . import limits
from .runner import PACKAGE

ROOT = PACKAGE.parent  # the repository's root in an instructor's checkout
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
READ_SECONDS = 10  # to read one notebook: a capped file of 32 MB reads in well under a second
OWN_OUTPUT_CHARS = 6000  # of the student's printed tables: enough for 04's, bounded whatever the notebook holds


def _cells(path: Path) -> list[dict]:
    """A notebook's cells as JSON dicts; [] for anything that is not a notebook the grader reads (limits' caps)."""
    try:  # the student's own executed notebook is untrusted: regular file, size, brackets, depth, cells, time
        return limits.parse(limits.read_bytes(path, time.monotonic() + READ_SECONDS))["cells"]
    except (OSError, ValueError):
        return []


def _text(value) -> str:
    return value if isinstance(value, str) else "".join(map(str, value)) if isinstance(value, list) else ""


def _grade_id(cell: dict) -> str:
    meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
    grader = meta.get("nbgrader") if isinstance(meta.get("nbgrader"), dict) else {}
    tags = meta.get("tags") if isinstance(meta.get("tags"), list) else []
    return str(grader.get("grade_id", "")) or next((t for t in tags if isinstance(t, str)), "")


def model_answer(ex, root: Path = ROOT) -> str | None:
    """The solution region of the exercise's answer cell in the solution notebook, or None where there is none."""
    for cell in _cells(root / "notebooks" / f"{ex.notebook}.ipynb"):
        if _grade_id(cell) == ex.key:
            text = _text(cell.get("source"))
            if BEGIN in text and END in text:
                return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    return None


def rubric(ex, root: Path = ROOT) -> str | None:
    """The rubric for a written exercise, solutions/rubric-KEY.md, or None."""
    path = root / "solutions" / f"rubric-{ex.key}.md"
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None


def own_numbers(path, ex) -> str | None:
    """What the student's own run printed before the answer cell (their tables), bounded; None if never run."""
    if not isinstance(path, Path):
        return None
    printed = []
    for cell in _cells(path):
        if _grade_id(cell) == ex.key:
            break
        if cell.get("cell_type") != "code" or not isinstance(cell.get("outputs"), list):
            continue
        for out in cell["outputs"]:
            if isinstance(out, dict) and out.get("output_type") == "stream" and out.get("name") == "stdout":
                printed.append(_text(out.get("text")).rstrip())
    text = "\n\n".join(p for p in printed if p)
    return text[-OWN_OUTPUT_CHARS:] if text else None


def marker_notes(ex, root: Path = ROOT) -> str:
    """The model answer and rubric as Markdown, for the top of an exercise's section in the answers file."""
    answer, scheme = model_answer(ex, root), rubric(ex, root)
    where = f"notebooks/{ex.notebook}.ipynb of the solutions"
    parts = ["**Rubric.**\n\n" + (scheme or f"*(no solutions/rubric-{ex.key}.md in {root})*"),
             "**Model answer** (from " + where + "):\n\n"
             + ("\n".join("> " + line for line in answer.splitlines()) if answer else "*(not found)*")]
    return "\n\n".join(parts) + "\n"
