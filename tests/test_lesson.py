"""The student's path through the lesson (issue 28): what to hand in, marks from one place, predictions that
fit every scale, the evidence 2.2 asks for, and no verdict on a mechanism 2.2 asks about."""

import json
import re
from pathlib import Path

import matplotlib
import pytest

from labvae.course.checks.exercises import EXERCISES, MARKS
from labvae.course.editions import marks, student

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
STUDENT = NOTEBOOKS / "student"
MARKED = ("02_vae_sweep", "03_ae_sweep", "04_comparison")


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def text(c: dict) -> str:
    return "".join(c["source"])


def header(name: str) -> str:
    return " ".join(text(cells(STUDENT / f"{name}.ipynb")[0]).split())


def lessons() -> list[str]:
    return [p.stem for p in student.lesson_notebooks(NOTEBOOKS)]


def test_every_lesson_header_says_what_to_hand_in():
    assert lessons() == ["01_training", *MARKED, "05_beta"]
    the_marks = (f"Exercise 1.1 ({MARKS['1_1-grid'] + MARKS['1_1-sweep']:g} marks), Exercise 2.1 "
                 f"({MARKS['2_1-ae'] + MARKS['2_1-ae-sweep']:g} marks)")
    for name in lessons():
        h = header(name)
        assert "Hand in" in h and the_marks in h and ("02, 03 and 04" in h or "(02–04)" in h), name
        assert "Exercise 2.2 (" in h.split("Hand in")[1], name
    for name in MARKED:
        block = header(name).split("**Hand in**")[1]
        for must in (f"`{name}.ipynb`", "outputs", "graded cells in place", "05 optional", "Download .ipynb",
                     "LMS assignment or nbgrader"):
            assert must in block, (name, must)
    assert "optional" in header("05_beta").split("Hand in")[1]


def test_the_core_is_stated_as_a_lab_of_three_to_three_and_a_half_hours():
    h = header("01_training")
    assert "3–3.5 h" in h and "05 and every *Try next* are optional" in h
    for name in lessons():  # every header: the first run on Colab and on a busy server
        assert "Colab's CPU" in header(name) and "busy shared server" in header(name), name


def test_the_solutions_typed_marks_agree_with_the_one_table():
    """Stamping the solutions with MARKS changes nothing: headers, grade comments and points already agree."""
    for name in lessons():
        for c in cells(NOTEBOOKS / f"{name}.ipynb"):
            before = json.loads(json.dumps(c))
            marks.stamp_cell(c)
            assert c == before, (name, text(before)[:80])
    assert {e.key: e.points for e in EXERCISES if e.points} == MARKS


def test_a_course_that_weights_2_2_more_gets_it_everywhere():
    weighted = {**MARKS, "2_2-comparison": 5}
    nb = {c_id: c for c_id, c in enumerate(cells(NOTEBOOKS / "04_comparison.ipynb"))}
    for c in nb.values():
        marks.stamp_cell(c, weighted)
    stamped = "\n".join(text(c) for c in nb.values())
    assert "Exercise 2.2 (5 marks)" in stamped and "Exercise 2.2 (1 mark)" not in stamped
    assert "Exercise 2.1 (2 marks)" in stamped  # the others keep theirs
    graded = [c for c in nb.values() if marks.cell_key(c) == "2_2-comparison"]
    assert len(graded) == 1 and graded[0]["metadata"]["nbgrader"]["points"] == 5
    code = [c for c in cells(NOTEBOOKS / "03_ae_sweep.ipynb") if marks.cell_key(c) == "2_1-ae"][0]
    marks.stamp_cell(code, {**MARKS, "2_1-ae": 3})
    assert "Graded (3 marks)" in text(code) and code["metadata"]["nbgrader"]["points"] == 3


def test_the_student_edition_and_the_nbgrader_release_stamp_marks_alike():
    assert "stamp_cell" in (ROOT / "nbgrader_config.py").read_text()
    assert "MARKS" in (ROOT / "docs" / "instructors.md").read_text()
    assert "deliverable" in (ROOT / "docs" / "instructors.md").read_text()


def test_03s_prediction_asks_for_a_number():
    before = [text(c) for c in cells(STUDENT / "03_ae_sweep.ipynb") if "Predict before you run" in text(c)]
    assert len(before) == 1
    assert "percentage" in before[0]
    assert not re.search(r"nearly all, about|three quarters|hardly any", before[0])


def test_the_lab_ae_still_improving_and_the_capacity_control_come_before_2_2():
    src = [text(c) for c in cells(STUDENT / "04_comparison.ipynb")]
    exercise = next(i for i, s in enumerate(src) if s.startswith("**Exercise 2.2"))
    before = "\n".join(src[:exercise])
    assert "still_improving(" in before and "control" in before and "capacity" in before


def test_04_draws_each_models_codes_over_its_own_sweep_and_prints_the_holes():
    src = "\n".join(text(c) for c in cells(STUDENT / "04_comparison.ipynb"))
    assert "decode_grid(model.decode)" in src and ".scatter(" in src
    for key in ("garment_in_empty_cells", "garment_in_code_cells", "large_steps("):
        assert key in src


VERDICTS = ("is not what fills the gaps", "the noise is not", "is what fills the gaps",
            "noise does not fill", "packed codes and a smooth decoder")


@pytest.mark.parametrize("name", ["03_ae_sweep", "04_comparison", "05_beta"])
def test_no_verdict_on_a_mechanism_2_2_asks_about(name):
    prose = " ".join(" ".join(text(c).split()) for c in cells(STUDENT / f"{name}.ipynb"))
    found = [v for v in VERDICTS if v in prose]
    assert not found, found


def test_05_shows_the_smoothness_measure_and_asks():
    src = "\n".join(text(c) for c in cells(STUDENT / "05_beta.ipynb"))
    assert "frac_large_steps" in src and "one seed" in src.lower()


def test_small_fixes():
    two = "\n".join(text(c) for c in cells(STUDENT / "02_vae_sweep.ipynb"))
    assert "whole 2-d latent space" not in two
    three = "\n".join(text(c) for c in cells(STUDENT / "03_ae_sweep.ipynb"))
    assert "limit=8" not in three and "latent_codes(ae, x_test).abs().max()" in three


def test_the_metric_panels_labels_do_not_overlap():
    import matplotlib.pyplot as plt

    from labvae.analysis.figures import BETA_METRICS, plot_metrics

    row = {m[0]: (1 if m[0] == "classes" else 0.5) for m in BETA_METRICS}
    rows = {f"b{b}": {**row, "beta": b, "posterior_sigma": None} for b in (0.0, 1.0, 4.0)}
    rows["fixed"] = {**row, "beta": 1.0, "posterior_sigma": 0.01}
    axes = plot_metrics(rows)
    fig = axes[0].figure
    fig.canvas.draw()
    boxes = [ax.xaxis.label.get_window_extent() for ax in axes]
    assert all(not a.overlaps(b) for a, b in zip(boxes, boxes[1:]))
    plt.close(fig)


def test_the_readme_says_what_the_notebooks_say():
    readme = (ROOT / "README.md").read_text()
    assert "what to hand in" in readme and "3–3.5 h" in readme and "MARKS" in readme
    for name in MARKED:  # the README's promise that each says what to hand in holds for every notebook
        assert "Hand in" in header(name)


def test_the_seam_measure_can_tell():
    """Controls for analysis.large_steps: a sweep that never changes and a smooth ramp have no seams; a
    sweep split into two different garments has one seam per row; sparse jumps (a stroke that appears)
    count although the mean absolute change stays small, the case the lab's sweeps show."""
    import torch

    from labvae.analysis.metrics import LARGE_STEP, large_steps

    n = 21
    still = torch.full((n * n, 784), 0.3)
    ramp = torch.linspace(0, 1, n).repeat(n)[:, None].expand(n * n, 784) * 0.5  # 0.025 a step
    assert large_steps(still, n) == 0.0 and large_steps(ramp, n) == 0.0
    halves = torch.zeros(n, n, 784)
    halves[:, n // 2 + 1:] = 1.0  # one jump per row, between two columns
    assert large_steps(halves.reshape(n * n, 784), n) == pytest.approx(n / (2 * n * (n - 1)))
    stroke = torch.zeros(n, n, 784)
    stroke[:, n // 2 + 1:, :40] = 1.0  # 40 of 784 pixels switch on: mean |change| 0.05, RMS 0.23
    flat = stroke.reshape(n * n, 784)
    assert (stroke[:, 1:] - stroke[:, :-1]).abs().mean(-1).max() < LARGE_STEP  # the mean would miss it
    assert large_steps(flat, n) == pytest.approx(n / (2 * n * (n - 1)))
