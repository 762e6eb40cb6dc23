"""Connections: the embedded PostgreSQL when no URL is configured, and the one way to reach it.

The control plane reaches its database through ``Database`` (psycopg2 alone: a command that
imports SQLAlchemy starts a sixth of a second later). ``audited_transaction`` is the transaction
every change runs in. SQLAlchemy engines exist for the two users that need one: Alembic and the
market-data pipelines (``create_engine``). This module imports nothing of hubctl above settings.
"""

from __future__ import annotations

import atexit
import os
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import psycopg2
import psycopg2.extensions
from psycopg2 import sql
from psycopg2.extensions import connection as Connection
from psycopg2.extensions import make_dsn

from hubctl.errors import DatabaseBusyError, DatabaseUnavailableError, ValidationError
from hubctl.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["Connection", "Database", "Via", "audited_transaction"]

# Which interface made a change (audit_log.via): hubctl, the Markets page, or the hub_scheduler job
# applying a scheduled change; raw SQL is recorded as 'sql' by the trigger itself.
Via = Literal["hubctl", "web", "schedule"]

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
        import pgserver  # only needed for the embedded server: keep it off the real-server path

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
    from psycopg2 import sql

    conn = _open(owner_url, Limits())
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
    conn = _open(server_url, Limits())
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            return cursor.fetchone() is not None
    finally:
        conn.close()


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
    """What hubctl, the generator and the pipelines connect as: HUB_DATABASE_URL, else the
    embedded server's runtime login (which owns nothing)."""
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    return embedded_server_url(settings.resolved_home, user=EMBEDDED_RUNTIME_ROLE)


def resolve_migration_url(settings: Settings | None = None) -> str:
    """What migrations run as (the schema's owner): HUB_MIGRATION_DATABASE_URL, else
    HUB_DATABASE_URL, else the embedded server's superuser."""
    settings = settings or get_settings()
    if settings.migration_database_url or settings.database_url:
        return settings.migration_database_url or settings.database_url or ""
    return embedded_server_url(settings.resolved_home)


def libpq_url(url: str) -> str:
    """The URL as psql and libpq take it: `postgresql://`, whatever driver SQLAlchemy names."""
    connection_arguments(url)  # refuses what is not PostgreSQL
    return "postgresql://" + url.partition("://")[2]


def create_engine(url: str | None = None, *, settings: Settings | None = None) -> Engine:
    """An engine for Alembic or the market-data pipelines: no pool kept, every wait bounded.

    Their statements are bulk ones (a migration, a COPY of prices), so the statement timeout is
    HUB_BULK_STATEMENT_TIMEOUT_MS; connections are opened by ``_open`` like every other.
    """
    import sqlalchemy as sa

    settings = settings or get_settings()
    url = url or resolve_database_url(settings)
    limits = Limits.from_settings(settings, bulk=True)
    return sa.create_engine(url, poolclass=sa.NullPool, creator=lambda: _open(url, limits))


# ------------------------------------------------------------------------------------------
# Bounded waits: nothing that talks to the database may wait forever
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """How long one connection waits, and for what.

    PostgreSQL enforces the lock and statement timeouts (sent as startup ``options``, so they
    hold from the first statement on). A server, or a pooler in front of one, that accepted the
    login and then went silent is bounded by neither, nor by TCP keepalives (the peer is alive):
    the client hangs up itself when no answer came ``grace_seconds`` after the statement timeout.
    """

    connect_seconds: int = 3
    lock_ms: int = 3000
    statement_ms: int = 5000
    grace_seconds: int = 5

    @classmethod
    def from_settings(cls, settings: Settings, *, bulk: bool = False) -> Limits:
        statement_ms = settings.bulk_statement_timeout_ms if bulk else settings.statement_timeout_ms
        return cls(
            settings.connect_timeout_seconds,
            settings.lock_timeout_ms,
            statement_ms,
            settings.answer_grace_seconds,
        )

    @property
    def answer_seconds(self) -> float | None:
        """The client's deadline for one round trip; None when statements are unbounded."""
        return self.statement_ms / 1000 + self.grace_seconds if self.statement_ms else None

    def libpq_keywords(self, url_options: str = "") -> dict[str, str]:
        # Keepalives find a peer that vanished (a dead host, a cut network) on an idle connection.
        settings = f"-c lock_timeout={self.lock_ms} -c statement_timeout={self.statement_ms}"
        return {
            "connect_timeout": str(self.connect_seconds),
            "options": f"{settings} {url_options}".strip(),  # the URL's own -c settings win
            "keepalives": "1",
            "keepalives_idle": "30",
            "keepalives_interval": "10",
            "keepalives_count": "3",
        }


# The lock probe's own bounds: it must never be what hangs.
_PROBE_LIMITS = Limits(connect_seconds=2, lock_ms=0, statement_ms=1000, grace_seconds=1)


def _open(url: str, limits: Limits) -> Connection:
    """A connection whose every round trip is bounded by ``limits`` (see ``BoundedConnection``)."""
    arguments = connection_arguments(url)
    dsn = make_dsn(**arguments | limits.libpq_keywords(arguments.get("options", "")))
    conn = psycopg2.connect(dsn, connection_factory=BoundedConnection)
    conn.watched(url, limits)
    return conn


class BoundedConnection(psycopg2.extensions.connection):
    """psycopg2's connection, with a watch beside each round trip (``_Watch``).

    Cursors (SQLAlchemy's included) are ``BoundedCursor``s; commit and rollback are bounded too.
    """

    def watched(self, url: str, limits: Limits) -> None:
        # Read now: the watch thread must not touch libpq while the query runs.
        self.hub_url, self.limits = url, limits
        self.backend_pid, self.socket_fd = self.info.backend_pid, self.fileno()
        self.server = f"{self.info.host}:{self.info.port}"
        self.cursor_factory = BoundedCursor

    def commit(self) -> None:
        with bounded(self, "COMMIT"):
            super().commit()

    def rollback(self) -> None:
        with bounded(self, "ROLLBACK"):
            super().rollback()


class BoundedCursor(psycopg2.extensions.cursor):
    """Every call that waits for the server runs under the connection's watch.

    A named (server-side) cursor also waits on fetches, so those are bounded too, and iterating
    goes through ``fetchmany`` (psycopg2's own iteration would fetch unwatched).
    """

    connection: BoundedConnection

    def execute(self, query: Any, vars: Any = None) -> None:
        with bounded(self.connection, query):
            super().execute(query, vars)

    def executemany(self, query: Any, vars_list: Any) -> None:
        with bounded(self.connection, query):
            super().executemany(query, vars_list)

    def copy_expert(self, sql: Any, file: Any, size: int = 8192) -> None:
        with bounded(self.connection, sql):
            super().copy_expert(sql, file, size)

    def fetchmany(self, size: int | None = None) -> list[tuple[Any, ...]]:
        if self.name is None:
            return super().fetchmany(size if size is not None else self.arraysize)
        with bounded(self.connection, "FETCH"):
            return super().fetchmany(size if size is not None else self.arraysize)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:  # type: ignore[override]  # stubs: Self
        if self.name is None:
            return super().__iter__()
        return self._fetched_in_batches()

    def _fetched_in_batches(self) -> Iterator[tuple[Any, ...]]:
        while batch := self.fetchmany(self.itersize):
            yield from batch


class _Watch(threading.Thread):
    """Beside one round trip: names who holds the lock it waits for; hangs up if it never ends.

    Half-way to the lock timeout it asks PostgreSQL, on a connection of its own, who blocks this
    session (``pg_blocking_pids``): once the server gives up the wait, nobody blocks it any more.
    At the client's deadline it shuts the socket down, so libpq's blocking read fails at once.
    """

    def __init__(self, conn: BoundedConnection) -> None:
        super().__init__(name="hubctl-db-watch", daemon=True)
        self.conn, self.done, self.probed = conn, threading.Event(), threading.Event()
        self.lock_holders: tuple[str, list[str]] | None = None
        self.hung_up = False

    def run(self) -> None:
        limits, started = self.conn.limits, time.monotonic()
        if limits.lock_ms and not self.done.wait(limits.lock_ms / 2000):
            with suppress(Exception):  # a diagnosis only: the wait's own error is what counts
                self.lock_holders = _lock_holders(self.conn.hub_url, self.conn.backend_pid)
        self.probed.set()
        deadline = limits.answer_seconds
        if deadline is not None and not self.done.wait(deadline - (time.monotonic() - started)):
            self.hung_up = True
            with socket.socket(fileno=os.dup(self.conn.socket_fd)) as sock:
                sock.shutdown(socket.SHUT_RDWR)


@contextmanager
def bounded(conn: BoundedConnection, statement: Any) -> Iterator[None]:
    """Run one round trip under a ``_Watch``; its failures become one clear line."""
    if not hasattr(conn, "limits"):  # psycopg2 runs queries while connecting: connect_timeout
        yield
        return
    watch = _Watch(conn)
    watch.start()
    try:
        yield
    except psycopg2.Error as error:
        explained = _explained(error, conn, _verb(statement), watch)
        if explained is None:
            raise
        raise explained from error
    finally:
        watch.done.set()


def _verb(statement: Any) -> str:
    text = statement.decode(errors="replace") if isinstance(statement, bytes) else str(statement)
    return (text.split() or ["a statement"])[0].upper()


def _explained(
    error: psycopg2.Error, conn: BoundedConnection, verb: str, watch: _Watch
) -> Exception | None:
    """The timeout behind ``error`` as one line naming what was waited for; None for the rest."""
    limits, primary = conn.limits, getattr(error.diag, "message_primary", None) or ""
    if watch.hung_up:
        return DatabaseUnavailableError(
            f"no answer from the database at {conn.server} within {limits.answer_seconds:g} s"
            f" (waiting for {verb}): the server, or a pooler in front of it, accepted the"
            " connection and went silent (HUB_STATEMENT_TIMEOUT_MS + HUB_ANSWER_GRACE_SECONDS)"
        )
    if primary == "canceling statement due to lock timeout":
        watch.probed.wait(_PROBE_LIMITS.connect_seconds + 2 * (_PROBE_LIMITS.answer_seconds or 0))
        return DatabaseBusyError(_lock_message(error, limits, verb, watch.lock_holders))
    if primary == "canceling statement due to statement timeout":
        return DatabaseBusyError(
            f"the database cancelled {verb} at its statement timeout (HUB_STATEMENT_TIMEOUT_MS);"
            " nothing was changed"
        )
    return None


def _lock_message(
    error: psycopg2.Error, limits: Limits, verb: str, holders: tuple[str, list[str]] | None
) -> str:
    relation, sessions = holders or ("", [])
    context = (getattr(error.diag, "context", None) or "").strip().splitlines()
    what = relation or (context[0] if context else "a lock another session holds")
    who = ", ".join(sessions) if sessions else "a session PostgreSQL could not name"
    return (
        f"{verb} waited {limits.lock_ms} ms (HUB_LOCK_TIMEOUT_MS) for a lock on {what}, held by"
        f" {who}; end that session or retry later"
    )


# Who blocks the session ``pid``, and on which relation it waits. This module's own diagnosis,
# like its other catalog queries: hubctl.repository sits above this module.
_WAITED_RELATIONS = """
SELECT DISTINCT l.relation::regclass::text AS relation FROM pg_locks l
WHERE l.pid = %(pid)s AND l.relation IS NOT NULL AND (NOT l.granted OR l.locktype = 'tuple')
ORDER BY 1
"""
_BLOCKERS = """
SELECT a.pid, coalesce(a.usename::text, '?') AS usename, coalesce(a.state, '?') AS state,
       coalesce(a.application_name, '') AS application_name
FROM pg_stat_activity a WHERE a.pid = ANY (pg_blocking_pids(%(pid)s)) ORDER BY a.pid
"""


def _lock_holders(url: str, pid: int) -> tuple[str, list[str]]:
    """(the relations ``pid`` waits on, each blocking session as 'pid N (user, state)')."""
    conn = _open(url, _PROBE_LIMITS)
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(_WAITED_RELATIONS, {"pid": pid})
            relations = ", ".join(row[0] for row in cursor.fetchall())
            cursor.execute(_BLOCKERS, {"pid": pid})
            sessions = [
                f"pid {blocker} ({user}, {state}{f', {app}' if app else ''})"
                for blocker, user, state, app in cursor.fetchall()
            ]
    finally:
        conn.close()
    return relations, sessions


# ------------------------------------------------------------------------------------------
# The control plane's entry point
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Database:
    """The hub database: every read and write of the control plane goes through here."""

    url: str
    limits: Limits = field(default_factory=Limits)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Database:
        settings = settings or get_settings()
        return cls(resolve_database_url(settings), Limits.from_settings(settings))

    @classmethod
    def reader(cls, settings: Settings | None = None) -> Database:
        """The least-privileged login: HUB_READER_DATABASE_URL when set, else the hub's own URL."""
        settings = settings or get_settings()
        url = settings.reader_database_url or resolve_database_url(settings)
        return cls(url, Limits.from_settings(settings))

    @contextmanager
    def connect(self, *, snapshot: bool = False) -> Iterator[Connection]:
        """A read-only connection (one transaction, rolled back when the block ends).

        ``snapshot``: every statement sees the same state (REPEATABLE READ), so a long read such
        as the audit chain's walk and its head agree even while writers go on.
        """
        conn = _open(self.url, self.limits)
        try:
            if snapshot:
                conn.set_session(isolation_level="REPEATABLE READ")
            conn.set_session(readonly=True)
            yield conn
        finally:
            conn.close()

    @contextmanager
    def listening(self, channel: str) -> Iterator[Connection]:
        """An autocommit connection LISTENing on ``channel``: each statement sees every commit."""
        conn = _open(self.url, self.limits)
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
        conn = _open(self.url, self.limits)
        try:
            yield conn
            conn.commit()
        except BaseException:
            if not conn.closed:  # after a hang-up there is no transaction left to roll back
                with suppress(psycopg2.Error, DatabaseUnavailableError):
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
    via: Via = "hubctl",
) -> Iterator[Connection]:
    """One transaction whose audit rows carry ``actor``, ``reason``, ``via`` and one change-set id.

    The settings are transaction-local (``set_config(..., true)``), so they cannot leak to the next
    user of a pooled connection (PgBouncer in transaction mode included).
    """
    with database.transaction() as conn:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('hub.actor', %(actor)s, true),"
                " set_config('hub.reason', %(reason)s, true),"
                " set_config('hub.change_set', %(change_set)s, true),"
                " set_config('hub.via', %(via)s, true),"
                # hubctl may capture a change and roll it back: four-eyes checks at commit
                " set_config('hub.check_at_commit', 'on', true)",
                {
                    "actor": actor,
                    "reason": reason or "",
                    "change_set": change_set or str(uuid.uuid4()),
                    "via": via,
                },
            )
        yield conn
