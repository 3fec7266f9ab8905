"""What the hand-out ships: the labvae modules the student notebooks import, followed through the package.

Read with ast, never by importing: the student edition's code cells name modules (`import labvae`,
`from labvae.course.checks import fallbacks`); each module found names more (`from .grid import ...`,
imports inside functions, and module paths written as strings, such as the guard's
"labvae.grid:latent_grid"). A package may defer a module until one of its names is used (a literal
`_LAZY = {"NAME": "module"}` read by its `__getattr__`): that module ships only when a notebook uses one
of those names (in a notebook, or imported by name in a shipped module). Everything else (the grader, the claims that outline the 2.2 model answer, the CLI) stays
with the instructors.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

PACKAGE = "labvae"
MODULE_STRING = re.compile(r"^(labvae(?:\.\w+)+)(?::[\w.]+)?$")


def _parse(text: str) -> ast.AST:
    """A code cell's syntax tree; IPython's magics and shell lines (%, !) are blanked first."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in text.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return ast.parse("")  # a student's broken cell names nothing; the lesson cells parse


def _names(tree: ast.AST, package: str = "") -> tuple[set[str], set[str]]:
    """(modules imported, resolved to absolute names; every name and attribute used) in a tree."""
    modules, used = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            modules.add(base)
            modules |= {f"{base}.{a.name}" for a in node.names}  # `from labvae import analysis`: a module
            used |= {a.name for a in node.names}
        elif isinstance(node, ast.Attribute):
            used.add(node.attr)
        elif isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and (m := MODULE_STRING.match(node.value)):
            modules.add(m.group(1))
    return {m for m in modules if m.split(".")[0] == PACKAGE}, used


def _lazy(tree: ast.AST) -> dict[str, str]:
    """A package's `_LAZY = {"NAME": "module"}`, the names it loads on first use."""
    for node in getattr(tree, "body", []):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "_LAZY" for t in node.targets):
            return {k: v for k, v in ast.literal_eval(node.value).items()}
    return {}


def _file(module: str, root: Path) -> Path | None:
    """The source file of a labvae module under root (the repository), or None when it is no module."""
    path = root.joinpath(*module.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def notebook_code(path: Path) -> str:
    """A notebook's code cells, joined."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


def shipped_modules(root: Path, codes) -> set[str]:
    """The package's .py files (paths relative to root) that code in codes imports, followed transitively."""
    modules, used = set(), set()
    for code in codes:
        found, names = _names(_parse(code))
        modules |= found
        used |= names
    todo, files = sorted(modules), {}
    while todo:
        module = todo.pop()
        parts = module.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__.py and a/b/__init__.py first
            name = ".".join(parts[:i])
            path = _file(name, root)
            if path is None or name in files:
                continue
            files[name] = path
            tree = ast.parse(path.read_text(encoding="utf-8"))
            package = name if path.name == "__init__.py" else name.rpartition(".")[0]
            found, _ = _names(tree, package)  # a library's own local names never load a deferred module
            for m in found:  # `from labvae.analysis import verdict_table` in a module: found names it
                used.add(m)
            todo += sorted(found - set(files))
            todo += [f"{name}.{m}" for n, m in _lazy(tree).items() if n in used or f"{name}.{n}" in used]
    # A deferred module whose name only a later-found module uses: one more pass settles it.
    for name, path in list(files.items()):
        if path.name == "__init__.py":
            extra = {f"{name}.{m}" for n, m in _lazy(ast.parse(path.read_text(encoding="utf-8"))).items() if n in used}
            if extra - set(files):
                return shipped_modules(root, [*codes, "\n".join(f"import {m}" for m in sorted(extra))])
    return {p.relative_to(root).as_posix() for p in files.values()}
