"""What students install holds no answer module, and its checks still pass right answers and flag wrong ones."""

import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest
from answers import NOTEBOOKS

pytest.importorskip("setuptools", minversion="77")  # the build backend pyproject asks for (torch pulls it in)
ROOT = Path(__file__).resolve().parents[1]
ANSWER_FILES = ("reference.py", "solutions/")  # the lab's model answers live in solutions/, beside the package


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A copy of the checkout without build leftovers: a stale build/lib would be packed into the wheel too."""
    tree = tmp_path_factory.mktemp("tree") / "labvae"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__", "results*",
                                                              "notebooks", "docs", "test-artifacts", ".ruff_cache"))
    assert (tree / "solutions" / "reference.py").is_file()  # the answers are in the checkout, and must stay out
    return tree


@pytest.fixture(scope="module")
def wheel(tmp_path_factory, tree) -> Path:
    """The wheel pip builds from this checkout, as Colab's `pip install git+...` does."""
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(tree), "--no-deps", "--no-build-isolation",
                        "-q", "-w", str(out)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    return next(out.glob("labvae-*.whl"))


def test_the_wheel_and_the_sdist_hold_no_answer_module(wheel, tree, tmp_path):
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("labvae/course/checks") for n in names)  # the listing is real
    assert not [n for n in names if n.endswith(ANSWER_FILES) or n.startswith("solutions")], names
    r = subprocess.run([sys.executable, "-c", f"from setuptools import build_meta; build_meta.build_sdist({str(tmp_path)!r})"],
                       cwd=tree, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    members = tarfile.open(next(tmp_path.glob("labvae-*.tar.gz"))).getnames()
    assert any("/labvae/course/" in m for m in members)
    assert not [m for m in members if "/solutions/" in m or m.endswith("/reference.py")], members


def _answers() -> dict[str, str]:
    """Each code answer as its solution notebook writes it: {symbol: source}."""
    import nbformat

    out = {}
    for stem in ("01_training", "02_vae_sweep", "03_ae_sweep"):
        for cell in nbformat.read(NOTEBOOKS / f"{stem}.ipynb", as_version=4).cells:
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
                out[stem + ":" + cell.metadata["nbgrader"]["grade_id"]] = cell.source
    return out


# Run with only the installed wheel on the path: the solutions are out of reach, the checks judge.
INSTALLED = textwrap.dedent("""\
    import importlib.util, json, sys
    import torch
    import labvae
    from labvae.course import checks
    assert importlib.util.find_spec("solutions") is None and importlib.util.find_spec("labvae.course.reference") is None
    assert labvae.__file__.startswith(sys.path[0]), labvae.__file__  # the wheel's copy, not this checkout
    sources = json.loads(sys.stdin.read())
    space = {"torch": torch, "labvae": labvae, "cfg": labvae.lab_config(progress=False)}
    for key, source in sources.items():
        if not key.endswith("2_1-ae"):
            exec(source, space)
    wrong = {"reparameterize": lambda mu, lv: mu + torch.exp(lv) * torch.randn_like(mu),
             "kl_divergence": lambda mu, lv: (-0.5 * (1 + lv - mu**2 - lv.exp())).sum(),
             "vae_loss": lambda xh, x, mu, lv: space["kl_divergence"](mu, lv),
             "latent_grid": lambda n=21, limit=4.0: space["latent_grid"](n, limit).flip(0),
             "sweep_image": lambda d, z, n: space["sweep_image"](d, z, n).flip(-1),
             "sweep_model": lambda m, n=21, limit=4.0: space["sweep_model"](m, n, limit).transpose(-1, -2)}
    out = {}
    for name, check in [("reparameterize", checks.check_reparameterize), ("kl_divergence", checks.check_kl),
                        ("vae_loss", checks.check_loss), ("latent_grid", checks.check_latent_grid),
                        ("sweep_image", checks.check_sweep), ("sweep_model", checks.check_ae_sweep)]:
        out[name] = [check(space[name]).status, check(wrong[name]).status]
    print("RESULT" + json.dumps(out))
""")


def test_the_installed_package_checks_right_and_wrong_answers_without_the_solutions(wheel, tmp_path):
    import json

    target = tmp_path / "target"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    script = f"import sys; sys.path.insert(0, {str(target)!r})\n" + INSTALLED  # -I below: no cwd, no PYTHONPATH
    (tmp_path / "run.py").write_text(script)
    r = subprocess.run([sys.executable, "-I", str(tmp_path / "run.py")], input=json.dumps(_answers()), cwd=tmp_path,
                       capture_output=True, text=True, timeout=600, env={"LABVAE_SMOKE": "1", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads(r.stdout.split("RESULT", 1)[1])
    assert result == {name: ["pass", "wrong"] for name in result} and len(result) == 6, result
