"""Finding the submissions: whose notebook is which, from the folder layout (see `grade --help`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .text import shown

LATE = "late (by the LMS's own due date)"  # `submitted` for an LMS's late flag without a time (Canvas): lms.collect


class GradeError(ValueError):
    """Bad input to the grader: one sentence saying what is wrong."""


@dataclass(frozen=True)
class Refused:
    """A notebook (or a whole student) the grader will not run, and why: its rows say so."""

    reason: str

    def __post_init__(self):  # it may name a file whose name is not UTF-8: every writer gets its shown form
        object.__setattr__(self, "reason", shown(self.reason))


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


def near_miss(name: str, stems) -> str | None:
    """The stem a notebook's name holds when it is not exactly STEM.ipynb ('Copy of 02_vae_sweep.ipynb',
    '02_vae_sweep (1).ipynb', 'alice_02_vae_sweep.ipynb'); None for an exact or unrelated name."""
    if not name.endswith(".ipynb") or name.startswith("."):
        return None
    base = name[: -len(".ipynb")]
    return next((stem for stem in stems if stem in base and base != stem), None)


def misnamed_note(name: str, stem: str) -> str:
    """The one sentence both routes give a renamed notebook (nbgrader grades only the exact name)."""
    return (f"handed in as {name!r}, not {stem}.ipynb: neither labvae grade nor nbgrader grades a renamed "
            f"notebook, so it scores 0; rename it to {stem}.ipynb and grade again")


def misnamed(submitted: Path, assignment: str, stems=None) -> list[str]:
    """One line per renamed lab notebook in nbgrader's submitted/STUDENT/ASSIGNMENT/ whose exact name is missing."""
    from ..checks.exercises import EXERCISES

    stems = stems or list(dict.fromkeys(ex.notebook for ex in EXERCISES))
    lines = []
    for folder in sorted(Path(submitted).glob(f"*/{assignment}")):
        names = {p.name for p in folder.iterdir() if p.is_file()}
        for name in sorted(names):
            stem = near_miss(name, stems)
            if stem and f"{stem}.ipynb" not in names:
                lines.append(f"{folder.parent.name}: {misnamed_note(name, stem)}")
    return lines


def _notebooks_under(folder: Path, stems) -> list[tuple[Path, str]]:
    """(path, stem) of each lab notebook under folder; links are listed, never followed, hidden parts skipped."""
    found = []
    for top, dirs, files in os.walk(folder):  # os.walk does not descend into linked folders
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # .ipynb_checkpoints: not the submission
        for name in sorted(files):
            if not name.startswith(".") and (m := lab_notebook(name, stems)) is not None:
                found.append((Path(top) / name, m[0]))
    return found


def distinct(name: str) -> str:
    """A student id no other can pass for: one with non-ASCII characters, odd spaces or brackets gets a tag.

    `аlice` (Cyrillic а) becomes `аlice [U+0430]`, `alice ` becomes `alice  [U+0020]`, and the two ways of
    writing `Zoë` differ as `Zoë [U+00EB]` and `Zoë [U+0308]`; an ASCII name without them stays as it is."""
    odd = [c for c in name if not c.isascii() or c.isspace() or c in "[]"]
    if not odd or (name == name.strip() and "  " not in name and all(c == " " for c in odd)):
        return name  # `bob x`: one plain space between words looks like what it is
    return f"{name} [{' '.join(f'U+{ord(c):04X}' for c in odd)}]"


def what_is_in(folder: Path, most: int = 5) -> str:
    """A few of the files under folder (hidden ones skipped), for a message saying what was handed in."""
    names, count = [], 0
    for top, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            count += 1
            if len(names) < most:
                names.append(str((Path(top) / name).relative_to(folder)))
    if not count:
        return "it is empty"
    return "it holds " + ", ".join(names) + (f" and {count - most} more files" if count > most else "")


def _nothing_found(folder: Path, stems) -> Refused:
    return Refused(f"no lab notebook was found in {folder.name or folder}/ ({what_is_in(folder)}); lab notebooks "
                   f"are named like {stems[0]}.ipynb: rename the student's file and grade again")


def _link_refusal(path: Path) -> Refused:
    return Refused(f"{path.name} is a symbolic link, which the grader does not follow; "
                   "submit the notebook file itself.")


def collect(paths, stems, say=lambda line: None) -> dict[str, dict[str, Path | Refused]]:
    """Student id -> {notebook stem: file, or Refused(why)}, from notebook files and folders (see grade --help);
    say: told in one line whenever a folder could be one student or a class, which it was taken for."""
    subs: dict[str, dict[str, Path | Refused]] = {}

    def add(student: str, stem: str | None = None, path: Path | None = None, refused: Refused | None = None) -> None:
        student = distinct(shown(student))  # a name that is not UTF-8, or holds a zero-width space: as grades.csv shows it
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
        exact = [(path, stem) for path, stem in found if path.name == f"{stem}.ipynb"]
        renamed = {}  # stem -> a renamed copy ('Copy of 02_vae_sweep.ipynb'): refused with a note, as nbgrader does
        for _top, dirs, files in os.walk(d):
            dirs[:] = sorted(x for x in dirs if not x.startswith("."))
            for name in sorted(files):
                if (stem := near_miss(name, stems)) is not None:
                    renamed.setdefault(stem, name)
        if not found and not renamed:  # a zip, an unrelated notebook: the student's rows say what was there
            refuse_all(student, _nothing_found(d, stems).reason)
        for path, stem in exact:  # the folder names the student; a file-name prefix never does
            add(student, stem, path)
        for stem, name in renamed.items():
            if stem not in {s for _, s in exact}:
                add(student, stem, refused=Refused(misnamed_note(name, stem)))

    def link_or_hidden(child: Path, m) -> bool:
        """Refuse a linked or hidden entry of a folder of submissions for its student; True when refused."""
        if child.is_symlink():
            if child.is_dir() or m is not None:
                refuse_all(m[1] if m and m[1] else child.name,
                           f"{child.name} is a symbolic link, which the grader does not follow; "
                           "put the student's files themselves there.")
            return True
        if child.name.startswith("."):
            if (child.is_dir() and _notebooks_under(child, stems)) or m is not None:
                refuse_all(child.name if child.is_dir() else m[1] or child.name,
                           f"{child.name} is hidden (its name starts with a dot), so it was not graded; "
                           "rename it and grade again.")
            return True
        return False

    def folder(d: Path) -> None:
        found = _notebooks_under(d, stems)
        found_stems = [stem for _, stem in found]
        at_top = any(p.parent == d for p, _ in found)
        holding = sorted({p.relative_to(d).parts[0] for p, _ in found if p.parent != d})
        others = sorted(c.name for c in d.iterdir() if c.is_dir() and not c.is_symlink()
                        and not c.name.startswith(".") and c.name not in holding)
        name = shown(d.resolve().name)
        if len(set(found_stems)) == len(found_stems) and (at_top or not others):  # one student's folder
            if holding and not at_top:  # alice/lab8/*.ipynb, or a class of one: say which was taken
                say(f"took {shown(d)} as one student's folder ({name}): its lab notebooks are all under "
                    f"{shown(holding[0])}/; if {shown(holding[0])} is a student, grade {shown(d)}/* instead.")
            student_folder(d.resolve().name, d)
            return
        if len(set(found_stems)) == len(found_stems):  # a class where only some students' notebooks are found
            say(f"took {shown(d)} as a folder of submissions, one student per subfolder: besides "
                f"{', '.join(map(shown, holding))} it holds {', '.join(map(shown, others[:3]))}"
                f"{' ...' if len(others) > 3 else ''}; if it is one student's, grade their notebook files.")
        for child in sorted(d.iterdir()):  # a folder of submissions: one per subfolder or name prefix
            m = lab_notebook(child.name, stems)
            if link_or_hidden(child, m):
                continue
            if child.is_dir():
                student_folder(child.name, child)
            elif m is not None:
                add(m[1] or d.resolve().name, m[0], child)

    # `grade submitted/*` names several folders: each is one student, whatever its files are called, as
    # each subfolder is under `grade submitted/`; a single folder may be a whole class (see grade --help).
    several = sum(Path(g).is_dir() for g in paths) > 1
    for given in paths:
        p = Path(given)
        if not p.exists() and not p.is_symlink():
            raise GradeError(f"{given} does not exist; give students' notebooks, or folders holding them.")
        if p.is_dir() and several:
            child = Path(os.path.abspath(p))
            if not link_or_hidden(child, None):
                student_folder(child.name, child)
        elif p.is_dir():
            folder(p)  # a folder named alone is the instructor's choice, link or not
        elif (m := lab_notebook(p.name, stems)) is not None:
            add(m[1] or p.absolute().parent.name, m[0], p)
        elif len(paths) > 1:
            continue  # submitted/* also names stray files (a README, a zip) no student can be given: as in submitted/
        else:
            raise GradeError(f"{given} is not a lab notebook; its name must end in one of "
                             f"{', '.join(s + '.ipynb' for s in stems)}.")
    if not any(isinstance(v, Path) for have in subs.values() for v in have.values()):
        what = (f"{paths[0]} holds no lab notebook ({what_is_in(Path(paths[0]))[:200]})" if len(paths) == 1
                else f"none of the {len(paths)} submissions given holds a lab notebook")
        raise GradeError(f"{what}; expected files named like {stems[0]}.ipynb (or alice_{stems[0]}.ipynb).")
    return subs
