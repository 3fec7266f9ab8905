"""The copying report's pairs in bounded time (issue 29): long answers by shingles, a deadline that says what it left."""

from pathlib import Path

import nbformat

from labvae.course.checks import exercises
from labvae.course.grade import similarity

STUDENT = Path(__file__).resolve().parents[1] / "notebooks" / "student" / "02_vae_sweep.ipynb"


def long_answer(me: int) -> str:
    """A latent_grid of ~19,500 characters (under MAX_CELL), the same as the others' but for a few lines of its own."""
    lines = [f"    t{i} = torch.linspace(-limit, limit, n) * {i % 97} + {i % 13}" for i in range(370)]
    for k in range(3):
        lines[(me * 37 + k * 101) % 370] = f"    own{k} = torch.zeros(n) + {me * 1000 + k}"
    return "def latent_grid(n=21, limit=4.0):\n" + "\n".join(lines) + "\n    return torch.stack([t0, t1], 1)\n"


def class_of(tmp_path, n: int) -> dict:
    subs = {}
    for me in range(n):
        nb = nbformat.read(STUDENT, as_version=4)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "1_1-grid":
                cell.source = long_answer(me)
        path = tmp_path / f"s{me}" / "02_vae_sweep.ipynb"
        path.parent.mkdir()
        nbformat.write(nb, path)
        subs[f"s{me}"] = {"02_vae_sweep": path}
    return subs


def test_long_alike_answers_are_paired_by_their_shingles(tmp_path):
    assert len(long_answer(0)) > 19_000 and len(similarity.tokens(long_answer(0))) > similarity.EXACT_TOKENS
    result = similarity.compare(class_of(tmp_path, 6), exercises.EXERCISES)
    assert {(a, b) for k, a, b, _ in result["pairs"] if k == "1_1-grid"} == {
        (f"s{i}", f"s{j}") for i in range(6) for j in range(i + 1, 6)}  # all 15 pairs: alike, not equal
    assert all(0.9 <= s < 1 for *_, s in result["pairs"]) and not result["skipped"]


def test_past_the_deadline_the_report_says_what_it_left(tmp_path, monkeypatch):
    monkeypatch.setattr(similarity, "PAIRS_SECONDS", 0.0)
    result = similarity.compare(class_of(tmp_path, 4), exercises.EXERCISES)
    assert result["pairs"] == []
    assert any("1_1-grid: 6 pairs of students not compared" in s for s in result["skipped"]), result["skipped"]
    assert "not compared" in similarity.to_markdown(result)


def test_a_short_answer_is_still_scored_exactly():
    a = similarity.tokens("def f(x):\n    y = x * 2\n    z = y + 1\n    return torch.stack([y, z, x])\n")
    assert similarity.score(a, a) == 1.0 and similarity.score(a, a[:-3]) < 1.0
    assert len(a) <= similarity.EXACT_TOKENS
