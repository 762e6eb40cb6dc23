"""Family packages see one module of hubctl: hubctl.families, cheap to import at registration."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import hubctl.families

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _hubctl_imports(source: Path) -> list[str]:
    """Every module of hubctl that ``source`` imports, as 'file:line module'."""
    found = []
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "hubctl":
            modules = [f"hubctl.{alias.name}" for alias in node.names]  # from hubctl import x
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        hubctl = [module for module in modules if module.split(".")[0] == "hubctl"]
        found += [f"{source.name}:{node.lineno} {module}" for module in hubctl]
    return found


def test_the_examples_import_nothing_of_hubctl_but_hubctl_families() -> None:
    sources = sorted(EXAMPLES.rglob("*.py"))
    imports = [found for source in sources for found in _hubctl_imports(source)]
    assert imports, "the examples import hubctl.families"
    assert [found for found in imports if found.split()[1] != "hubctl.families"] == []


def test_every_public_name_resolves() -> None:
    missing = [name for name in hubctl.families.__all__ if not hasattr(hubctl.families, name)]
    assert missing == []


def test_registering_a_family_imports_neither_airflow_nor_the_specs() -> None:
    """hubctl reads the entry points on each write of params: a family's import must stay cheap."""
    script = (
        "import sys, hubctl.families; "
        "print(' '.join(m for m in ('airflow', 'sqlalchemy', 'hubctl.specs') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []
