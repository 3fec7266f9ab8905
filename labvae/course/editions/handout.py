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
from . import colab, shipped
from .student import BEGIN, dumps, lesson_notebooks, student_notebook

ROOT = Path(__file__).resolve().parents[3]  # the solutions' repository (an instructor's checkout)
ALLOW = ("labvae", "LICENSE")  # besides notebooks/ (the student edition), pyproject.toml and README.md, written here
# Never copied from the package: the answers (labvae/course/reference.py until it moves to solutions/),
# and build litter. `solutions/`, `tests/`, `docs/` and the solution notebooks are outside ALLOW.
DENY = ("course/reference.py", "course/reference/*", "*/__pycache__/*", "__pycache__/*", "*.pyc", "*.pt",
        "*.egg-info/*", ".ipynb_checkpoints/*")
# A solution region: the marker alone on its line (a .py twin's "# " or a notebook's JSON quote before it).
REGION = re.compile(rb'^[\s#"]*' + re.escape(BEGIN.encode()) + rb'(\\n)?"?,?\s*$', re.M)
SCRIPTS = re.compile(r"^\[project\.scripts\]\n(?:(?!\[).*\n)*", re.M)
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

- **Google Colab:** {colab} Run the setup cell first: it installs this repository's `labvae` library
  on the Colab machine. Each notebook runs on its own machine, so run the setup cell in every
  notebook you open.
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

Hand in through your course's page (the Moodle or Canvas assignment, unless your instructor says
otherwise) these notebooks, with exactly these file names (the grader finds them by name):

{files}

(`01_training.ipynb` and `05_beta.ipynb` hold practice exercises only: hand them in too if your course
asks, for feedback.) Save before you hand in. From Colab: **File > Download > Download .ipynb**, then check the downloaded
file's name: rename `Copy of 02_vae_sweep.ipynb` or `02_vae_sweep (1).ipynb` to `02_vae_sweep.ipynb`.
From JupyterLab: the files in `notebooks/`. Do not rename the notebooks' cells or edit the locked
cells (the grader restores them and runs the checks itself). Marks: {marks}.
"""


def _denied(relative: str) -> bool:
    return any(fnmatch.fnmatch(relative, pattern) for pattern in DENY)


def package_files(root: Path = ROOT, codes=None) -> dict[str, Path]:
    """{path in the hand-out: source file} for everything ALLOW names, DENY left out.

    codes: the student notebooks' code; then of the package only the modules it imports (shipped.py), and
    the data files of their packages (a widget's static/ folder too), ship."""
    keep = None if codes is None else shipped.shipped_modules(root, codes)
    folders = {Path(rel).parent.as_posix() for rel in keep or ()}
    files = {}
    for name in ALLOW:
        src = root / name
        if src.is_file():
            files[name] = src
        elif src.is_dir():
            for path in sorted(src.rglob("*")):
                inside, rel = path.relative_to(src).as_posix(), path.relative_to(root).as_posix()
                if not path.is_file() or path.is_symlink() or _denied(inside):
                    continue
                if keep is None or rel in keep or (path.suffix != ".py" and _home(path, root) in folders):
                    files[f"{name}/{inside}"] = path
    return files


def _home(path: Path, root: Path) -> str:
    """The package folder a data file belongs to: its nearest folder holding Python modules (static/x.js -> .)."""
    folder = path.parent
    while folder != root and not any(folder.glob("*.py")):
        folder = folder.parent
    return folder.relative_to(root).as_posix()


def readme(url: str, notebooks: list[str]) -> str:
    url = colab.canonical(url)
    if colab.on_github(url):
        table = "\n".join(f"| `{nb}` | {colab.badge(url, 'notebooks/' + nb)} |" for nb in notebooks)
        how = "click a notebook's badge above (or the badge in its first cell)."
    else:  # Colab opens GitHub repositories only: from another host, a notebook is uploaded
        table = "\n".join(f"| `{nb}` | download it from `notebooks/`, then upload it |" for nb in notebooks)
        how = ("download the notebook from this repository's `notebooks/` folder, open "
               "https://colab.research.google.com and choose *File > Upload notebook*.")
    files = "\n".join(f"- `{stem}.ipynb`" for stem in HANDED_IN)
    marks = ", ".join(f"{ex.key} {ex.points:g}" for ex in EXERCISES if ex.points)
    total = sum(ex.points for ex in EXERCISES)
    return README.format(table=table, url=url, colab=how, files=files, marks=f"{marks} (out of {total:g})")


def contents(url: str, root: Path = ROOT) -> dict[str, bytes]:
    """Every file of the hand-out repository for url, as {relative path: bytes}; refuses solution text."""
    url = colab.canonical(url)
    sources = lesson_notebooks(root / "notebooks")  # never the instructors' appendix: it answers 2.2
    if not sources:
        raise ValueError(f"{root / 'notebooks'} holds no lesson notebooks; run this in the solutions' repository.")
    editions = {src.name: student_notebook(src, url) for src in sources}
    out = {f"notebooks/{name}": dumps(nb).encode() for name, nb in editions.items()}
    codes = ["\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code") for nb in editions.values()]
    files = package_files(root, codes)
    for rel, src in files.items():
        out[rel] = src.read_bytes()
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    pyproject = colab.PYPROJECT_URL.sub(lambda m: f'{m.group(1)}"{url}"', pyproject)
    if "labvae/cli.py" not in files:  # the command line is the instructors': no `labvae` script to a missing module
        pyproject = SCRIPTS.sub("", pyproject)
    out["pyproject.toml"] = colab.with_handout(pyproject, url).encode()
    out["README.md"] = readme(url, [src.name for src in sources]).encode()
    leaking = [rel for rel, data in out.items() if REGION.search(data)]
    if leaking:
        raise ValueError(f"{', '.join(leaking)} would publish solution text ({BEGIN}); move it out of the package "
                         "(or into DENY in labvae/course/editions/handout.py): nothing was written.")
    return out


def check_target(out: Path, root: Path = ROOT, update: bool = False, url: str | None = None) -> None:
    """Refuse a hand-out folder that is not new or empty (or, with update, not this hand-out's git checkout),
    or lies inside the solutions' repository."""
    out = Path(out)
    if out.resolve().is_relative_to(Path(root).resolve()):
        raise ValueError(f"{out} lies inside the solutions' repository; build the hand-out outside it.")
    if update:
        if not (out / ".git").exists():
            raise ValueError(f"{out} is not a git checkout (no .git); clone the hand-out repository there first "
                             "(git clone URL DIR), or build a new one without --update.")
        recorded = colab.recorded_handout(out / "pyproject.toml")
        if url is not None and recorded not in (None, colab.canonical(url)):
            raise ValueError(f"{out} is the checkout of {recorded}, not of {colab.canonical(url)}; give the right "
                             "folder or --repository: nothing was written.")
        return
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} exists and is not an empty folder; give a new folder (the hand-out is built "
                         "afresh, so nothing old is published by mistake), or --update an existing checkout.")


OWNED = ("labvae/", "notebooks/")  # the hand-out's own folders: --update removes what no longer belongs there


def stale(out: Path, files: dict) -> list[Path]:
    """Files in an existing hand-out's own folders that the new hand-out no longer holds (e.g. a dropped module)."""
    out = Path(out)
    return sorted(p for folder in OWNED for p in (out / folder).rglob("*")
                  if (p.is_file() or p.is_symlink()) and p.relative_to(out).as_posix() not in files)


def build(out: Path, url: str, root: Path = ROOT, files: dict | None = None, update: bool = False) -> tuple[list, list]:
    """Write the hand-out repository for url into out; (files written, files removed).

    New: out must be new or empty. update: out is the hand-out's git checkout; its .git and any file outside
    labvae/ and notebooks/ (a CI file of the course's) are kept, and stale files in those two are removed.
    files: contents(url, root), when the caller has already made (and so checked) them."""
    out = Path(out)
    check_target(out, root, update, url)
    files = contents(url, root) if files is None else files  # all checks pass before the first file is written
    removed = stale(out, files) if update else []
    try:
        written = [atomic_write(out / rel, lambda f, d=data: f.write(d)) for rel, data in sorted(files.items())]
    except BaseException:
        if not update:
            shutil.rmtree(out, ignore_errors=True)
        raise
    for path in removed:
        path.unlink()
    return written, removed


def add_parser(sub) -> None:
    """The `handout` subcommand."""
    p = sub.add_parser(
        "handout", help="build the hand-out repository students open: student edition, library without solutions",
        description="Record URL as the hand-out repository (pyproject.toml's [tool.labvae] handout), regenerate "
                    "notebooks/student/ for it, and write into DIR what to publish there: the student edition as "
                    "notebooks/, the part of the labvae library the student notebooks import, pyproject.toml naming "
                    "URL and a README for students. URL may be on any git host: GitHub gets Colab badges, others "
                    "say how to upload a notebook to Colab. Run it in the solutions' repository's root; DIR must be "
                    "new or empty, or, with --update, the hand-out's git checkout (its .git is kept).")
    p.add_argument("out", type=Path, metavar="DIR", help="a new folder for the hand-out repository")
    p.add_argument("--repository", metavar="URL", default=None,
                   help="the hand-out repository, https://github.com/OWNER/NAME or https://HOST/GROUP/NAME (public); "
                        "default: the one pyproject.toml records")
    p.add_argument("--update", action="store_true",
                   help="DIR is the hand-out's git checkout: rewrite its files, keep .git and your own files")
    p.add_argument("--notebooks", type=Path, default=Path("notebooks"),
                   help="folder holding the solution notebooks (default: notebooks)")
    p.set_defaults(run=_main)


def _main(args) -> None:
    """Record args.repository as the hand-out repository and build (or --update) it in args.out."""
    from .student import write_student_edition

    root = args.notebooks.resolve().parent
    url = args.repository or colab.recorded_handout(root / "pyproject.toml")
    if url is None:
        raise ValueError("no hand-out repository is recorded yet; give --repository URL (its public address).")
    check_target(args.out, root, args.update, url)
    files = contents(url, root)  # a bad URL or solution text is refused before anything is written
    if (args.notebooks / "student").is_dir():  # the committed student edition is the hand-out's notebooks/
        write_student_edition(args.notebooks, args.notebooks / "student", repository=url)
    written, removed = build(args.out, url, root, files, args.update)
    for path in removed:
        print(f"removed {path} (no longer part of the hand-out)")
    print(f"wrote {len(written)} files into {args.out}: " + (
        f"cd {args.out} && git add -A && git commit -m 'Update the lab' && git push" if args.update else
        f"commit them to {colab.canonical(url)} (git init, add, commit, push)")
          + "; pyproject.toml here records the hand-out, so regenerating keeps it")
