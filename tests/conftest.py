"""Fixtures: one real PostgreSQL per session, a template migrated once, a fresh database per test.

The server is the embedded pgserver one, or the server at HUB_TEST_DATABASE_URL (a maintenance
database URL of a superuser, e.g. postgresql+psycopg2://postgres@localhost/postgres): the audit
tamper tests need a superuser, as a real attacker would.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from hubctl import migrations
from hubctl.author import Author
from hubctl.db import Database
from hubctl.paths import DAGS_FOLDER
from hubctl.settings import get_settings

TEMPLATE = f"hub_template_{os.getpid()}"

# Airflow reads its configuration at import: give the whole session its own AIRFLOW_HOME first.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="hub-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_FOLDER)
os.environ.setdefault("HUBCTL_ACTOR", "pytest")


def _admin_engine(url: URL) -> Engine:
    return sa.create_engine(url, poolclass=sa.NullPool, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[URL]:
    """URL of the server's maintenance database."""
    configured = os.environ.get("HUB_TEST_DATABASE_URL")
    if configured:
        yield make_url(configured)
        return
    import pgserver

    # Unix socket paths are limited to ~100 bytes: keep the data directory short.
    data_dir = Path(tempfile.mkdtemp(prefix="hubpg"))
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    try:
        yield make_url(server.get_uri()).set(drivername="postgresql+psycopg2")
    finally:
        server.cleanup()
        atexit.unregister(server._cleanup)  # done already; at exit pytest's log streams are closed
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def template_database(pg_server_url: URL) -> Iterator[str]:
    admin = _admin_engine(pg_server_url)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{TEMPLATE}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{TEMPLATE}"'))
    engine = sa.create_engine(pg_server_url.set(database=TEMPLATE), poolclass=sa.NullPool)
    migrations.upgrade(engine)
    engine.dispose()
    try:
        yield TEMPLATE
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def scratch_database(server_url: URL, prefix: str, template: str | None = None) -> Iterator[str]:
    """A database of its own (a clone of ``template`` when given), dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    clone = f' TEMPLATE "{template}"' if template else ""
    admin = _admin_engine(server_url)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"{clone}'))
    try:
        yield server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def db_url(pg_server_url: URL, template_database: str) -> Iterator[str]:
    """A fresh, migrated database of its own for one test (a clone of the template)."""
    with scratch_database(pg_server_url, "hub_test", template_database) as url:
        yield url


@pytest.fixture
def empty_db_url(pg_server_url: URL) -> Iterator[str]:
    """A database with no migrations applied."""
    with scratch_database(pg_server_url, "hub_empty") as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def database(db_url: str) -> Database:
    """This test's database as the control plane reaches it (psycopg2)."""
    return Database(db_url)


@pytest.fixture
def hub_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point hubctl's settings (HUB_DATABASE_URL, HUB_HOME) at this test's database."""
    monkeypatch.setenv("HUB_DATABASE_URL", db_url)
    monkeypatch.setenv("HUB_HOME", str(tmp_path / "hub-home"))
    get_settings.cache_clear()
    yield tmp_path / "hub-home"
    get_settings.cache_clear()


@pytest.fixture
def default_config(engine: Engine, database: Database) -> Engine:
    """This test's database with the shipped default configuration applied (hubctl apply --defaults)."""
    from hubctl import configfile
    from hubctl.services import documents

    documents.apply_document(
        database,
        configfile.load_defaults(),
        author=Author("pytest", reason="default configuration"),
    )
    return engine


@pytest.fixture(scope="session")
def airflow_metadata_db() -> Path:
    """Airflow's own metadata database (SQLite in AIRFLOW_HOME), migrated once: dag.test() needs it."""
    subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return _AIRFLOW_HOME
