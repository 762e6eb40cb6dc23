"""The embedded PostgreSQL: started on demand under HUB_HOME, reused while it runs."""

from __future__ import annotations

from pathlib import Path

import psycopg2.errors
import pytest
import sqlalchemy as sa

from hubctl.author import Author
from hubctl.db import (
    Database,
    audited_transaction,
    connection_arguments,
    create_engine,
    libpq_url,
    resolve_database_url,
    stop_embedded_server,
)
from hubctl.errors import ValidationError
from hubctl.repository import rows
from hubctl.settings import Settings
from hubctl.tables import GROUPS, JOBS


@pytest.fixture
def embedded_home(tmp_path: Path) -> Path:
    home = tmp_path / "hub"
    yield home
    stop_embedded_server(home)


def test_embedded_server_is_started_on_demand_and_reused(embedded_home: Path) -> None:
    settings = Settings(database_url=None, home=embedded_home)
    first = resolve_database_url(settings)
    pid = int((embedded_home / "pgdata" / "postmaster.pid").read_text().split()[0])
    second = resolve_database_url(settings)
    assert first == second
    assert int((embedded_home / "pgdata" / "postmaster.pid").read_text().split()[0]) == pid
    engine = create_engine(settings=settings)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT current_database()")).scalar() == "hub"
    assert stop_embedded_server(embedded_home)
    assert not stop_embedded_server(embedded_home)
    assert resolve_database_url(settings) == first  # started again on demand


def test_configured_url_wins_over_the_embedded_server(db_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=db_url, home=tmp_path / "unused")
    assert resolve_database_url(settings) == db_url
    assert not (tmp_path / "unused").exists()


def test_audited_transaction_rolls_back_everything_on_failure(
    engine: sa.Engine, database: Database
) -> None:
    insert = "INSERT INTO hub.dag_configuration (dag_name, job_name) VALUES ('d', 'j')"
    with (
        pytest.raises(psycopg2.errors.UniqueViolation),
        audited_transaction(database, author=Author("a")) as conn,
    ):
        rows.fetch(conn, insert)
        rows.fetch(conn, insert)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM hub.dag_configuration")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM hub.audit_log")).scalar() == 0


def test_hubctl_db_stop_stops_the_embedded_server(
    embedded_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from hubctl.cli import app
    from hubctl.settings import get_settings

    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    monkeypatch.setenv("HUB_HOME", str(embedded_home))
    get_settings.cache_clear()
    try:
        resolve_database_url(get_settings())
        assert "stopped the embedded PostgreSQL" in CliRunner().invoke(app, ["db", "stop"]).output
        assert not (embedded_home / "pgdata" / "postmaster.pid").exists()
        assert "was not running" in CliRunner().invoke(app, ["db", "stop"]).output
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql+psycopg2://hub:p%40ss%3A%2Fw%20rd@db.example:6432/hub?sslmode=require",
            {
                "user": "hub",
                "password": "p@ss:/w rd",
                "host": "db.example",
                "port": "6432",
                "dbname": "hub",
                "sslmode": "require",
            },
        ),
        (
            "postgresql://postgres@/hub?host=%2Ftmp%2Fa+b&port=5433",
            {"user": "postgres", "dbname": "hub", "host": "/tmp/a b", "port": "5433"},
        ),
    ],
)
def test_connection_arguments_parse_a_url_as_sqlalchemy_does(
    url: str, expected: dict[str, str]
) -> None:
    assert connection_arguments(url) == expected
    parsed = sa.make_url(url)
    assert (parsed.username, parsed.password, parsed.database) == (
        expected["user"],
        expected.get("password"),
        expected["dbname"],
    )


def test_connection_arguments_refuse_another_driver() -> None:
    with pytest.raises(ValidationError, match=r"database_url: expected postgresql://"):
        connection_arguments("postgresql+asyncpg://u@h/db")


def test_connect_is_read_only_and_transaction_commits(
    default_config: sa.Engine, db_url: str
) -> None:
    database = Database(db_url)
    with database.connect() as conn:
        enabled = rows.select_rows(conn, table=JOBS, where={"enabled": True})
        with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
            rows.delete_row(conn, table=GROUPS, key={"group_name": "lse"})
    assert len(enabled) == 12
    with database.transaction() as conn:
        rows.fetch(conn, "UPDATE hub.tickers SET enabled = false WHERE ticker = 'AAPL'")
    with default_config.connect() as conn:
        query = sa.text("SELECT enabled FROM hub.tickers WHERE ticker = 'AAPL'")
        assert conn.execute(query).scalar() is False


def test_db_url_is_what_psql_takes() -> None:
    assert libpq_url("postgresql+psycopg2://postgres@/hub?host=%2Ftmp&port=5433") == (
        "postgresql://postgres@/hub?host=%2Ftmp&port=5433"
    )
    with pytest.raises(ValidationError, match="expected postgresql://"):
        libpq_url("mysql://u@h/db")


def test_the_database_layer_imports_nothing_above_it() -> None:
    import subprocess
    import sys

    script = (
        "import sys, hubctl.db; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('hubctl'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == [
        "hubctl",
        "hubctl.db",
        "hubctl.db.bounded",
        "hubctl.db.connection",
        "hubctl.db.embedded",
        "hubctl.db.logins",
        "hubctl.db.urls",
        "hubctl.errors",
        "hubctl.settings",
    ]


def test_hubctl_db_url_prints_a_url_libpq_connects_with(hub_env: Path, db_url: str) -> None:
    from typer.testing import CliRunner

    from hubctl.cli import app

    printed = CliRunner().invoke(app, ["db", "url"]).output.strip()
    assert printed.startswith("postgresql://") and "+psycopg2" not in printed
    conn = psycopg2.connect(printed)  # the same libpq parser as psql
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT current_database()")
            assert cursor.fetchone() == (sa.make_url(db_url).database,)
    finally:
        conn.close()


def test_the_embedded_default_runs_as_a_login_that_cannot_silence_the_audit(
    embedded_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migrations run as the embedded superuser; hubctl itself as hub_app (hub_operator)."""
    import json

    from hubctl.db import EMBEDDED_RUNTIME_ROLE, resolve_migration_url
    from hubctl.settings import get_settings
    from tests.support.cli import hubctl

    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    monkeypatch.setenv("HUB_HOME", str(embedded_home))
    get_settings.cache_clear()
    try:
        assert hubctl("db", "upgrade").exit_code == 0
        assert f"//{EMBEDDED_RUNTIME_ROLE}@" in hubctl("db", "url").stdout
        applied = hubctl("apply", "--defaults", "--yes", "-m", "first start")
        assert applied.exit_code == 0, applied.stderr
        changed = hubctl("config", "set", "calculate_indicators", "all", "priority=6", "-m", "t")
        assert changed.exit_code == 0, changed.stderr
        doctor = {row["check"]: row for row in json.loads(hubctl("doctor", "-o", "json").stdout)}
        assert doctor["login"]["ok"] is True and "owns nothing" in doctor["login"]["detail"]
        runtime = psycopg2.connect(libpq_url(resolve_database_url()))
        with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="must be owner"):
            runtime.cursor().execute(
                "ALTER TABLE hub.dag_configuration DISABLE TRIGGER dag_configuration_audit"
            )
        runtime.close()
        owner = create_engine(resolve_migration_url())
        with owner.connect() as conn:
            who = conn.execute(
                sa.text("SELECT db_user FROM hub.audit_log ORDER BY id DESC")
            ).first()
            guards = conn.execute(sa.text("SELECT count(*) FROM pg_event_trigger")).scalar()
        owner.dispose()
        assert who is not None and who.db_user == EMBEDDED_RUNTIME_ROLE
        assert guards == 2  # the superuser migrated: the audit triggers are guarded
    finally:
        get_settings.cache_clear()
