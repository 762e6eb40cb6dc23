"""Alembic, driven from Python: `hubctl db ...` and the test fixtures use these."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from hubctl.paths import MIGRATIONS_DIR
from hubctl.settings import Settings


def alembic_config(engine: Engine | None = None, *, stdout: io.StringIO | None = None) -> Config:
    """Alembic's settings built here, not read from alembic.ini: an installed wheel has none."""
    config = Config(stdout=stdout or io.StringIO())
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        config.attributes["url"] = engine.url.render_as_string(hide_password=False)
    return config


def upgrade(engine: Engine, revision: str = "head") -> list[str]:
    """Migrate up; returns the server's notices, e.g. a role the connecting role may not create."""
    with server_notices() as notices:
        command.upgrade(alembic_config(engine), revision)
    return notices


# SQLAlchemy's psycopg2 dialect logs each NOTICE of the server here, at INFO.
_NOTICE_LOGGER = "sqlalchemy.dialects.postgresql"


class _Collect(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.INFO)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record.getMessage().removeprefix("NOTICE:").strip())


@contextmanager
def server_notices() -> Iterator[list[str]]:
    """The NOTICEs PostgreSQL sends meanwhile (RAISE NOTICE in a migration), kept from the logs."""
    notices: list[str] = []
    logger = logging.getLogger(_NOTICE_LOGGER)
    handler, level, propagate = _Collect(notices), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield notices
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def upgrade_hub(settings: Settings, revision: str = "head") -> tuple[list[str], str | None]:
    """`hubctl db upgrade`: migrate as the schema's owner; (server notices, revision now).

    On the embedded server the owner is its superuser, and the runtime login (hub_app) is then
    given its rights in the migrated schema; approver and web logins must give a password there.
    """
    # deferred: psycopg2 and SQLAlchemy engines (~90 ms); `db heads` needs neither
    from hubctl.db import (
        create_engine,
        grant_runtime_role,
        require_passwords,
        resolve_migration_url,
    )

    url = resolve_migration_url(settings)
    engine = create_engine(url, settings=settings)
    notices = upgrade(engine, revision)
    if not (settings.database_url or settings.migration_database_url):
        grant_runtime_role(url)
        require_passwords(settings.resolved_home / "pgdata", url)
    return notices, current(engine)


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)


def current(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str:

    head_revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head_revision is not None
    return head_revision
