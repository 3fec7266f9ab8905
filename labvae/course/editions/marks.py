"""The marks as the notebooks show them: headers and nbgrader's points stamped from exercises.MARKS."""

from __future__ import annotations

import re

from ..checks.exercises import MARKS

# How the notebooks name each exercise, and the keys whose marks it adds up.
NUMBERS = {"1.1": ("1_1-grid", "1_1-sweep"), "1.1a": ("1_1-grid",), "1.1b": ("1_1-sweep",),
           "2.1": ("2_1-ae", "2_1-ae-sweep"), "2.1a": ("2_1-ae",), "2.1b": ("2_1-ae-sweep",),
           "2.2": ("2_2-comparison",)}
TITLE = re.compile(r"(Exercise (\d\.\d[ab]?)\s\()(\d+(?:\.\d+)?) marks?\)")  # "Exercise 2.1 (2 marks)"
GRADED = re.compile(r"(Graded \()(\d+(?:\.\d+)?) marks?\)")  # a grade cell's comment: "Graded (1 mark)"
TEST_SUFFIX = "-test"  # a grade cell's id is its exercise's key plus this


def _marks(value: float) -> str:
    return f"{value:g} mark" + ("" if value == 1 else "s")


def stamp_text(text: str, marks: dict | None = None, key: str | None = None) -> str:
    """text with every "Exercise N (k marks)" (and, for key's grade cell, "Graded (k marks)") set from marks."""
    marks = MARKS if marks is None else marks

    def title(m):
        keys = NUMBERS.get(m.group(2))
        return m.group(0) if keys is None else f"{m.group(1)}{_marks(sum(marks[k] for k in keys))})"

    text = TITLE.sub(title, text)
    if key in marks:
        text = GRADED.sub(lambda m: f"{m.group(1)}{_marks(marks[key])})", text)
    return text


def cell_key(cell) -> str | None:
    """The exercise a grade cell marks (its grade_id, less "-test" for a code check), else None."""
    grader = cell.get("metadata", {}).get("nbgrader", {})
    if not grader.get("grade"):
        return None
    gid = grader.get("grade_id", "")
    return gid[: -len(TEST_SUFFIX)] if gid.endswith(TEST_SUFFIX) else gid


def stamp_cell(cell, marks: dict | None = None) -> None:
    """Set a notebook cell's marks in place: its text, and nbgrader's points where it is a grade cell."""
    marks = MARKS if marks is None else marks
    key = cell_key(cell)
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    stamped = stamp_text(source, marks, key)
    if stamped != source:
        cell["source"] = stamped if isinstance(cell["source"], str) else stamped.splitlines(keepends=True)
    if key in marks:
        cell["metadata"]["nbgrader"]["points"] = marks[key]
