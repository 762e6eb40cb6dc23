"""hubctl db upgrade / downgrade / current against a real database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from hubctl import migrations
from hubctl.cli import app
from hubctl.db import libpq_url, resolve_database_url, stop_embedded_server
from hubctl.db.urls import with_login
from hubctl.settings import get_settings
from tests.support.cli import hubctl


def schemas(db_url: str) -> set[str]:
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        found = conn.execute(
            sa.text("SELECT nspname FROM pg_namespace WHERE nspname IN ('hub', 'market')")
        )
        return set(found.scalars())


def test_current_downgrade_upgrade(hub_env: object, db_url: str) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["db", "current"])
    assert result.exit_code == 0 and result.output.strip() == f"{migrations.head()} (head)"

    result = runner.invoke(app, ["db", "downgrade", "0001"])
    assert result.exit_code == 0, result.output
    assert schemas(db_url) == {"hub"}
    assert "(head is" in runner.invoke(app, ["db", "current"]).output

    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0 and schemas(db_url) == {"hub", "market"}


@pytest.fixture
def embedded_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """hubctl on an embedded server of its own under a fresh HUB_HOME."""
    home = tmp_path / "hub"
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    monkeypatch.setenv("HUB_HOME", str(home))
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()
    stop_embedded_server(home)


def _person(url: str) -> str | None:
    conn = psycopg2.connect(libpq_url(url))
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT hub.authenticated_person()")
            return cursor.fetchone()[0]
    finally:
        conn.close()


def test_add_login_approver(embedded_home: Path) -> None:
    assert hubctl("db", "upgrade").exit_code == 0
    assert hubctl("db", "add-login", "postgres", "--approver").exit_code == 1
    result = hubctl("db", "add-login", "alice", "--approver")
    assert result.exit_code == 0, result.stderr
    assert "member of hub_operator and hub_approver" in result.stdout
    password = result.stdout.split("password (shown once): ", 1)[1].strip()
    hba = (embedded_home / "pgdata" / "pg_hba.conf").read_text().splitlines()
    assert hba[0] == "local all +hub_approver scram-sha-256"  # before pgserver's trust lines
    runtime_url = resolve_database_url(get_settings())
    with pytest.raises(psycopg2.OperationalError, match="password"):
        _person(with_login(runtime_url, "alice"))  # the name alone proves nothing
    assert _person(with_login(runtime_url, "alice", password)) == "alice"
    assert _person(runtime_url) is None  # hub_app: still trusted, nobody in particular
    assert hubctl("db", "upgrade").exit_code == 0
    hba_again = (embedded_home / "pgdata" / "pg_hba.conf").read_text().splitlines()
    assert hba_again == hba  # idempotent


def test_the_local_stacks_markets_page_gets_a_web_login_of_its_own(embedded_home: Path) -> None:
    from hubctl.db import embedded_server_url
    from hubctl.db.logins import embedded_web_url

    assert hubctl("db", "upgrade").exit_code == 0
    owner_url, runtime_url = (
        embedded_server_url(embedded_home),
        resolve_database_url(get_settings()),
    )
    web_url = embedded_web_url(embedded_home, owner_url, runtime_url)
    assert embedded_web_url(embedded_home, owner_url, runtime_url) == web_url  # made once
    assert (embedded_home / "web-login").stat().st_mode & 0o077 == 0
    conn = psycopg2.connect(libpq_url(web_url))
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT set_config('hub.web_user', 'Ann', true)")
            cursor.execute("SELECT hub.authenticated_person()")
            assert cursor.fetchone()[0] == "ann"
    finally:
        conn.close()
    with pytest.raises(psycopg2.OperationalError, match="password"):
        psycopg2.connect(libpq_url(with_login(runtime_url, "hub_web_page"))).close()
