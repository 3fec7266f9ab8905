"""The written answers to mark, across runs: kept in OUT-answers.json, merged like grades.csv, shown in OUT-answers.md.

A run grades some students: their answers replace what the store held for them, everyone else's stay,
so the answers file always shows the whole class, as grades.csv does.
"""

from __future__ import annotations

import json
from pathlib import Path

from .submissions import GradeError
from .text import kept

MAX_BYTES = 64 << 20  # 150 students' answers and printed tables are under 2 MB; far past this is not ours


def store_path(out: Path) -> Path:
    return out.with_name(out.stem + "-answers.json")


def collect(subs, exercises, results) -> dict[str, dict[str, dict]]:
    """{student: {exercise: {"text", "numbers"}}} for the written answers worth marks, from this run."""
    from .marking import own_numbers

    manual = [ex for ex in exercises if ex.manual and ex.points]  # predictions (0 marks) stay in the CSV
    entries = {}
    for student in subs:
        mine = {}
        for ex in manual:
            res = results.get((student, ex.notebook))
            text = "" if res is None or res.failure else res.answers.get(ex.key) or ""
            numbers = own_numbers(subs[student].get(ex.notebook), ex) if text else None
            mine[ex.key] = {"text": kept(text), "numbers": kept(numbers)}  # a 30 MB answer: its start and a note
        if mine:
            entries[student] = mine
    return entries


def read(out: Path) -> dict[str, dict[str, dict]]:
    """The answers kept by earlier runs (none without a store), or GradeError in one sentence."""
    path = store_path(out)
    if not path.exists():
        return {}
    why = ""
    try:
        if path.stat().st_size > MAX_BYTES:
            why = f"it is over {MAX_BYTES >> 20} MB"
        else:
            data = json.loads(path.read_text(encoding="utf-8"))
            if _valid(data):
                return data
            why = "it does not hold answers as labvae grade writes them"
    except (OSError, UnicodeDecodeError, ValueError) as e:
        why = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
    raise GradeError(f"{path} cannot be read ({why}); move it away to start the answers file afresh "
                     "(grades.csv keeps the marks): nothing was written.")


def _valid(data) -> bool:
    return isinstance(data, dict) and all(
        isinstance(mine, dict) and all(isinstance(e, dict) and isinstance(e.get("text"), str)
                                       and isinstance(e.get("numbers"), (str, type(None))) for e in mine.values())
        for mine in data.values())


def merged(out: Path, subs, exercises, results) -> tuple[dict, str]:
    """(the class's answers: this run's students replaced, the rest kept, the store's new text)."""
    entries = {**read(out), **collect(subs, exercises, results)}
    entries = dict(sorted(entries.items()))
    return entries, json.dumps(entries, ensure_ascii=False, indent=1)
