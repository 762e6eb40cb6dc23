"""Connections: the embedded PostgreSQL when no URL is configured, and the one way to reach it.

The control plane reaches its database through ``Database`` (psycopg2 alone: a command that
imports SQLAlchemy starts a sixth of a second later). ``audited_transaction`` is the transaction
every change runs in. SQLAlchemy engines exist for the two users that need one: Alembic and the
market-data pipelines (``create_engine``). This module imports nothing of hubctl above settings.
"""

from __future__ import annotations

import atexit
import os
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection as Connection
from psycopg2.extensions import make_dsn

from hubctl.errors import ValidationError
from hubctl.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["Connection", "Database", "audited_transaction"]

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
    if not _database_exists(server.get_uri(), database):
        server.psql(f'CREATE DATABASE "{database}";')
    marker.touch()
    return _running_server_url(pgdata, database) or server.get_uri(database)


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
    return f"postgresql+psycopg2://postgres@/{database}?{urlencode({'host': socket_dir, 'port': port})}"


def _database_exists(server_url: str, database: str) -> bool:
    conn = _connect(server_url)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            return cursor.fetchone() is not None
    finally:
        conn.close()


def _connect(url: str, **options: str) -> Connection:
    return psycopg2.connect(make_dsn(**connection_arguments(url), **options))


def connection_arguments(url: str) -> dict[str, str]:
    """psycopg2.connect's keywords for a SQLAlchemy URL, parsed as SQLAlchemy parses it.

    ``postgresql+psycopg2://user:pass@host:5432/db?sslmode=require`` gives user, password, host,
    port, dbname and each query parameter (e.g. ``host`` for a socket directory).
    """
    scheme, _, _ = url.partition("://")
    if scheme not in ("postgresql", "postgresql+psycopg2"):
        raise ValidationError(
            f"database_url: expected postgresql:// or postgresql+psycopg2://, not {scheme}://"
        )
    parts = urlsplit(url)
    found = {
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "host": parts.hostname or "",
        "port": str(parts.port or ""),
        "dbname": unquote(parts.path.lstrip("/")),
    }
    return {name: value for name, value in found.items() if value} | dict(parse_qsl(parts.query))


def resolve_database_url(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    return embedded_server_url(settings.resolved_home)


def libpq_url(url: str) -> str:
    """The URL as psql and libpq take it: `postgresql://`, whatever driver SQLAlchemy names."""
    connection_arguments(url)  # refuses what is not PostgreSQL
    return "postgresql://" + url.partition("://")[2]


def create_engine(url: str | None = None, *, settings: Settings | None = None) -> Engine:
    """An engine for Alembic or the market-data pipelines: no pool kept, a short connect timeout."""
    import sqlalchemy as sa

    settings = settings or get_settings()
    return sa.create_engine(
        url or resolve_database_url(settings),
        poolclass=sa.NullPool,
        connect_args={"connect_timeout": settings.connect_timeout_seconds},
    )


@dataclass(frozen=True)
class Database:
    """The hub database: every read and write of the control plane goes through here."""

    url: str
    connect_timeout_seconds: int = 3

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Database:
        settings = settings or get_settings()
        return cls(resolve_database_url(settings), settings.connect_timeout_seconds)

    @classmethod
    def reader(cls, settings: Settings | None = None) -> Database:
        """The least-privileged login: HUB_READER_DATABASE_URL when set, else the hub's own URL."""
        settings = settings or get_settings()
        url = settings.reader_database_url or resolve_database_url(settings)
        return cls(url, settings.connect_timeout_seconds)

    def _open(self) -> Connection:
        return _connect(self.url, connect_timeout=str(self.connect_timeout_seconds))

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A read-only connection (one transaction, rolled back when the block ends)."""
        conn = self._open()
        try:
            conn.set_session(readonly=True)
            yield conn
        finally:
            conn.close()

    @contextmanager
    def listening(self, channel: str) -> Iterator[Connection]:
        """An autocommit connection LISTENing on ``channel``: each statement sees every commit."""
        conn = self._open()
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            yield conn
        finally:
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One read-write transaction: committed when the block ends, rolled back if it raises."""
        conn = self._open()
        try:
            yield conn
            conn.commit()
        except BaseException:
            if not conn.closed:  # a lost connection has nothing to roll back: keep its error
                conn.rollback()
            raise
        finally:
            conn.close()


@contextmanager
def audited_transaction(
    database: Database,
    *,
    actor: str,
    reason: str | None = None,
    change_set: str | None = None,
) -> Iterator[Connection]:
    """One transaction whose audit rows carry ``actor``, ``reason`` and one change-set id.

    The settings are transaction-local (``set_config(..., true)``), so they cannot leak to the next
    user of a pooled connection (PgBouncer in transaction mode included).
    """
    with database.transaction() as conn:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('hub.actor', %(actor)s, true),"
                " set_config('hub.reason', %(reason)s, true),"
                " set_config('hub.change_set', %(change_set)s, true),"
                " set_config('hub.via', 'hubctl', true)",
                {
                    "actor": actor,
                    "reason": reason or "",
                    "change_set": change_set or str(uuid.uuid4()),
                },
            )
        yield conn
