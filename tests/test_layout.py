"""The house: library, analysis and course apart, no import circle, no module too long (imports read with ast)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "labvae"
ENTRY_POINTS = {"labvae.cli", "labvae.__main__"}  # the command line serves all three audiences
MAX_LINES = 320  # "a few hundred lines at most": a module longer than this holds two things


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path = PACKAGE) -> set[str]:
    """Every labvae module path imports, at the top or inside a function, resolved to module names."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == root.name}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != root.name:
                continue
            if not name.startswith(target + "."):  # `from . import report` inside a package: not a circle
                found.add(target)
            found |= {f"{target}.{a.name}" for a in node.names}  # `from . import checks` names a module
    return found


def graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the labvae modules it imports (names that are not modules are dropped)."""
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    return {m: {t for t in imports_of(p, root) if t in files and t != m} for m, p in files.items()}


def cycle(g: dict[str, set[str]]) -> list[str] | None:
    """One import circle, as the list of modules around it, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(m):
        state[m] = 1
        path.append(m)
        for t in sorted(g[m]):
            if state.get(t) == 1:
                return path[path.index(t):] + [t]
            if t not in state and (found := visit(t)):
                return found
        state[m] = 2
        path.pop()
        return None

    for m in sorted(g):
        if m not in state and (found := visit(m)):
            return found
    return None


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or parts[-1] in ("analysis", "course") else "library"


def test_no_import_circle():
    assert cycle(graph()) is None, " -> ".join(cycle(graph()))


@pytest.mark.parametrize("audience,forbidden", [("library", {"analysis", "course"}), ("analysis", {"course"})])
def test_rooms_import_only_downwards(audience, forbidden):
    g = graph()
    wrong = [f"{m} imports {t}" for m, targets in g.items() if room(m) == audience and m not in ENTRY_POINTS
             for t in targets if room(t) in forbidden]
    assert not wrong, wrong


def test_no_module_over_a_few_hundred_lines():
    long = {module_name(p): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, long


def test_the_checker_finds_a_circle_and_a_wrong_import(tmp_path):
    """The tests above can fail: a package with a lazy circle and a library module importing course."""
    pkg = tmp_path / "labvae"
    (pkg / "course").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "course" / "__init__.py").write_text("")
    (pkg / "data.py").write_text("def f():\n    from .course import checks\n")
    (pkg / "course" / "checks.py").write_text("from ..data import f\n")
    g = graph(pkg)
    assert cycle(g) == ["labvae.course.checks", "labvae.data", "labvae.course.checks"]
    assert room("labvae.data") == "library" and "labvae.course.checks" in g["labvae.data"]


def test_every_package_is_installed():
    """pip install (Colab's setup cell) ships every package: pyproject's find-include covers each folder."""
    import tomllib
    from setuptools import find_packages

    config = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]
    shipped = set(find_packages(str(PACKAGE.parent), **config["packages"]["find"]))
    folders = {module_name(p.parent / "__init__.py") for p in PACKAGE.rglob("__init__.py")}
    assert folders <= shipped, sorted(folders - shipped)
