"""Copying shown: each code answer against labvae's own code, the solutions and every other student's.

Answers are compared as normalised token streams of their syntax trees (ast): comments, docstrings,
formatting and the names a student chose drop out, so a renamed and reformatted copy scores 1.0.
Beside the pairs, every submitted cell is read (by hiding.py, as IPython runs it) for code that fetches, hides or patches code (exec,
inspect.getsource, __code__, bytes.fromhex, assignments into imported modules): what a student does to
pass a check without writing the answer. The grader reads the notebook files here, outside any
kernel, so nothing a submission runs changes this report.
"""

from __future__ import annotations

import ast
import builtins
import csv
import difflib
import inspect
import io
import re
import time
from pathlib import Path

from ..._io import atomic_write
from . import report
from .hiding import HIDING, caught, hiding  # noqa: F401 (the cells are read there)
from .hiding import read as _read
from .hiding import released as released_
from .hiding import source as _source

THRESHOLD = 0.9  # a renamed copy scores 1.0; the honest answers in tests/test_similarity.py score below 0.8
MIN_TOKENS = 12  # bodies shorter than this (a stub, one call) say nothing about who wrote them
# Pairs in bounded time: difflib is quadratic (6 answers of 19,500 characters took 5.3 CPU s a pair), so
# it scores answers up to EXACT_TOKENS tokens (the lab's are 30-300: a few ms a pair); longer ones are
# scored by their shingles, linear in length. All pairs of the class share PAIRS_SECONDS; the rest are
# counted and the report says so.
EXACT_TOKENS = 600
SHINGLE = 5
MAX_TOKENS = 20_000  # tokens of one answer compared: a defence only, as a token takes a character at least
PAIRS_SECONDS = 60.0
KEEP = set(dir(builtins)) | {"torch", "F", "nn", "np", "math", "labvae", "cfg", "self"}  # names that are not choices


def paths_for(out: Path) -> tuple[Path, Path]:
    """Where the report goes beside the CSV: grades-similarity.md and grades-similarity.csv."""
    return out.with_name(out.stem + "-similarity.md"), out.with_name(out.stem + "-similarity.csv")


def tokens(source: str) -> list[str]:
    """The normalised tokens of source: node kinds, attribute names, numbers; every chosen name the same token.

    A function contributes its body only (its def line is the exercise's, the same for everyone), and
    bare strings (docstrings) are dropped, as are comments and layout, which ast never sees."""
    out: list[str] = []

    def name(n: str) -> str:  # one token for every name a student chose: a name added or dropped shifts nothing
        return n if n in KEEP else "v"

    def visit(node) -> None:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return  # a docstring or a bare string
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for child in node.decorator_list + node.body:
                visit(child)
            return
        out.append(type(node).__name__)
        if isinstance(node, ast.Name):
            out.append(name(node.id))
        elif isinstance(node, ast.arg):
            out.append(name(node.arg))
        elif isinstance(node, ast.Attribute):
            out.append("." + node.attr)
        elif isinstance(node, ast.Constant):
            out.append(repr(node.value) if isinstance(node.value, (int, float, bool)) or node.value is None else "STR")
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.expr_context, ast.operator, ast.cmpop, ast.unaryop, ast.boolop)):
                visit(child)
            else:
                out.append(type(child).__name__)

    try:
        for node in ast.parse(source).body:
            visit(node)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    return out


def shingles(toks: list[str]) -> frozenset[int]:
    """The answer's fingerprint: hashes of its runs of SHINGLE tokens (a long answer's set, built once)."""
    return frozenset(hash(tuple(toks[i:i + SHINGLE])) for i in range(max(1, len(toks) - SHINGLE + 1)))


def score(a: list[str], b: list[str], threshold: float = 0.0, fa=None, fb=None) -> float:
    """How alike two token streams are: 1.0 the same, 0 nothing shared; bounded time whatever their length.

    Up to EXACT_TOKENS each: difflib's ratio (0 when its quick upper bound is under threshold); longer:
    the Jaccard index of their shingles (fa, fb when already made), linear in their length."""
    if not a or not b:
        return 0.0
    if len(a) <= EXACT_TOKENS and len(b) <= EXACT_TOKENS:
        m = difflib.SequenceMatcher(None, a, b, autojunk=False)
        return 0.0 if threshold and m.quick_ratio() < threshold else m.ratio()
    fa, fb = fa or shingles(a), fb or shingles(b)
    return len(fa & fb) / len(fa | fb)


def pairs(by_student: dict[str, list[str]], threshold: float, deadline: float) -> tuple[list, int]:
    """(a, b, score) of every pair of students at or above threshold, and how many pairs the deadline left unscored."""
    names = sorted(by_student)
    prints = {n: shingles(t) for n, t in by_student.items() if len(t) > EXACT_TOKENS}
    found, left = [], 0
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if time.monotonic() > deadline:
                left += 1
                continue
            if (s := score(by_student[a], by_student[b], threshold, prints.get(a), prints.get(b))) >= threshold:
                found.append((a, b, s))
    return found, left


def answer_source(cells: list[dict], ex) -> str | None:
    """The code of one exercise's answer: the cell with its nbgrader grade_id, else the one defining its symbol."""
    for cell in cells:
        meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        nbg = meta.get("nbgrader") if isinstance(meta.get("nbgrader"), dict) else {}
        if cell.get("cell_type") == "code" and nbg.get("grade_id") == ex.key:
            return _source(cell)
    pattern = re.compile(rf"^(def {re.escape(ex.symbol)}\b|{re.escape(ex.symbol)}\s*=)", re.M)
    found = [_source(c) for c in cells if c.get("cell_type") == "code" and pattern.search(_source(c))]
    return found[-1] if found else None


def own_code(exercises, root: Path | None = None) -> dict[str, dict[str, list[str]]]:
    """Per exercise key: {where: tokens} of labvae's own functions for it, the solutions' and the model answer's."""
    from ..checks.guard import SOLUTIONS, _function, _resolve, _shown

    root = root or Path(__file__).resolve().parents[3]
    refs: dict[str, dict[str, list[str]]] = {}
    reference = root / "solutions" / "reference.py"
    ref_tree = ast.parse(reference.read_text()) if reference.is_file() else None
    for ex in exercises:
        if ex.manual:
            continue
        mine = refs.setdefault(ex.key, {})
        for target in SOLUTIONS.get(ex.symbol, ()):
            try:
                mine[f"labvae: {_shown(target)}"] = tokens(inspect.getsource(_function(_resolve(target)[2])))
            except (OSError, TypeError):
                pass
        for node in ref_tree.body if ref_tree else []:
            if isinstance(node, ast.FunctionDef) and node.name == ex.symbol:
                mine[f"solutions/reference.py: {node.name}"] = tokens(ast.unparse(node))
        model = root / "notebooks" / f"{ex.notebook}.ipynb"
        cells = _read(model) if model.is_file() else "absent"
        if isinstance(cells, list) and (text := answer_source(cells, ex)):
            mine[f"the model answer in notebooks/{ex.notebook}.ipynb"] = tokens(text)
    return refs


def compare(subs, exercises, root: Path | None = None, threshold: float = THRESHOLD) -> dict:
    """{'own': [(key, student, where, score)], 'pairs': [(key, a, b, score)], 'hiding': {(student, stem): [...]}, 'skipped': [...]}."""
    root = root or Path(__file__).resolve().parents[3]
    refs, result = own_code(exercises, root), {"own": [], "pairs": [], "hiding": {}, "skipped": []}
    answers: dict[str, dict[str, list[str]]] = {}
    released: dict[str, set[tuple]] = {}
    for student in sorted(subs):
        for stem, path in sorted(subs[student].items()):
            if not isinstance(path, Path):
                continue
            cells = _read(path)
            if isinstance(cells, str):
                result["skipped"].append(f"{report.shown(student)} {stem}: {cells}")
                continue
            if stem not in released:
                released[stem] = released_(root, stem)
            if found := hiding(cells, released[stem]):
                result["hiding"][(student, stem)] = found
            for ex in exercises:
                if ex.notebook == stem and not ex.manual and (text := answer_source(cells, ex)):
                    toks = tokens(text)
                    if len(toks) > MAX_TOKENS:
                        result["skipped"].append(f"{report.shown(student)} {ex.key}: only its first {MAX_TOKENS} "
                                                 f"of {len(toks)} tokens compared")
                        toks = toks[:MAX_TOKENS]
                    if len(toks) >= MIN_TOKENS and "NotImplementedError" not in toks:
                        answers.setdefault(ex.key, {})[student] = toks
    deadline = time.monotonic() + PAIRS_SECONDS
    for key, by_student in answers.items():
        for student, toks in by_student.items():
            for where, ref in refs.get(key, {}).items():
                if (s := score(toks, ref, threshold)) >= threshold:
                    result["own"].append((key, student, where, s))
        found, left = pairs(by_student, threshold, deadline)
        result["pairs"] += [(key, a, b, s) for a, b, s in found]
        if left:
            result["skipped"].append(f"{key}: {left} pairs of students not compared (past the report's "
                                     f"{PAIRS_SECONDS:g} s for comparing); compare them by eye")
    for k in ("own", "pairs"):
        result[k].sort(key=lambda r: (-r[-1], r[:-1]))
    result["compared"] = {k: len(v) for k, v in answers.items()}
    return result


def _md(text: str) -> str:
    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", report.shown(text))


def to_markdown(result: dict, threshold: float = THRESHOLD) -> str:
    parts = [f"# Copying report\n\nCode answers compared as syntax trees (names, comments and layout ignored); "
             f"pairs at or above {threshold:.0%} alike are listed, closest first. Alike is not proof: read "
             "both answers. Answers compared: "
             + (", ".join(f"{k} {n}" for k, n in sorted(result["compared"].items())) or "none") + ".\n",
             "\n## Close to labvae's own code or the solutions\n"]
    parts += [f"- {_md(k)}: **{_md(s)}** and {_md(w)}: {v:.0%}\n" for k, s, w, v in result["own"]] or ["\n(none)\n"]
    parts.append("\n## Close to another student's answer\n")
    parts += [f"- {_md(k)}: **{_md(a)}** and **{_md(b)}**: {v:.0%}\n" for k, a, b, v in result["pairs"]] or ["\n(none)\n"]
    parts.append("\n## Code that fetches, hides or patches code\n\nCells that differ from the released notebook "
                 "and run code from text, take labvae's code, or change a module: how a check is passed without "
                 "the answer. Open the notebook and read these cells.\n")
    for (student, stem), lines in sorted(result["hiding"].items()):
        parts.append(f"\n### {_md(student)}, {_md(stem)}\n\n{report.fenced(chr(10).join(lines))}\n")
    if not result["hiding"]:
        parts.append("\n(none)\n")
    if result["skipped"]:
        parts.append("\n## Not read, or not compared\n\n" + "".join(f"- {_md(s)}\n" for s in result["skipped"]))
    return "".join(parts)


def to_csv(result: dict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["exercise", "student", "other", "similarity"])
    rows = [(k, s, w_, v) for k, s, w_, v in result["own"]] + [(k, a, b, v) for k, a, b, v in result["pairs"]]
    w.writerows([report._cell(report.shown(x)) for x in (k, a, b)] + [f"{v:.3f}"] for k, a, b, v in rows)
    return buf.getvalue()


def write(subs, exercises, out: Path, results=None) -> tuple[Path, Path]:
    """Compare every code answer and write the report beside out (the CSV of marks); the two paths.

    results: the grade run's, whose checks caught labvae's own code when they ran it (hiding.caught)."""
    result = compare(subs, exercises)
    for where, lines in caught(results).items():
        result["hiding"][where] = result["hiding"].get(where, []) + lines
    md, table = paths_for(out)
    atomic_write(md, lambda f: f.write(to_markdown(result).encode()))
    atomic_write(table, lambda f: f.write(to_csv(result).encode()))
    return md, table
