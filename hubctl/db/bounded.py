"""Bounded waits: nothing that talks to the database may wait forever.

Every connection hubctl opens comes from ``open_connection``: PostgreSQL enforces the lock and
statement timeouts, and a watch thread beside each round trip names a lock's holder and hangs up
on a server that went silent. A timeout becomes one line saying what was waited for.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.extensions
from psycopg2.extensions import make_dsn

from hubctl.db.urls import connection_arguments
from hubctl.errors import DatabaseBusyError, DatabaseUnavailableError
from hubctl.settings import Settings


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


def open_connection(url: str, limits: Limits) -> BoundedConnection:
    """A connection whose every round trip is bounded by ``limits`` (see ``BoundedConnection``)."""
    arguments = connection_arguments(url)
    dsn = make_dsn(**arguments | limits.libpq_keywords(arguments.get("options", "")))
    conn = psycopg2.connect(dsn, connection_factory=BoundedConnection)
    conn.watched(url, limits)
    return conn


class BoundedConnection(psycopg2.extensions.connection):
    """psycopg2's connection, with a watch beside each round trip (``_Watch``).

    Cursors (SQLAlchemy's included) are ``BoundedCursor``s; commit and rollback are bounded too.
    ``as_of``: the control tables as they were at some moment (table name -> rows as JSON objects,
    hubctl.services.history), or None; while set, this connection's control-table selects read
    those rows instead of the live tables (hubctl.repository.rows).
    """

    as_of: Mapping[str, list[dict[str, Any]]] | None = None

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
    conn = open_connection(url, _PROBE_LIMITS)
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
