"""The copying report's reading of cells: each cell as IPython runs it, and its code that fetches, hides or patches code.

A cell is read as the kernel runs it: IPython's TransformerManager turns magics and shell lines into
Python first (`%time x` becomes a call that runs `x`), and the code a magic runs is read in turn. A cell
that cannot be read is listed, never skipped. Read from the notebook files, outside every kernel.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

MAX_FILE = 64 << 20  # as the runner: a lab notebook with its outputs is a few MB
MAX_BRACES = 200_000  # JSON objects and arrays in one notebook: real ones have a few thousand
MAX_CELL = 20_000  # characters of one cell that are read
DEPTH = 3  # magics inside magics read this deep
HIDING = {"exec": "runs code from text", "eval": "runs code from text", "compile": "builds code from text",
          "__code__": "takes a function's code", "FunctionType": "builds a function from code",
          "CodeType": "builds a code object", "LambdaType": "builds a function from code",
          "marshal": "loads code objects", "getsource": "fetches source code", "fromhex": "decodes hidden text",
          "b64decode": "decodes hidden text", "__import__": "imports by name", "import_module": "imports by name",
          "setattr": "patches an object", "modules": "reaches loaded modules", "builtins": "reaches Python's builtins",
          "vars": "reads an object's attributes as a dict", "__dict__": "reads an object's attributes as a dict",
          "setprofile": "switches the checks' watch", "settrace": "switches the checks' watch",
          "ctypes": "reaches the interpreter's internals", "load_state_dict": "loads saved weights",
          "read_checkpoint": "loads a saved model", "load_checkpoint": "loads a saved model",
          "load_or_train": "loads a saved model", "system": "runs a shell command", "getoutput": "runs a shell command"}
LOADERS = {"load": "loads a saved file (torch.load, pickle.load)", "loads": "loads pickled objects"}
RUNS_CODE = {"time", "timeit", "prun", "capture", "debug", "run", "writefile", "file", "script", "python",
             "python3", "bash", "sh", "system", "sx", "macro", "load"}  # magics whose argument or body runs (or is) code


def read(path: Path) -> list[dict] | str:
    """A submitted notebook's cells (plain JSON, bounded), or why it was not read."""
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_FILE:
            return "not a readable notebook file"
        raw = path.read_bytes()
        if raw.count(b"{") + raw.count(b"[") > MAX_BRACES:
            return "too many JSON values to read"
        cells = json.loads(raw).get("cells")
        return [c for c in cells if isinstance(c, dict)] if isinstance(cells, list) else "no cells"
    except (OSError, ValueError, RecursionError, AttributeError, MemoryError) as e:
        return f"not readable ({type(e).__name__})"


def source(cell: dict) -> str:
    """A cell's text, whatever its JSON holds, at most MAX_CELL characters."""
    s = cell.get("source", "")
    return (s if isinstance(s, str) else "".join(x for x in s if isinstance(x, str)) if isinstance(s, list) else "")[:MAX_CELL]


def python_of(text: str) -> str:
    """The Python IPython runs for a cell's text: magics and shell lines as calls (the text itself without IPython)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return text
    try:
        return TransformerManager().transform_cell(text)
    except Exception:  # IPython could not transform it: the kernel would not run it as Python either
        return text


def parse(text: str) -> ast.Module | str:
    """The syntax tree of a cell as IPython runs it, or why it cannot be read."""
    try:
        return ast.parse(python_of(text))
    except SyntaxError as e:
        return f"SyntaxError: {str(e.msg)[:80]} (line {e.lineno})"
    except (ValueError, RecursionError, MemoryError) as e:
        return type(e).__name__


def shape(text: str) -> str | None:
    """A cell's code with its strings left out (a hand-out's own URLs differ), for telling released cells; None: unreadable."""
    tree = parse(text)
    if isinstance(tree, str):
        return None
    for n in ast.walk(tree):
        if isinstance(n, ast.Constant) and isinstance(n.value, str):
            n.value = ""
    return ast.dump(tree)


def released(root: Path, stem: str) -> set[str]:
    """The shapes of every code cell of the solution notebook and the student edition, where present."""
    given = set()
    for path in (root / "notebooks" / f"{stem}.ipynb", root / "notebooks" / "student" / f"{stem}.ipynb"):
        cells = read(path) if path.is_file() else []
        given |= {shape(source(c)) for c in cells if c.get("cell_type") == "code"} if isinstance(cells, list) else set()
    return given - {None}


def _magic(n: ast.Call) -> tuple[str, str] | None:
    """(name, the code it runs) of get_ipython().run_line_magic / run_cell_magic, as IPython's transform writes them."""
    f = n.func
    if not (isinstance(f, ast.Attribute) and f.attr in ("run_line_magic", "run_cell_magic") and n.args):
        return None
    args = [a.value if isinstance(a, ast.Constant) and isinstance(a.value, str) else "" for a in n.args]
    return args[0], args[-1]


def _why(n, modules: set, in_class: bool) -> str | None:
    """Why one node fetches, hides or patches code, or None."""
    if isinstance(n, ast.Name) and n.id in HIDING:
        return HIDING[n.id]
    if isinstance(n, ast.Attribute):
        if n.attr in HIDING:
            return HIDING[n.attr]
        if n.attr in LOADERS or n.attr.startswith("co_") or n.attr == "replace" and _names(n.value) & {"__code__"}:
            return LOADERS.get(n.attr, "reads or replaces a code object")
        if isinstance(n.ctx, ast.Store):
            root = n
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in modules:
                return f"changes {root.id}, a module"
            if not (isinstance(root, ast.Name) and root.id == "self"):
                return "stores into an object"
    if isinstance(n, ast.Call):
        if isinstance(n.func, ast.Name) and n.func.id == "getattr" and len(n.args) > 1 and not (
                isinstance(n.args[1], ast.Constant)):
            return "fetches an attribute by a built name"
        if (magic := _magic(n)) is not None:
            return f"runs the IPython magic %{magic[0][:30]}"
    if in_class and isinstance(n, ast.Assign) and _names(n.value) & modules:
        return "keeps library code in a class"
    return None


def _names(node) -> set[str]:
    return {x.id for x in ast.walk(node) if isinstance(x, ast.Name)}


def _lines(text: str, modules: set, depth: int = 0) -> list[tuple[int, str, str]]:
    """(line, code, why) of what the cell's code does to fetch, hide or patch code."""
    tree = parse(text)
    lines = text.splitlines()
    if isinstance(tree, str):
        return [(0, "", f"could not be read as Python ({tree}): open it")]
    modules = modules | {a.asname or a.name.split(".")[0] for n in ast.walk(tree)
                         if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    in_class = {id(s) for c in ast.walk(tree) if isinstance(c, ast.ClassDef) for s in c.body}
    found = []
    for n in ast.walk(tree):
        why = _why(n, modules, id(n) in in_class)
        if why:
            found.append((getattr(n, "lineno", 0), why))
        magic = _magic(n) if isinstance(n, ast.Call) else None
        if magic and magic[0] in RUNS_CODE and depth < DEPTH:
            found += [(getattr(n, "lineno", 0), f"in %{magic[0][:30]}: {w}") for _, _, w in
                      _lines(magic[1], modules, depth + 1)]
    python = python_of(text).splitlines()
    return [(k, (python[k - 1] if 0 < k <= len(python) else lines[k - 1] if 0 < k <= len(lines) else "").strip(), why)
            for k, why in found]


def hiding(cells: list[dict], given: set) -> list[str]:
    """Lines of code that fetch, hide or patch code, and cells that cannot be read, as 'cell N: code (why)'.

    given: the shapes of the cells as released (the solutions and the student edition); a cell that
    matches one is the lab's, not the student's."""
    found = []
    base = {"labvae", "checks", "torch", "json", "builtins", "sys", "fallbacks", "cfg"}
    for number, cell in enumerate(cells, 1):
        text = source(cell)
        if cell.get("cell_type") != "code" or not text.strip() or shape(text) in given:
            continue
        for _, code, why in _lines(text, base):
            found.append(f"cell {number}: {code[:120]} ({why})" if code else f"cell {number}: {why}")
    return list(dict.fromkeys(found))


def caught(results) -> dict[tuple, list[str]]:
    """{(student, notebook): lines} of checks that caught labvae's own code, or a loaded model, when they ran it."""
    from ..checks.checking import DELEGATED, LOADED

    out: dict[tuple, list[str]] = {}
    for (student, stem), res in sorted((results or {}).items()):
        for key, (_, message) in sorted(getattr(res, "results", {}).items()):
            if DELEGATED in str(message) or LOADED in str(message):
                out.setdefault((student, stem), []).append(f"{key}, when the check ran it: {str(message)[:300]}")
    return out
