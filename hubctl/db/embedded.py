"""The embedded PostgreSQL, hubctl's database when no URL is configured, and its logins.

It runs under HUB_HOME, outlives the process that started it and is found again from its
postmaster.pid. Migrations run as its superuser, everything else as a runtime login that owns
nothing (docs/audit.md).
"""

from __future__ import annotations

import atexit
import os
import warnings
from pathlib import Path
from urllib.parse import urlencode

from psycopg2 import sql

from hubctl.db.bounded import Limits, open_connection
from hubctl.errors import DatabaseUnavailableError

EMBEDDED_DATABASE = "hub"
# The embedded server's superuser: it runs the migrations and owns the schema.
EMBEDDED_SUPERUSER = "postgres"
# The embedded server's runtime login: hub_operator's rights (and writing market data), owner of
# nothing, so it cannot disable the audit triggers (docs/audit.md). Password-less: the server
# listens on its Unix socket only.
EMBEDDED_RUNTIME_ROLE = "hub_app"


def embedded_server_url(
    home: Path, database: str = EMBEDDED_DATABASE, user: str = EMBEDDED_SUPERUSER
) -> str:
    """Start (or reuse) the embedded PostgreSQL under ``home`` and return a URL for ``database``.

    The server is left running when this process exits (cleanup_mode=None) so the next hubctl call,
    the generator and Airflow all reuse it; ``hubctl db stop`` stops it. While it runs, the URL is
    read from its postmaster.pid without importing pgserver (the fast path of every command).
    The first call also creates the runtime login (EMBEDDED_RUNTIME_ROLE); `hubctl db upgrade`
    grants it its roles.
    """
    pgdata = home.expanduser().resolve() / "pgdata"
    running = _running_server_url(pgdata, database, user)
    marker = pgdata / f"hubctl-ready-{database}"
    if running is not None and marker.exists():
        return running
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
        warnings.simplefilter("ignore")
        # deferred: pgserver costs ~30 ms and only the embedded server needs it; a running one is
        # found from its postmaster.pid alone (above)
        import pgserver

        home.mkdir(parents=True, exist_ok=True)
        if running is None:
            _forget_server(pgdata)  # a handle on a server that crashed would be handed back as is
        server = pgserver.get_server(pgdata, cleanup_mode=None)
    if not _database_exists(server.get_uri(), database):
        server.psql(f'CREATE DATABASE "{database}";')
    server.psql(_CREATE_RUNTIME_ROLE)
    marker.touch()
    url = _running_server_url(pgdata, database, user)
    if url is None:
        raise DatabaseUnavailableError(f"the embedded PostgreSQL under {home} did not start")
    return url


_CREATE_RUNTIME_ROLE = f"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{EMBEDDED_RUNTIME_ROLE}') THEN
    CREATE ROLE {EMBEDDED_RUNTIME_ROLE} LOGIN;
  END IF;
END
$$;
"""
# Once the schema exists: the runtime login gets hub_operator and may write market data (the
# pipelines run as it). Run after every migration, so tables added later are covered.
_GRANT_RUNTIME_ROLE = """
DO $$
BEGIN
  IF to_regnamespace('market') IS NOT NULL AND to_regrole('hub_operator') IS NOT NULL THEN
    GRANT hub_operator TO {role};
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA market TO {role};
    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA market TO {role};
  END IF;
END
$$;
"""


def grant_runtime_role(owner_url: str, role: str = EMBEDDED_RUNTIME_ROLE) -> None:
    """Give the runtime login ``role`` its rights in the migrated database (see above)."""
    conn = open_connection(owner_url, Limits())
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(sql.SQL(_GRANT_RUNTIME_ROLE).format(role=sql.Identifier(role)))
    finally:
        conn.close()


def stop_embedded_server(home: Path) -> bool:
    """Stop the embedded server under ``home`` if it runs (fast shutdown); True if it was running."""
    pgdata = home.expanduser().resolve() / "pgdata"
    if _running_server_url(pgdata, "postgres", EMBEDDED_SUPERUSER) is None:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # deferred: pgserver (see embedded_server_url)
        from pgserver._commands import pg_ctl  # type: ignore[attr-defined]  # pgserver runs postgres as its own user under root

    pg_ctl(
        ["-w", "-m", "fast", "stop"], pgdata=pgdata, user="pgserver" if os.geteuid() == 0 else None
    )
    _forget_server(pgdata)
    return True


def _forget_server(pgdata: Path) -> None:
    """pgserver remembers servers per process; forget this one so a later call starts it again."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # deferred: pgserver (see embedded_server_url)
        from pgserver.postgres_server import PostgresServer

    forgotten = PostgresServer._instances.pop(pgdata, None)
    if forgotten is not None:
        atexit.unregister(forgotten._cleanup)


def _running_server_url(pgdata: Path, database: str, user: str) -> str | None:
    """The URL of the server running on ``pgdata`` per its postmaster.pid, or None if none runs.

    The file's lines: pid, data directory, start time, port, socket directory, listen address,
    shared memory, status.
    """
    try:
        lines = [line.strip() for line in (pgdata / "postmaster.pid").read_text().splitlines()]
    except OSError:
        return None
    if len(lines) < 8 or lines[7] != "ready" or not lines[4]:
        return None
    pid, port, socket_dir = int(lines[0]), lines[3], lines[4]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, owned by another user
    if not (Path(socket_dir) / f".s.PGSQL.{port}").exists():
        return None
    query = urlencode({"host": socket_dir, "port": port})
    return f"postgresql+psycopg2://{user}@/{database}?{query}"


def _database_exists(server_url: str, database: str) -> bool:
    conn = open_connection(server_url, Limits())
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            return cursor.fetchone() is not None
    finally:
        conn.close()
