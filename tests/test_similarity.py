"""The copying report: copies (renamed, reformatted) of labvae's code and of another student's show; honest answers do not."""

import inspect
import textwrap
from pathlib import Path

import nbformat
import pytest

import labvae
from labvae.course.checks import exercises
from labvae.course.grade import similarity

ROOT = Path(__file__).resolve().parents[1]
STUDENT = ROOT / "notebooks" / "student" / "02_vae_sweep.ipynb"


def answer(signature: str, body: str) -> str:
    return f"{signature}\n{textwrap.indent(textwrap.dedent(body).strip(), '    ')}\n"


GRID = "def latent_grid(n=21, limit=4.0):"
SWEEP = "def sweep_image(decode, z, n):"
HONEST = {  # three students who each wrote their own, in styles students use
    "honest_loops": (answer(GRID, """
        codes = []
        for z2 in torch.linspace(limit, -limit, n):
            for z1 in torch.linspace(-limit, limit, n):
                codes.append(torch.stack([z1, z2]))
        return torch.stack(codes)"""), answer(SWEEP, """
        imgs = decode(z).detach()
        rows = [torch.cat([imgs[r * n + c, 0] for c in range(n)], dim=1) for r in range(n)]
        return torch.cat(rows, dim=0).unsqueeze(0)""")),
    "honest_product": (answer(GRID, """
        v = torch.linspace(-limit, limit, n)
        g = torch.cartesian_prod(v.flip(0), v)
        return g[:, [1, 0]]"""), answer(SWEEP, """
        x = decode(z).view(n, n, 28, 28)
        img = torch.zeros(n * 28, n * 28)
        for i in range(n):
            for j in range(n):
                img[i * 28:(i + 1) * 28, j * 28:(j + 1) * 28] = x[i, j]
        return img[None].detach()""")),
    "honest_repeat": (answer(GRID, """
        steps = torch.linspace(-limit, limit, n)
        z1 = steps.repeat(n)
        z2 = steps.flip(0).repeat_interleave(n)
        return torch.stack((z1, z2), 1)"""), answer(SWEEP, """
        from torchvision.utils import make_grid
        out = decode(z).detach().cpu()
        return make_grid(out, nrow=n, padding=0)[0:1]""")),
}
COPY_OF_LOOPS = (answer(GRID, """
    # my own way: one row of tiles at a time
    out = [ ]
    for b in torch.linspace(limit, -limit, n):   # top to bottom
        for a in torch.linspace(-limit, limit, n):
            out.append(torch.stack([a, b]))
    return torch.stack(out)"""), answer(SWEEP, """
    pics = decode(z).detach()
    lines = [torch.cat([pics[i * n + j, 0] for j in range(n)], dim=1)
             for i in range(n)]
    return torch.cat(lines, dim=0).unsqueeze(0)"""))


def library_copy() -> tuple[str, str]:
    """labvae's own latent_grid and the solutions' sweep_image, pasted with their names changed."""
    grid = inspect.getsource(labvae.grid.latent_grid).replace("z1", "aa").replace("z2", "bb").replace("rows", "r")
    grid = grid.replace("    _check_sweep(n, limit)\n", "").replace("def latent_grid(n: int = 21, limit: float = 4.0) -> torch.Tensor:", GRID)
    ref = (ROOT / "solutions" / "reference.py").read_text()
    sweep = ref[ref.index("def sweep_image"):ref.index("def sweep_model")].replace("tiles", "t").replace("TILE", "28")
    return grid, sweep


def notebook(grid: str | None, sweep: str | None):
    """The student edition with these answers (None: the stub left as released)."""
    nb = nbformat.read(STUDENT, as_version=4)
    for cell in nb.cells:
        key = cell.metadata.get("nbgrader", {}).get("grade_id")
        if key == "1_1-grid" and grid is not None:
            cell.source = grid
        elif key == "1_1-sweep" and sweep is not None:
            cell.source = sweep
    return nb


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    subs = tmp_path_factory.mktemp("subs")
    students = {**HONEST, "copier": COPY_OF_LOOPS, "from_labvae": library_copy()}
    students["fetcher"] = ("import inspect\nexec(inspect.getsource(labvae.grid.latent_grid))\n", None)
    students["patcher"] = (None, "checks.check_sweep = lambda fn: None\n")
    for name, (grid, sweep) in students.items():
        (subs / name).mkdir()
        nbformat.write(notebook(grid, sweep), subs / name / "02_vae_sweep.ipynb")
    (subs / "blank").mkdir()
    nbformat.write(nbformat.read(STUDENT, as_version=4), subs / "blank" / "02_vae_sweep.ipynb")
    subs_map = {p.name: {"02_vae_sweep": p / "02_vae_sweep.ipynb"} for p in subs.iterdir()}
    out = subs.parent / "grades.csv"
    similarity.write(subs_map, exercises.EXERCISES, out)
    return similarity.compare(subs_map, exercises.EXERCISES), out


def test_copies_of_another_student_are_listed(result):
    found, _ = result
    pairs = {(k, a, b) for k, a, b, _ in found["pairs"]}
    assert ("1_1-grid", "copier", "honest_loops") in pairs and ("1_1-sweep", "copier", "honest_loops") in pairs


def test_copies_of_labvaes_code_and_the_solutions_are_listed(result):
    found, _ = result
    own = {(k, s, where) for k, s, where, _ in found["own"]}
    assert ("1_1-grid", "from_labvae", "labvae: labvae.latent_grid") in own, found["own"]
    solutions = {w for k, s, w in own if (k, s) == ("1_1-sweep", "from_labvae")}
    assert solutions & {"solutions/reference.py: sweep_image", "the model answer in notebooks/02_vae_sweep.ipynb"}, own


def test_honest_independent_answers_are_not_listed(result):
    found, _ = result
    listed = {s for _, s, _, _ in found["own"]} | {x for _, a, b, _ in found["pairs"] for x in (a, b)}
    assert not listed & set(HONEST) - {"honest_loops"}, found  # honest_loops only as the one copied
    assert all("copier" in (a, b) for _, a, b, _ in found["pairs"] if "honest_loops" in (a, b))
    assert "blank" not in listed  # the stubs everyone hands back alike are not answers
    assert not {s for s, _ in found["hiding"]} & (set(HONEST) | {"copier", "blank"})  # their cells hide nothing


def test_code_that_fetches_or_patches_code_is_shown(result):
    found, out = result
    assert any("fetches source code" in line for line in found["hiding"][("fetcher", "02_vae_sweep")])
    assert any("changes checks, a module" in line for line in found["hiding"][("patcher", "02_vae_sweep")])
    md, table = similarity.paths_for(out)
    text = md.read_text()
    assert "copier" in text and "fetcher" in text and "inspect.getsource" in text
    assert "copier" in table.read_text()


def test_tokens_ignore_names_comments_and_layout():
    a = "def f(x):\n    y = x + 1  # add\n    return y * 2\n"
    b = "def g(a):\n    '''doc'''\n    total = (a\n             + 1)\n    return total*2\n"
    assert similarity.tokens(a) == similarity.tokens(b)
    assert similarity.tokens("def f(x):\n    return x - 1\n") != similarity.tokens(a)
    assert similarity.tokens("def f(:") == []  # a syntax error is no answer, not a crash
