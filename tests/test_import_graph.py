"""The hubctl package's modules import each other without a cycle.

Every import of a hubctl module counts, at the top of a module or inside a function (imports in
`if TYPE_CHECKING:` blocks run only under the type checker). Importing ``hubctl.a.b`` also runs
``hubctl/a/__init__.py``, so that counts as an import of package ``hubctl.a`` as well, unless the
importer sits inside ``hubctl.a`` (Python ran the package before it); a name taken from a
package's ``__init__`` (``from hubctl.cli import app``) always counts.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import hubctl

Graph = dict[str, set[str]]


def modules_under(package: Path) -> dict[str, Path]:
    """Every module of ``package`` (a directory), by dotted name."""
    found = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
    return name == "TYPE_CHECKING"


def _import_nodes(nodes: Iterable[ast.AST]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement in ``nodes`` and below, except in the body of ``if TYPE_CHECKING:``."""
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node):
            yield from _import_nodes(node.orelse)
        else:
            yield from _import_nodes(ast.iter_child_nodes(node))


def _absolute(modules: dict[str, Path], module: str, node: ast.ImportFrom) -> str:
    """The module a ``from ... import`` reads from (``from .x import y`` resolved)."""
    if not node.level:
        return node.module or ""
    package = module if modules[module].name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def _imported(
    modules: dict[str, Path], module: str, node: ast.Import | ast.ImportFrom
) -> Iterator[str]:
    """The package modules an import statement runs: those it names and the packages above
    them (but not the importer's own ancestors, unless it takes a name from one)."""
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        base = _absolute(modules, module, node)
        named = [f"{base}.{alias.name}" for alias in node.names]
        submodules = [name for name in named if name in modules]
        targets = submodules + ([base] if len(submodules) < len(named) else [])
    for target in targets:
        parts = target.split(".")
        for end in range(1, len(parts) + 1):
            name = ".".join(parts[:end])
            ancestor = module.startswith(f"{name}.")
            if name in modules and name != module and (name == target or not ancestor):
                yield name


def import_graph(package: Path) -> Graph:
    """Module -> the package's modules it imports."""
    modules = modules_under(package)
    graph: Graph = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        graph[module] = {
            target for node in _import_nodes([tree]) for target in _imported(modules, module, node)
        }
    return graph


def find_cycle(graph: Graph) -> list[str] | None:
    """One cycle as a path of module names (first == last), or None."""
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        path.append(module)
        for target in sorted(graph.get(module, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        path.pop()
        done.add(module)
        return None

    return next((cycle for module in sorted(graph) if (cycle := visit(module))), None)


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root / "pkg"


def test_imports_inside_functions_and_package_inits_count(tmp_path: Path) -> None:
    package = _package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/low.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.high\n",
            "pkg/high.py": "def f():\n    from pkg.sub.leaf import x\n",
            "pkg/sub/__init__.py": "from pkg.sub import leaf\napp = 1\n",
            "pkg/sub/leaf.py": "from pkg.sub.other import y\nfrom . import other\n",
            "pkg/sub/other.py": "from pkg import low\n",
        },
    )
    graph = import_graph(package)
    assert graph["pkg.low"] == set()  # only the type checker imports pkg.high
    assert graph["pkg.high"] == {"pkg.sub", "pkg.sub.leaf"}
    assert graph["pkg.sub.leaf"] == {"pkg.sub.other"}
    assert find_cycle(graph) is None
    # A submodule taking a name from its own package's __init__, which imports it: a cycle.
    (package / "sub" / "other.py").write_text("from pkg.sub import app\n")
    assert find_cycle(import_graph(package)) == [
        "pkg.sub",
        "pkg.sub.leaf",
        "pkg.sub.other",
        "pkg.sub",
    ]


def test_hubctl_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph(Path(hubctl.__file__).parent))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def _imports_in_functions(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from (n for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom))


def undeclared_deferred_imports(package: Path) -> list[str]:
    """Imports inside functions with no ``# deferred: <why>`` comment on them or on the comment
    lines just above their block of imports."""
    found = []
    for path in sorted(package.rglob("*.py")):
        lines = path.read_text().splitlines()
        for node in _imports_in_functions(ast.parse("\n".join(lines))):
            first = node.lineno - 1
            while first > 0 and lines[first - 1].lstrip().startswith(("from ", "import ")):
                first -= 1
            while first > 0 and lines[first - 1].lstrip().startswith("#"):
                first -= 1
            if not any("# deferred: " in line for line in lines[first : node.end_lineno]):
                found.append(f"{path.relative_to(package.parent)}:{node.lineno}")
    return found


def test_every_import_inside_a_function_says_why_it_is_deferred() -> None:
    """Only a module that costs > 10 ms to import, or comes from an optional extra, is imported
    inside a function, and the comment says which (docs/architecture.md)."""
    assert undeclared_deferred_imports(Path(hubctl.__file__).parent) == []


def test_an_import_inside_a_function_without_a_reason_is_found(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "mod.py").write_text(
        "def slow():\n    # deferred: pandas (~0.5 s)\n    import pandas\n\n"
        "def careless():\n    import json\n"
    )
    assert undeclared_deferred_imports(package) == ["pkg/mod.py:6"]
