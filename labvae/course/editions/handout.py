"""The hand-out repository: what a course publishes for students, built in one command.

It holds the student edition as its notebooks, the library without any solution, a pyproject.toml
naming the hand-out repository, and a README for students. Files are chosen by an explicit rule
(ALLOW at the top, DENY inside the package) and every file is scanned for solution text before any
is written, so an answer module that appears in the package later is refused, not published.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
from pathlib import Path

from ..._io import atomic_write
from ..checks.exercises import EXERCISES
from . import colab
from .student import BEGIN, dumps, lesson_notebooks, student_notebook

ROOT = Path(__file__).resolve().parents[3]  # the solutions' repository (an instructor's checkout)
ALLOW = ("labvae", "LICENSE")  # besides notebooks/ (the student edition), pyproject.toml and README.md, written here
# Never copied from the package: the answers (labvae/course/reference.py until it moves to solutions/),
# and build litter. `solutions/`, `tests/`, `docs/` and the solution notebooks are outside ALLOW.
DENY = ("course/reference.py", "course/reference/*", "*/__pycache__/*", "__pycache__/*", "*.pyc", "*.pt",
        "*.egg-info/*", ".ipynb_checkpoints/*")
# A solution region: the marker alone on its line (a .py twin's "# " or a notebook's JSON quote before it).
REGION = re.compile(rb'^[\s#"]*' + re.escape(BEGIN.encode()) + rb'(\\n)?"?,?\s*$', re.M)
HANDED_IN = sorted({ex.notebook for ex in EXERCISES if ex.points})  # the notebooks with marked exercises

README = """\
# Lab 8: exploring latent spaces

Train a VAE and a plain autoencoder with 2-d codes on Fashion-MNIST, decode a sweep over each latent
space and compare the two. Work through the notebooks in order; each says at the top what you will
learn and how long it takes.

| notebook | open in Colab |
|---|---|
{table}

## Open and run

- **Google Colab:** click a notebook's badge above (or the badge in its first cell). Run the setup
  cell first: it installs this repository's `labvae` library on the Colab machine. Each notebook
  runs on its own machine, so run the setup cell in every notebook you open.
- **JupyterLab on your own computer** (Python 3.10 or newer):

  ```bash
  git clone {url}.git lab8 && cd lab8
  python -m venv .venv && source .venv/bin/activate     # Windows: .venv\\Scripts\\activate
  pip install -e . jupyterlab
  jupyter lab notebooks/
  ```

Run every cell from the top (Run > Run All Cells works). The exercises say where to write your code
(in place of `raise NotImplementedError()`) or your answer (in place of `YOUR ANSWER HERE`); the cell
after each exercise checks your code and says what is wrong, if anything.

## Hand in

Hand in these notebooks, with exactly these file names (the grader finds them by name):

{files}

(`01_training.ipynb` and `05_beta.ipynb` hold practice exercises only: hand them in too if your course
asks, for feedback.) Save before you hand in. From Colab: **File > Download > Download .ipynb**, then check the downloaded
file's name: rename `Copy of 02_vae_sweep.ipynb` or `02_vae_sweep (1).ipynb` to `02_vae_sweep.ipynb`.
From JupyterLab: the files in `notebooks/`. Do not rename the notebooks' cells or edit the locked
cells (the grader restores them and runs the checks itself). Marks: {marks}.
"""


def _denied(relative: str) -> bool:
    return any(fnmatch.fnmatch(relative, pattern) for pattern in DENY)


def package_files(root: Path = ROOT) -> dict[str, Path]:
    """{path in the hand-out: source file} for everything ALLOW names, DENY left out."""
    files = {}
    for name in ALLOW:
        src = root / name
        if src.is_file():
            files[name] = src
        elif src.is_dir():
            for path in sorted(src.rglob("*")):
                inside = path.relative_to(src).as_posix()
                if path.is_file() and not path.is_symlink() and not _denied(inside):
                    files[f"{name}/{inside}"] = path
    return files


def readme(url: str, notebooks: list[str]) -> str:
    path = colab.github_repository(url)
    badge = "https://colab.research.google.com/assets/colab-badge.svg"
    table = "\n".join(f"| `{nb}` | [![Open In Colab]({badge})](https://colab.research.google.com/github/{path}"
                      f"/blob/main/notebooks/{nb}) |" for nb in notebooks)
    files = "\n".join(f"- `{stem}.ipynb`" for stem in HANDED_IN)
    marks = ", ".join(f"{ex.key} {ex.points:g}" for ex in EXERCISES if ex.points)
    total = sum(ex.points for ex in EXERCISES)
    return README.format(table=table, url=colab.canonical(url), files=files, marks=f"{marks} (out of {total:g})")


def contents(url: str, root: Path = ROOT) -> dict[str, bytes]:
    """Every file of the hand-out repository for url, as {relative path: bytes}; refuses solution text."""
    url = colab.canonical(url)
    sources = lesson_notebooks(root / "notebooks")  # never the instructors' appendix: it answers 2.2
    if not sources:
        raise ValueError(f"{root / 'notebooks'} holds no lesson notebooks; run this in the solutions' repository.")
    out = {f"notebooks/{src.name}": dumps(student_notebook(src, url)).encode() for src in sources}
    for rel, src in package_files(root).items():
        out[rel] = src.read_bytes()
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    pyproject = colab.PYPROJECT_URL.sub(lambda m: f'{m.group(1)}"{url}"', pyproject)
    out["pyproject.toml"] = colab.with_handout(pyproject, url).encode()
    out["README.md"] = readme(url, [src.name for src in sources]).encode()
    leaking = [rel for rel, data in out.items() if REGION.search(data)]
    if leaking:
        raise ValueError(f"{', '.join(leaking)} would publish solution text ({BEGIN}); move it out of the package "
                         "(or into DENY in labvae/course/editions/handout.py): nothing was written.")
    return out


def check_target(out: Path, root: Path = ROOT) -> None:
    """Refuse a hand-out folder that is not new or empty, or lies inside the solutions' repository."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} exists and is not an empty folder; give a new folder (the hand-out is built "
                         "afresh, so nothing old is published by mistake).")
    if out.resolve().is_relative_to(Path(root).resolve()):
        raise ValueError(f"{out} lies inside the solutions' repository; build the hand-out outside it.")


def build(out: Path, url: str, root: Path = ROOT, files: dict | None = None) -> list[Path]:
    """Write the hand-out repository for url into out (a new or empty folder); returns the files written.

    files: contents(url, root), when the caller has already made (and so checked) them."""
    out = Path(out)
    check_target(out, root)
    files = contents(url, root) if files is None else files  # all checks pass before the first file is written
    try:
        return [atomic_write(out / rel, lambda f, d=data: f.write(d)) for rel, data in sorted(files.items())]
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
