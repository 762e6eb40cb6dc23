"""The hubctl package's modules import each other without a cycle.

Every import of a hubctl module counts, at the top of a module or inside a function (imports in
`if TYPE_CHECKING:` blocks run only under the type checker). Importing ``hubctl.a.b`` also runs
``hubctl/a/__init__.py``, so that counts as an import of package ``hubctl.a`` as well.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import hubctl

ROOT = Path(hubctl.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in ROOT.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            yield from (n for orelse in child.orelse for n in _import_nodes_of(orelse))
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        yield from _import_nodes(child)


def _import_nodes_of(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    yield from _import_nodes(node)


def _imported(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The hubctl modules an import statement runs: each one it names, and the packages above
    them, except the importer's own ancestors (Python ran those before the importer anyway; a
    name taken from one, ``from hubctl.cli import app``, does count)."""
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        base = _absolute(module, node)
        named = [f"{base}.{alias.name}" for alias in node.names]
        modules = [name for name in named if name in MODULES]
        targets = modules + ([base] if len(modules) < len(named) else [])
    for target in targets:
        parts = target.split(".")
        for end in range(1, len(parts) + 1):
            name = ".".join(parts[:end])
            ancestor = module.startswith(f"{name}.")
            if name in MODULES and name != module and (name == target or not ancestor):
                yield name


def _absolute(module: str, node: ast.ImportFrom) -> str:
    """The module a ``from ... import`` reads from (``from .x import y`` resolved)."""
    if not node.level:
        return node.module or ""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        graph[module] = {
            target for node in _import_nodes(tree) for target in _imported(module, node)
        }
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
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


def test_the_graph_sees_imports_inside_functions_and_packages() -> None:
    graph = import_graph()
    assert "hubctl.errors" in graph["hubctl.author"]
    assert "hubctl.services" in graph["hubctl.services.changes"]


def test_find_cycle_reports_the_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_hubctl_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
