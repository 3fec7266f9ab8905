"""Every cell after exercise 2.1a runs with every answer style its check accepts: notebooks 03 and 04 to the end.

Each style replaces the answer cell of the student edition's 03 (as a student writes it), then the
whole notebook runs in smoke mode; the check must pass (so the later cells really use that answer)
and no cell may raise. 04 loads the lab's models itself; it runs to the end once with the AE given
in each style as a fourth model of its comparison.
"""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

LOOP = '''
def train_loop(model, params, forward):
    opt = torch.optim.Adam(params, lr=cfg.lr)
    x = x_train.reshape(len(x_train), 784)
    for _ in range(cfg.epochs):
        for i in range(0, len(x), cfg.batch_size):
            xb = x[i : i + cfg.batch_size]
            loss = torch.nn.functional.binary_cross_entropy(forward(xb), xb, reduction="sum") / len(xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model
'''

# Each: the source of the 2.1a answer cell, in one style the check accepts.
STYLES = {
    "labvae's model and fit": None,  # the solution as the notebook writes it
    "own module, encode and decode, no device": LOOP + '''
class MyAE(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.down, self.up = torch.nn.Linear(784, 2), torch.nn.Linear(2, 784)
    def encode(self, x):
        return self.down(x.view(len(x), -1))
    def decode(self, z):
        return torch.sigmoid(self.up(z))
    def forward(self, x):
        return self.decode(self.encode(x))

def train_ae(x_train, x_test):
    torch.manual_seed(0)
    model = MyAE()
    return train_loop(model, model.parameters(), model)
''',
    "own module with encoder and decoder attributes": LOOP + '''
class Halves(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Linear(784, 2)
        self.decoder = torch.nn.Sequential(torch.nn.Linear(2, 784), torch.nn.Sigmoid())
    def forward(self, x):
        return self.decoder(self.encoder(x))

def train_ae(x_train, x_test):
    torch.manual_seed(0)
    model = Halves()
    return train_loop(model, model.parameters(), model)
''',
    "an (encoder, decoder) pair": LOOP + '''
def train_ae(x_train, x_test):
    torch.manual_seed(0)
    enc = torch.nn.Linear(784, 2)
    dec = torch.nn.Sequential(torch.nn.Linear(2, 784), torch.nn.Sigmoid())
    params = [*enc.parameters(), *dec.parameters()]
    return train_loop((enc, dec), params, lambda x: dec(enc(x)))
''',
}


def _answer_cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _run(nb, tmp_path):
    """Execute nb in smoke mode (conftest's environment), in tmp_path; the executed notebook."""
    env_ok = os.environ.get("LABVAE_SMOKE") == "1"
    assert env_ok, "conftest sets smoke mode before any kernel starts"
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


def _printed(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


@pytest.mark.parametrize("style", STYLES)
def test_notebook_03_runs_to_the_end_with_each_accepted_style(style, tmp_path):
    nb = nbformat.read(NOTEBOOKS / "student" / "03_ae_sweep.ipynb", as_version=4)
    solution = nbformat.read(NOTEBOOKS / "03_ae_sweep.ipynb", as_version=4)
    cell = _answer_cell(nb, "2_1-ae")
    cell.source = STYLES[style] or _answer_cell(solution, "2_1-ae").source
    _answer_cell(nb, "2_1-ae-sweep").source = _answer_cell(solution, "2_1-ae-sweep").source
    out = _printed(_run(nb, tmp_path))  # raises CellExecutionError on the first cell that fails
    assert "✓ train_ae" in out, out  # the check passed: every later cell used this answer, not labvae's
    assert "lab AE (linear)  mean pixel value" in out  # the sliders' cell ran on it


def test_notebook_04_runs_to_the_end_with_each_style_beside_its_models(tmp_path):
    nb = nbformat.read(NOTEBOOKS / "student" / "04_comparison.ipynb", as_version=4)
    load = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "models = {" in c.source)
    styles = [s for s in STYLES.values() if s]
    extra = "\n".join(
        f"{s}\nmodels['style {i}'] = labvae.as_model(train_ae(x_train, x_test))" for i, s in enumerate(styles))
    nb.cells.insert(load + 1, nbformat.v4.new_code_cell(extra))
    out = _printed(_run(nb, tmp_path))
    for i in range(len(styles)):
        assert f"style {i}" in out, out  # every printed comparison covered it
