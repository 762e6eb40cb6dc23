"""How the control plane reaches its database, and the transaction every change runs in.

It reaches it through ``Database`` (psycopg2 alone: a command that imports SQLAlchemy starts a
sixth of a second later). ``audited_transaction`` is the transaction every change runs in.
SQLAlchemy engines exist for the two users that need one: Alembic and the market-data pipelines
(``create_engine``). Which database: HUB_DATABASE_URL, else the embedded server (``resolve_*``).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection as Connection

from hubctl.db.bounded import BoundedConnection, Limits, open_connection
from hubctl.db.embedded import EMBEDDED_RUNTIME_ROLE, embedded_server_url
from hubctl.db.urls import with_login
from hubctl.errors import DatabaseUnavailableError
from hubctl.settings import Settings, get_settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from hubctl.author import Author


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


def create_engine(url: str | None = None, *, settings: Settings | None = None) -> Engine:
    """An engine for Alembic or the market-data pipelines: no pool kept, every wait bounded.

    Their statements are bulk ones (a migration, a COPY of prices), so the statement timeout is
    HUB_BULK_STATEMENT_TIMEOUT_MS; connections are opened by ``open_connection`` like every other.
    """
    import sqlalchemy as sa  # deferred: 0.15-0.5 s; Database (psycopg2 alone) serves the rest

    settings = settings or get_settings()
    url = url or resolve_database_url(settings)
    limits = Limits.from_settings(settings, bulk=True)
    return sa.create_engine(
        url, poolclass=sa.NullPool, creator=lambda: open_connection(url, limits)
    )


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
    def web(cls, settings: Settings | None = None) -> Database:
        """The Markets page's login: HUB_WEB_DATABASE_URL (a member of hub_web, which vouches
        for the signed-in Airflow user), else the hub's own URL (whose approvals do not count)."""
        settings = settings or get_settings()
        url = settings.web_database_url or resolve_database_url(settings)
        return cls(url, Limits.from_settings(settings))

    def as_login(self, user: str, password: str | None = None) -> Database:
        """The same database as another login (a person's own, e.g. to approve a request)."""
        return dataclasses.replace(self, url=with_login(self.url, user, password))

    @classmethod
    def reader(cls, settings: Settings | None = None) -> Database:
        """The least-privileged login: HUB_READER_DATABASE_URL when set, else the hub's own URL."""
        settings = settings or get_settings()
        url = settings.reader_database_url or resolve_database_url(settings)
        return cls(url, Limits.from_settings(settings))

    @contextmanager
    def connect(self, *, snapshot: bool = False) -> Iterator[BoundedConnection]:
        """A read-only connection (one transaction, rolled back when the block ends).

        ``snapshot``: every statement sees the same state (REPEATABLE READ), so a long read such
        as the audit chain's walk and its head agree even while writers go on.
        """
        conn = open_connection(self.url, self.limits)
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
        conn = open_connection(self.url, self.limits)
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
        conn = open_connection(self.url, self.limits)
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
    database: Database, author: Author, *, change_set: str | None = None
) -> Iterator[Connection]:
    """One transaction whose audit rows carry the author's actor, reason and via, and one
    change-set id (its mode is hubctl.services.changes's business).

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
                # the Markets page's login vouches for its signed-in user (only a member of
                # hub_web counts: hub.authenticated_person())
                " set_config('hub.web_user', %(web_user)s, true),"
                # hubctl may capture a change and roll it back: four-eyes checks at commit
                " set_config('hub.check_at_commit', 'on', true)",
                {
                    "actor": author.actor,
                    "reason": author.reason or "",
                    "change_set": change_set or str(uuid.uuid4()),
                    "via": author.via,
                    "web_user": author.actor if author.via == "web" else "",
                },
            )
        yield conn
