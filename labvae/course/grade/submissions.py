"""Finding the submissions: whose notebook is which, from the folder layout (see `grade --help`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


class GradeError(ValueError):
    """Bad input to the grader: one sentence saying what is wrong."""


@dataclass(frozen=True)
class Refused:
    """A notebook (or a whole student) the grader will not run, and why: its rows say so."""

    reason: str


def lab_notebook(name: str, stems) -> tuple[str, str] | None:
    """(stem, student prefix) when a file is a lab notebook: 02_vae_sweep.ipynb or alice_02_vae_sweep.ipynb."""
    if not name.endswith(".ipynb"):
        return None
    base = name[: -len(".ipynb")]
    for stem in stems:
        if base == stem:
            return stem, ""
        if base.endswith(stem) and base[-len(stem) - 1] in "_-. ":
            return stem, base[: -len(stem) - 1]
    return None


def _notebooks_under(folder: Path, stems) -> list[tuple[Path, str]]:
    """(path, stem) of each lab notebook under folder; links are listed, never followed, hidden parts skipped."""
    found = []
    for top, dirs, files in os.walk(folder):  # os.walk does not descend into linked folders
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # .ipynb_checkpoints: not the submission
        for name in sorted(files):
            if not name.startswith(".") and (m := lab_notebook(name, stems)) is not None:
                found.append((Path(top) / name, m[0]))
    return found


def _link_refusal(path: Path) -> Refused:
    return Refused(f"{path.name} is a symbolic link, which the grader does not follow; "
                   "submit the notebook file itself.")


def collect(paths, stems) -> dict[str, dict[str, Path | Refused]]:
    """Student id -> {notebook stem: file, or Refused(why)}, from notebook files and folders (see grade --help)."""
    subs: dict[str, dict[str, Path | Refused]] = {}

    def add(student: str, stem: str | None = None, path: Path | None = None, refused: Refused | None = None) -> None:
        have = subs.setdefault(student, {})
        if stem is None:
            return
        new = refused or (_link_refusal(path) if path.is_symlink() else path)
        old = have.get(stem)
        if old is None or (isinstance(old, Path) and isinstance(new, Path) and old.resolve() == new.resolve()):
            have[stem] = new
        elif not (isinstance(old, Refused) and old.reason.startswith("two copies")):
            where = [str(p) for p in (old, path) if isinstance(p, Path)]
            have[stem] = Refused(f"two copies of {stem}.ipynb were found for this student"
                                 + (f" ({' and '.join(where)})" if len(where) == 2 else "")
                                 + ", so neither was graded; keep one and grade again.")

    def refuse_all(student: str, reason: str) -> None:
        for stem in stems:
            add(student, stem, refused=Refused(reason))

    def student_folder(student: str, d: Path) -> None:
        found = _notebooks_under(d, stems)
        add(student)  # a student who submitted nothing recognisable still gets rows
        for path, stem in found:  # the folder names the student; a file-name prefix never does
            add(student, stem, path)

    def folder(d: Path) -> None:
        found = _notebooks_under(d, stems)
        if not found:
            raise GradeError(f"{d} holds no lab notebook; expected files named like {stems[0]}.ipynb "
                             f"(or alice_{stems[0]}.ipynb).")
        found_stems = [stem for _, stem in found]
        if len(set(found_stems)) == len(found_stems):  # each lab notebook at most once: one student's folder
            student_folder(d.resolve().name, d)
            return
        for child in sorted(d.iterdir()):  # a folder of submissions: one per subfolder or name prefix
            m = lab_notebook(child.name, stems)
            if child.is_symlink():
                if child.is_dir() or m is not None:
                    refuse_all(m[1] if m and m[1] else child.name,
                               f"{child.name} is a symbolic link, which the grader does not follow; "
                               "put the student's files themselves there.")
            elif child.name.startswith("."):
                if (child.is_dir() and _notebooks_under(child, stems)) or m is not None:
                    refuse_all(child.name if child.is_dir() else m[1] or child.name,
                               f"{child.name} is hidden (its name starts with a dot), so it was not graded; "
                               "rename it and grade again.")
            elif child.is_dir():
                student_folder(child.name, child)
            elif m is not None:
                add(m[1] or d.resolve().name, m[0], child)

    for given in paths:
        p = Path(given)
        if not p.exists() and not p.is_symlink():
            raise GradeError(f"{given} does not exist; give students' notebooks, or folders holding them.")
        if p.is_dir():
            folder(p)  # a folder named on the command line is the instructor's choice, link or not
        elif (m := lab_notebook(p.name, stems)) is not None:
            add(m[1] or p.absolute().parent.name, m[0], p)
        else:
            raise GradeError(f"{given} is not a lab notebook; its name must end in one of "
                             f"{', '.join(s + '.ipynb' for s in stems)}.")
    return subs
