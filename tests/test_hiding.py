"""The copying report reads cells as IPython runs them and names what fetches, hides or patches code."""

from pathlib import Path

import pytest

from labvae.course.grade import hiding
from labvae.course.grade.runner import NotebookResult

ROOT = Path(__file__).resolve().parents[1]


def cell(text: str) -> dict:
    return {"cell_type": "code", "source": text, "metadata": {}}


CASES = {
    "a magic first, then hidden code": ("%time _ = 0\nexec(bytes.fromhex('7072696e74283129'))", "decodes hidden text"),
    "code inside a magic": ("%time exec(compile('1', 'x', 'eval'))", "in %time: runs code from text"),
    "a cell magic's body": ("%%capture\nexec('1')", "in %capture: runs code from text"),
    "a shell line": ("!python -c 'print(1)'", "runs a shell command"),
    "getattr with a built string": ("f = getattr(labvae, 'latent' + '_grid')", "fetches an attribute by a built name"),
    "a class keeping labvae's function": ("class Box:\n    f = labvae.latent_grid", "keeps library code in a class"),
    "a store into an object": ("import types\nns = types.SimpleNamespace()\nns.g = labvae.latent_grid",
                               "stores into an object"),
    "a replaced code object": ("g = f.__code__.replace(co_name='g')", "takes a function's code"),
    "a code object's parts": ("c = f.co_consts", "reads or replaces a code object"),
    "vars()[key]": ("g = vars(ns)['grid']", "reads an object's attributes as a dict"),
    "the profiler switched off": ("import sys\nsys.setprofile(None)", "switches the checks' watch"),
    "a saved model loaded": ("m = torch.load('ae.pt')", "loads a saved file"),
    "a cell that cannot be parsed": ("def f(:\n    pass", "could not be read as Python"),
}


@pytest.mark.parametrize("name", CASES)
def test_each_way_of_hiding_is_named(name):
    text, why = CASES[name]
    found = hiding.hiding([cell(text)], set())
    assert any(why in line for line in found), found
    assert all(line.startswith("cell 1: ") for line in found)


def test_a_getattr_with_a_constant_name_and_the_released_cells_are_not_listed():
    assert hiding.hiding([cell("x = getattr(model, 'decode')(z)")], set()) == []
    for stem in ("01_training", "02_vae_sweep", "03_ae_sweep"):
        given = hiding.released(ROOT, stem)
        nb = hiding.read(ROOT / "notebooks" / "student" / f"{stem}.ipynb")
        assert given and hiding.hiding(nb, given) == [], stem


def test_the_honest_answers_list_nothing():
    honest = ("def latent_grid(n=21, limit=4.0):\n    z1 = torch.linspace(-limit, limit, n)\n"
              "    z2 = torch.linspace(limit, -limit, n)\n    a, b = torch.meshgrid(z2, z1, indexing='ij')\n"
              "    return torch.stack([b.reshape(-1), a.reshape(-1)], 1)\n",
              "class AE(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.enc = nn.Linear(784, 2)\n        self.dec = nn.Linear(2, 784)\n")
    assert hiding.hiding([cell(t) for t in honest], set()) == []


def test_what_the_checks_caught_when_they_ran_it_is_listed():
    res = NotebookResult(results={"1_1-grid": ("wrong", "✗ latent_grid: it hands the work to labvae's own "
                                                "labvae.latent_grid; write the code yourself."),
                                  "1_1-sweep": ("pass", "✓ sweep_image: correct.")})
    found = hiding.caught({("ann", "02_vae_sweep"): res})
    assert list(found) == [("ann", "02_vae_sweep")] and found[("ann", "02_vae_sweep")][0].startswith("1_1-grid")
