"""The hub database: import from here (``from hubctl.db import Database, audited_transaction``).

- ``connection``: which database (``resolve_*``), ``Database``, ``audited_transaction`` and the
  SQLAlchemy engines of Alembic and the pipelines;
- ``bounded``: every wait bounded (timeouts, the watch thread, lock-wait explanations);
- ``embedded``: the embedded PostgreSQL and its logins;
- ``urls``: what a database URL says.

Nothing here imports hubctl above settings.
"""

from hubctl.db.bounded import BoundedConnection, Limits
from hubctl.db.connection import (
    Connection,
    Database,
    audited_transaction,
    create_engine,
    resolve_database_url,
    resolve_migration_url,
)
from hubctl.db.embedded import (
    EMBEDDED_RUNTIME_ROLE,
    embedded_server_url,
    grant_runtime_role,
    stop_embedded_server,
)
from hubctl.db.logins import NewLogin, add_hub_login, require_passwords
from hubctl.db.urls import connection_arguments, libpq_url

__all__ = [
    "EMBEDDED_RUNTIME_ROLE",
    "BoundedConnection",
    "Connection",
    "Database",
    "Limits",
    "NewLogin",
    "add_hub_login",
    "audited_transaction",
    "connection_arguments",
    "create_engine",
    "embedded_server_url",
    "grant_runtime_role",
    "libpq_url",
    "require_passwords",
    "resolve_database_url",
    "resolve_migration_url",
    "stop_embedded_server",
]
