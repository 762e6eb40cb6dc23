"""Test databases: a server tuned for throw-away data, migrated templates, clones made ahead.

Every test that touches the hub gets a database of its own, cloned from a template: the code
under test opens its own connections, runs triggers and switches roles, so a rolled-back
transaction could not isolate it. What makes that cheap (docs/performance.md, "Test loop"):

* the session's embedded server runs without fsync, synchronous commit or full-page writes
  (nothing in it must survive a crash; the crash tests use a server of their own, tuned as
  shipped);
* the defaults test (`default_config`) clones a second template that already holds the shipped
  configuration instead of applying it again;
* ``Clones`` makes the next clones in a background thread while a test runs, and drops used
  databases there too, so neither sits between two tests.
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine

from hubctl import migrations
from hubctl.db import Database
from hubctl.db.urls import with_login

# Off on a server whose data a test run throws away: each costs a disk flush per commit or per
# CREATE DATABASE, and together they were most of a clone's time.
THROWAWAY_SETTINGS = ("fsync", "synchronous_commit", "full_page_writes")


def admin_engine(server_url: URL) -> Engine:
    return sa.create_engine(server_url, poolclass=sa.NullPool, isolation_level="AUTOCOMMIT")


def database_of(engine: Engine) -> Database:
    """The control plane's view of a test database that a test also reaches with SQLAlchemy."""
    return Database(engine.url.render_as_string(hide_password=False))


def tune_for_throwaway_data(server_url: URL) -> None:
    """Turn off what only protects data against a crash (a reload applies all three)."""
    admin = admin_engine(server_url)
    with admin.connect() as conn:
        for setting in THROWAWAY_SETTINGS:
            conn.execute(sa.text(f"ALTER SYSTEM SET {setting} = off"))
        conn.execute(sa.text("SELECT pg_reload_conf()"))
    admin.dispose()


def create_database(server_url: URL, name: str, template: str | None = None) -> str:
    """A new database (a clone of ``template`` when given); its URL as a string."""
    clone = f' TEMPLATE "{template}"' if template else ""
    admin = admin_engine(server_url)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"{clone}'))
    admin.dispose()
    return url_of(server_url, name)


def drop_database(server_url: URL, name: str) -> None:
    admin = admin_engine(server_url)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def url_of(server_url: URL, name: str) -> str:
    return server_url.set(database=name).render_as_string(hide_password=False)


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


@contextmanager
def scratch_database(server_url: URL, prefix: str, template: str | None = None) -> Iterator[str]:
    """A database of its own (a clone of ``template`` when given), dropped afterwards."""
    name = unique_name(prefix)
    url = create_database(server_url, name, template)
    try:
        yield url
    finally:
        drop_database(server_url, name)


def create_migrated_template(server_url: URL, name: str) -> None:
    drop_database(server_url, name)
    engine = sa.create_engine(create_database(server_url, name), poolclass=sa.NullPool)
    migrations.upgrade(engine)
    engine.dispose()


class Clones:
    """Clones of the templates, made one ahead per template by a background thread.

    ``take(template)`` hands out a fresh clone and orders the next; ``give_back(name)`` has the
    used one dropped. One thread on one connection does all of it: opening a connection per
    statement cost more than the statement. Without fsync, FILE_COPY (a checkpoint and a file
    copy) clones the 8 MB template in half the time of WAL_LOG (every block through the WAL);
    with fsync on, its two checkpoints make it the slower one.
    """

    def __init__(self, server_url: URL) -> None:
        self._server_url = server_url
        self._ready: dict[str, queue.SimpleQueue[str | BaseException]] = {}
        self._work: queue.SimpleQueue[tuple[str, str] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="test-db-clones", daemon=True)
        self._thread.start()

    def take(self, template: str) -> str:
        if template not in self._ready:
            self._ready[template] = queue.SimpleQueue()
            self._work.put(("clone", template))  # the one kept ahead
        self._work.put(("clone", template))
        made = self._ready[template].get()
        if isinstance(made, BaseException):
            raise RuntimeError(f"cloning {template} failed") from made
        return made

    def give_back(self, name: str) -> None:
        self._work.put(("drop", name))

    def close(self) -> None:
        """Drop what is left (clones made ahead, databases given back) and stop the thread."""
        self._work.put(None)
        self._thread.join()

    def _run(self) -> None:
        admin = admin_engine(self._server_url)
        with admin.connect() as conn:
            fsync = conn.execute(sa.text("SHOW fsync")).scalar()
            strategy = "FILE_COPY" if fsync == "off" else "WAL_LOG"
            while (task := self._work.get()) is not None:
                self._do(conn, strategy, *task)
            for ready in self._ready.values():
                while not ready.empty():
                    if isinstance(name := ready.get(), str):
                        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    def _do(self, conn: sa.Connection, strategy: str, action: str, subject: str) -> None:
        if action == "drop":
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{subject}" WITH (FORCE)'))
            return
        name = unique_name("hub_test")
        try:
            conn.execute(
                sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{subject}" STRATEGY {strategy}')
            )
        except Exception as failure:  # raised in the test that takes it
            self._ready[subject].put(failure)
        else:
            self._ready[subject].put(name)


@contextmanager
def login_in_roles(db_url: str, *roles: str, prefix: str = "test") -> Iterator[str]:
    """A login of its own in ``roles`` (e.g. hub_operator: the runtime login's rights); its URL.
    Roles are cluster-wide, so the name is unique; it is dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE ROLE {name} LOGIN IN ROLE {', '.join(roles)}"))
    try:
        yield with_login(db_url, name)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP OWNED BY {name}; DROP ROLE {name}"))
        engine.dispose()


def web_login(db_url: str) -> AbstractContextManager[str]:
    """A login like the Markets page's own (hub_web vouches for the signed-in Airflow user)."""
    return login_in_roles(db_url, "hub_operator", "hub_web", prefix="web")
