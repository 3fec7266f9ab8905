"""Finding the submissions: which notebook files are whose, from names and folders (see `grade --help`)."""

from __future__ import annotations

from pathlib import Path


class GradeError(ValueError):
    """Bad input to the grader: one sentence saying what is wrong."""


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


def _notebooks_under(folder: Path, stems) -> list[tuple[Path, str, str]]:
    found = []
    for p in sorted(folder.rglob("*.ipynb")):
        if any(part.startswith(".") for part in p.relative_to(folder).parts):
            continue  # .ipynb_checkpoints and other hidden copies are not the submission
        if (m := lab_notebook(p.name, stems)) is not None:
            found.append((p, *m))
    return found


def collect(paths, stems) -> dict[str, dict[str, Path]]:
    """Student id -> {notebook stem: file}, from notebook files and folders (see the grade --help)."""
    subs: dict[str, dict[str, Path]] = {}

    def add(student: str, stem: str | None = None, path: Path | None = None) -> None:
        have = subs.setdefault(student, {})
        if stem is None:
            return
        if stem in have and have[stem].resolve() != path.resolve():
            raise GradeError(f"{student} has two copies of {stem}.ipynb ({have[stem]} and {path}); keep one and run again.")
        have[stem] = path

    def folder(d: Path, top: bool) -> None:
        found = _notebooks_under(d, stems)
        if not found:
            if top:
                raise GradeError(f"{d} holds no lab notebook; expected files named like {stems[0]}.ipynb "
                                 f"(or alice_{stems[0]}.ipynb).")
            add(d.name)  # a student who submitted nothing recognisable still gets rows
            return
        keys = [(prefix, stem) for _, stem, prefix in found]
        if len(set(keys)) == len(keys):  # each lab notebook at most once: one student's submission
            for path, stem, prefix in found:
                add(prefix or d.resolve().name, stem, path)
            return
        for child in sorted(d.iterdir()):  # a folder of submissions: one per subfolder or name prefix
            if child.name.startswith("."):
                continue
            if child.is_dir():
                folder(child, top=False)
            elif (m := lab_notebook(child.name, stems)) is not None:
                add(m[1] or d.resolve().name, m[0], child)

    for given in paths:
        p = Path(given)
        if not p.exists():
            raise GradeError(f"{given} does not exist; give students' notebooks, or folders holding them.")
        if p.is_dir():
            folder(p, top=True)
        elif (m := lab_notebook(p.name, stems)) is not None:
            add(m[1] or p.resolve().parent.name, m[0], p)
        else:
            raise GradeError(f"{given} is not a lab notebook; its name must end in one of "
                             f"{', '.join(s + '.ipynb' for s in stems)}.")
    return subs
