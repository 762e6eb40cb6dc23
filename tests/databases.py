"""The control plane's view of a test database that a test also reaches with SQLAlchemy."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from hubctl.db import Database


def database_of(engine: Engine) -> Database:
    return Database(engine.url.render_as_string(hide_password=False))
