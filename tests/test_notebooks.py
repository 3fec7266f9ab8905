"""The notebooks as files: paired twins agree, no outputs committed, Colab installs from pyproject's URL."""

import re
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# The student edition is generated, but paired and output-free like the solutions.
PAIRED = NOTEBOOKS + sorted((ROOT / "notebooks" / "student").glob("[0-9][0-9]_*.ipynb"))
EXPECTED = ["01_training", "02_vae_sweep", "03_ae_sweep", "04_comparison", "05_beta", "06_appendix"]


def test_the_four_notebooks_exist():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


def sources(nb):
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


@pytest.mark.parametrize("ipynb", PAIRED, ids=lambda p: str(p.relative_to(ROOT / "notebooks")))
def test_ipynb_and_py_twin_agree(ipynb):
    twin = ipynb.with_suffix(".py")
    assert twin.is_file(), f"{ipynb.name} has no .py twin; run: jupytext --sync {ipynb}"
    from_py = jupytext.read(twin)
    from_ipynb = nbformat.read(ipynb, as_version=4)
    fix = ("regenerate the student edition: python -m labvae student notebooks/student"
           if ipynb.parent.name == "student" else f"edit the .py and run: jupytext --sync {twin}")
    assert sources(from_py) == sources(from_ipynb), f"{ipynb.name} and {twin.name} have drifted; {fix}"


@pytest.mark.parametrize("ipynb", PAIRED, ids=lambda p: str(p.relative_to(ROOT / "notebooks")))
def test_no_committed_outputs(ipynb):
    nb = nbformat.read(ipynb, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{ipynb.name} carries outputs in cells {dirty}; clear them (jupytext --to ipynb --update)"


@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=lambda p: p.stem)
def test_colab_setup_and_badge_use_pyproject_url(ipynb):
    url = re.search(r'^Repository = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    nb = nbformat.read(ipynb, as_version=4)
    setup = next(c.source for c in nb.cells if c.cell_type == "code" and "google.colab" in c.source)
    assert f'REPOSITORY = "{url}"' in setup
    badge = re.search(r"colab\.research\.google\.com/github/([^)]+?)/blob/main/notebooks/(\S+?)\)", nb.cells[0].source)
    assert badge and url.endswith(badge.group(1)) and badge.group(2) == ipynb.name


@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_opens_like_a_lesson(ipynb):
    nb = nbformat.read(ipynb, as_version=4)
    first = nb.cells[0].source
    assert first.startswith("# ") and "What you will learn" in first
    assert "## Summary" in nb.cells[-1].source and "Try next" in nb.cells[-1].source
    imports = [c for c in nb.cells if c.cell_type == "code" and "import labvae" in c.source]
    assert len(imports) == 1, "one imports cell"
    # Exercise cells (holding a solution region) define the student's function; nothing else may.
    narrating = [c for c in nb.cells if c.cell_type == "code" and "### BEGIN SOLUTION" not in c.source]
    assert not any("def " in c.source or "class " in c.source for c in narrating), \
        "notebooks narrate; library code belongs in labvae/"
