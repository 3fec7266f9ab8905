"""The released student edition: no answer to marked Exercise 2.2, no instructors' appendix, a core that fits a lab."""

import json
import re
from pathlib import Path

import pytest

from labvae.course.editions import student

ROOT = Path(__file__).resolve().parents[1]
STUDENT = ROOT / "notebooks" / "student"
CORE = ("01", "02", "03", "04")  # the students' core path; 05 is an optional extension
WORD_BUDGET = 3500  # markdown words of the core: a three-hour lab leaves time to run, look and write
# Phrases that answer Exercise 2.2 or print the claims' verdicts: none may reach students before hand-in.
ANSWER_MARKERS = ("Why the two spaces differ", "Close to the prior is not the prior", "A linear decoder draws a plane",
                  "packed codes and a smooth decoder", "judge_claims", "verdict_summary", "verdict_table",
                  "claims_declaration", "DOES NOT HOLD", "does not hold", "cannot tell", "margin to the threshold")


def released() -> dict[str, str]:
    """Every notebook of the committed student edition: name -> all its cells' text."""
    return {p.name: "\n".join("".join(c["source"]) for c in json.loads(p.read_text(encoding="utf-8"))["cells"])
            for p in sorted(STUDENT.glob("*.ipynb"))}


def words(text: str) -> int:
    return len(re.findall(r"\S+", text))


def sentences_of_the_model_answer() -> list[str]:
    """The 2.2 model answer's and the solution-only cells' sentences of eight words or more, as the solutions hold them."""
    nb = json.loads((ROOT / "notebooks" / "04_comparison.ipynb").read_text(encoding="utf-8"))
    texts = []
    for c in nb["cells"]:
        src = "".join(c["source"])
        if student.SOLUTION_ONLY in c["metadata"].get("tags", []):
            texts.append(src)
        elif c["metadata"].get("nbgrader", {}).get("grade_id") == "2_2-comparison":
            texts.append(src.split(student.BEGIN)[1].split(student.END)[0])
    assert texts, "04_comparison lost its 2.2 answer cell and its solution-only explanation"
    found = re.split(r"(?<=[.:;])\s+", " ".join(texts))
    return [" ".join(s.split()) for s in found if words(s) >= 8]


def test_the_student_edition_holds_no_answer_to_exercise_2_2():
    key = sentences_of_the_model_answer()
    assert len(key) >= 10
    for name, text in released().items():
        flat = " ".join(text.split())
        leaked = [s for s in key if s in flat]
        assert not leaked, f"{name} carries the 2.2 model answer: {leaked[:2]}"
        markers = [m for m in ANSWER_MARKERS if m in text]
        assert not markers, f"{name} carries a verdict or the model answer's explanation: {markers}"


def test_the_instructors_appendix_is_not_released():
    assert (ROOT / "notebooks" / "06_appendix.ipynb").is_file()
    assert not list(STUDENT.glob(f"*{student.INSTRUCTORS_ONLY}*"))
    assert all(student.INSTRUCTORS_ONLY not in p.stem for p in student.lesson_notebooks(ROOT / "notebooks"))


def test_the_core_prose_fits_the_word_budget():
    core = {name: text for name, text in released().items() if name.startswith(CORE)}
    assert len(core) == len(CORE)
    counts = {}
    for name in core:
        nb = json.loads((STUDENT / name).read_text(encoding="utf-8"))
        counts[name] = sum(words("".join(c["source"])) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert sum(counts.values()) <= WORD_BUDGET, f"the core's prose is {sum(counts.values())} words ({counts}); cut to {WORD_BUDGET}"


def test_solution_only_cells_are_dropped_and_kept_in_the_solutions(tmp_path):
    nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Title"]},
                    {"cell_type": "markdown", "metadata": {"tags": [student.SOLUTION_ONLY]}, "source": ["The answer."]},
                    {"cell_type": "code", "metadata": {"tags": ["keep"]}, "source": ["x = 1"], "outputs": [],
                     "execution_count": None}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "01_x.ipynb").write_text(json.dumps(nb))
    (tmp_path / "02_appendix.ipynb").write_text(json.dumps(nb))
    out = student.student_notebook(tmp_path / "01_x.ipynb")
    assert ["".join(c["source"]) for c in out["cells"]] == ["# Title", "x = 1"]
    assert len(json.loads((tmp_path / "01_x.ipynb").read_text())["cells"]) == 3  # the solutions keep it
    pytest.importorskip("jupytext")
    written = student.write_student_edition(tmp_path, tmp_path / "student")
    assert sorted(p.name for p in written) == ["01_x.ipynb", "01_x.py"]
