"""The top level the design card names, and the links that keep it without a second copy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from hubctl import migrations
from hubctl.paths import DAGS_FOLDER, MIGRATIONS_DIR

ROOT = Path(__file__).resolve().parent.parent
# The design card's "Layout" (its top level is fixed).
CARD_TOP_LEVEL = [
    "alembic",
    "alembic.ini",
    "dags",
    "docker-compose.yml",
    "docs",
    "hubctl",
    "pyproject.toml",
    "tests",
]


def test_the_top_level_has_what_the_design_card_names() -> None:
    assert [name for name in CARD_TOP_LEVEL if not (ROOT / name).exists()] == []


def test_the_top_level_alembic_and_dags_are_links_to_what_the_package_ships() -> None:
    assert (ROOT / "alembic").is_symlink() and (ROOT / "alembic").resolve() == MIGRATIONS_DIR
    assert (ROOT / "dags" / "hub_dags.py").resolve() == DAGS_FOLDER / "hub_dags.py"


def test_alembic_ini_reaches_the_packaged_migrations_through_the_top_level_link() -> None:
    script = ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini")))
    assert Path(script.dir) == ROOT / "alembic"
    assert script.get_current_head() == migrations.head()


def test_ruff_lints_each_migration_once() -> None:
    """Linted under hubctl/alembic only: ruff does not follow the top-level link."""
    listed = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--show-files", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    migration_files = [Path(path) for path in listed if "alembic" in Path(path).parts]
    assert migration_files
    assert all(path.is_relative_to(MIGRATIONS_DIR) for path in migration_files)
