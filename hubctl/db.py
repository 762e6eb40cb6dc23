"""Connections: the embedded PostgreSQL when no URL is configured, engines, audited transactions."""

from __future__ import annotations

import atexit
import logging
import os
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url

from hubctl.settings import Settings, get_settings

EMBEDDED_DATABASE = "hub"


def embedded_server_url(home: Path, database: str = EMBEDDED_DATABASE) -> str:
    """Start (or reuse) the embedded PostgreSQL under ``home`` and return a URL for ``database``.

    The server is left running when this process exits (cleanup_mode=None) so the next hubctl call,
    the generator and Airflow all reuse it; ``hubctl db stop`` stops it. While it runs, the URL is
    read from its postmaster.pid without importing pgserver (the fast path of every command).
    """
    pgdata = home.expanduser().resolve() / "pgdata"
    running = _running_server_url(pgdata, database)
    marker = pgdata / f"hubctl-created-{database}"
    if running is not None and marker.exists():
        return running
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
        warnings.simplefilter("ignore")
        import pgserver  # only needed for the embedded server: keep it off the real-server path

        home.mkdir(parents=True, exist_ok=True)
        if running is None:
            _forget_server(pgdata)  # a handle on a server that crashed would be handed back as is
        server = pgserver.get_server(pgdata, cleanup_mode=None)
    socket_url = make_url(server.get_uri())
    if not _database_exists(socket_url, database):
        server.psql(f'CREATE DATABASE "{database}";')
    marker.touch()
    return _running_server_url(pgdata, database) or str(
        socket_url.set(drivername="postgresql+psycopg2", database=database)
    )


def stop_embedded_server(home: Path) -> bool:
    """Stop the embedded server under ``home`` if it runs (fast shutdown); True if it was running."""
    pgdata = home.expanduser().resolve() / "pgdata"
    if _running_server_url(pgdata, "postgres") is None:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
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
        from pgserver.postgres_server import PostgresServer

    forgotten = PostgresServer._instances.pop(pgdata, None)
    if forgotten is not None:
        atexit.unregister(forgotten._cleanup)


def _running_server_url(pgdata: Path, database: str) -> str | None:
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
    url = sa.URL.create(
        "postgresql+psycopg2",
        username="postgres",
        database=database,
        query={"host": socket_dir, "port": port},
    )
    return url.render_as_string(hide_password=False)


def _database_exists(server_url: sa.URL, database: str) -> bool:
    engine = sa.create_engine(
        server_url.set(drivername="postgresql+psycopg2"), poolclass=sa.NullPool
    )
    try:
        with engine.connect() as conn:
            found = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": database}
            ).first()
    finally:
        engine.dispose()
    return found is not None


def resolve_database_url(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    return embedded_server_url(settings.resolved_home)


def create_engine(url: str | None = None, *, settings: Settings | None = None) -> Engine:
    """An engine for one command or one parse: no pool kept between them, a short connect timeout."""
    settings = settings or get_settings()
    return sa.create_engine(
        url or resolve_database_url(settings),
        poolclass=sa.NullPool,
        connect_args={"connect_timeout": settings.connect_timeout_seconds},
    )


@contextmanager
def audited_transaction(
    engine: Engine, *, actor: str, reason: str | None = None, change_set: str | None = None
) -> Iterator[Connection]:
    """One transaction whose audit rows carry ``actor``, ``reason`` and one change-set id.

    The settings are transaction-local (``set_config(..., true)``), so they cannot leak to the next
    user of a pooled connection (PgBouncer in transaction mode included). When the transaction
    committed a change, Airflow is asked to re-parse the generator file (see notify_airflow).
    """
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "SELECT set_config('hub.actor', :actor, true), set_config('hub.reason', :reason, true),"
                " set_config('hub.change_set', :change_set, true), set_config('hub.via', 'hubctl', true)"
            ),
            {"actor": actor, "reason": reason or "", "change_set": change_set or str(uuid.uuid4())},
        )
        chain_end_before = conn.execute(_CHAIN_END).scalar()
        yield conn
        changed = conn.execute(_CHAIN_END).scalar() != chain_end_before
    if changed:
        _tell_airflow()


# Every audited change moves the chain head, so comparing it tells whether anything was written.
_CHAIN_END = sa.text("SELECT last_id FROM hub.audit_chain_head WHERE id = 1")


def _tell_airflow() -> None:
    from hubctl.airflow_api import notify_airflow

    warning = notify_airflow()
    if warning:
        logging.getLogger("hubctl").warning(warning)
