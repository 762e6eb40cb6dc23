"""Alembic, driven from Python: `hubctl db ...` and the test fixtures use these."""

from __future__ import annotations

import io
from pathlib import Path

from alembic.config import Config
from sqlalchemy.engine import Engine

from alembic import command

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def alembic_config(engine: Engine | None = None, *, stdout: io.StringIO | None = None) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"), stdout=stdout or io.StringIO())
    config.attributes["configure_logger"] = False
    if engine is not None:
        config.attributes["url"] = engine.url.render_as_string(hide_password=False)
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)


def current(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str:
    from alembic.script import ScriptDirectory

    head_revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head_revision is not None
    return head_revision
