"""hubctl status and hubctl doctor against a real database (Airflow's side is in tests/e2e)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from hubctl import migrations
from hubctl.settings import get_settings
from hubctl.specs import load_specs
from tests.support.cli import Run
from tests.support.marketdata import store_price


def test_status_shows_each_group_its_dags_and_freshness(hub: Run, default_config: Engine) -> None:
    store_price(default_config, "HSBA.L", "LSE", dt.date(2026, 11, 13))
    store_price(default_config, "BP.L", "LSE", dt.date(2026, 11, 20))
    assert hub("groups", "disable", "german_markets").exit_code == 0

    result = hub("status", "-o", "json")
    assert result.exit_code == 0, result.stderr
    rows = {row["group"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {"us_markets", "lse", "german_markets", "european_markets"}
    assert rows["lse"]["dags"] == ["data_collection_equities__lse", "historical_load_equities__lse"]
    assert rows["lse"]["latest_trade_date"] == "2026-11-20"
    assert rows["lse"]["stale_sessions"] >= 0 and rows["lse"]["calendar"] == "XLON"
    assert rows["lse"]["last_run"] == "(Airflow API not configured)"
    assert rows["german_markets"]["enabled"] is False and rows["german_markets"]["dags"] == []
    assert rows["us_markets"]["latest_trade_date"] is None


def test_staleness_counts_trading_sessions_so_a_holiday_does_not_age_a_market(
    default_config: Engine,
) -> None:
    """Prices of Wednesday 2026-11-25; Thursday 26 is Thanksgiving (no NYSE session). On Friday,
    the day after the holiday, us_markets has missed no session; lse (XLON traded on Thursday)
    has missed one. A session counts once it is over: the day after it."""
    from hubctl.db import Database
    from hubctl.services.health import group_status

    store_price(default_config, "AAPL", "NASDAQ", dt.date(2026, 11, 25))
    store_price(default_config, "HSBA.L", "LSE", dt.date(2026, 11, 25))
    database = Database(default_config.url.render_as_string(hide_password=False))

    def stale(today: dt.date) -> dict[str, int | None]:
        return {row["group"]: row["stale_sessions"] for row in group_status(database, today=today)}

    day_after_the_holiday = stale(dt.date(2026, 11, 27))
    assert (day_after_the_holiday["us_markets"], day_after_the_holiday["lse"]) == (0, 1)
    assert stale(dt.date(2026, 11, 26))["us_markets"] == 0
    assert stale(dt.date(2026, 11, 30))["us_markets"] == 1  # Friday's session, not the weekend
    assert stale(dt.date(2026, 11, 25))["us_markets"] == 0


def test_doctor_reports_every_problem_and_exits_1(hub: Run) -> None:
    result = hub("doctor", "-o", "json")
    assert result.exit_code == 1
    checks = {row["check"]: row for row in json.loads(result.stdout)}
    assert checks["database"]["ok"] is True
    assert checks["snapshot"]["ok"] is False and "none usable" in checks["snapshot"]["detail"]
    assert checks["airflow"]["ok"] is False and "no Airflow API" in checks["airflow"]["detail"]
    assert "Error: not healthy: snapshot, airflow" in result.stderr


def test_doctor_sees_the_snapshot_once_the_generator_parsed(hub: Run) -> None:
    load_specs()  # what a parse of dags/hub_dags.py does first
    checks = {row["check"]: row for row in json.loads(hub("doctor", "-o", "json").stdout)}
    assert checks["snapshot"]["ok"] is True and "12 jobs" in checks["snapshot"]["detail"]
    stale = {
        row["check"]: row
        for row in json.loads(hub("doctor", "--max-snapshot-age", "0", "-o", "json").stdout)
    }
    assert stale["snapshot"]["ok"] is False


def test_doctor_notices_a_database_behind_the_migrations(hub: Run, engine: Engine) -> None:
    migrations.downgrade(engine, "0002")
    checks = {row["check"]: row for row in json.loads(hub("doctor", "-o", "json").stdout)}
    assert checks["database"]["ok"] is False and "hubctl db upgrade" in checks["database"]["detail"]


def test_doctor_names_every_enabled_row_that_produces_no_dag(
    hub: Run, default_config: Engine
) -> None:
    """Rows raw SQL can store but the generator rejects: each is named with its reason."""
    with default_config.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO hub.dag_configuration (dag_name, job_name) VALUES ('mining', 'gold')"
        ))  # fmt: skip
        for job, params in (
            ("us_markets", '{"source": "sample", "colour": "blue"}'),
            ("lse", '{"source": "sample", "lookback_days": "many"}'),
        ):
            conn.execute(
                sa.text(
                    "UPDATE hub.dag_configuration SET params = CAST(:p AS jsonb)"
                    " WHERE dag_name = 'data_collection_equities' AND job_name = :j"
                ),
                {"p": params, "j": job},
            )
    result = hub("doctor", "-o", "json")
    assert result.exit_code == 1
    checks = {row["check"]: row for row in json.loads(result.stdout)}
    assert checks["jobs"] == {
        "check": "jobs", "ok": False, "detail": "3 enabled job(s) produce no DAG"
    }  # fmt: skip
    named = {name: row["detail"] for name, row in checks.items() if name.startswith("job ")}
    assert set(named) == {
        "job mining__gold",
        "job data_collection_equities__us_markets",
        "job data_collection_equities__lse",
    }
    assert "mining" in named["job mining__gold"]
    assert "colour" in named["job data_collection_equities__us_markets"]
    assert "lookback_days" in named["job data_collection_equities__lse"]
    assert "Error: not healthy: snapshot, jobs, job data_collection_" in result.stderr


def test_doctor_names_jobs_whose_timezone_zoneinfo_does_not_know(
    hub: Run, default_config: Engine
) -> None:
    """A timezone the server accepts but zoneinfo does not (the server's tzdata differs; here its
    CHECK is dropped to stand for a server that knows a name this machine's zoneinfo lacks)."""
    with default_config.begin() as conn:
        conn.execute(sa.text(
            "ALTER TABLE hub.exchange_groups"
            " DROP CONSTRAINT ck_exchange_groups_primary_timezone_iana;"
            " UPDATE hub.exchange_groups SET primary_timezone = 'Mars/Olympus'"
            " WHERE group_name = 'lse'"
        ))  # fmt: skip
    checks = {row["check"]: row for row in json.loads(hub("doctor", "-o", "json").stdout)}
    for job in ("data_collection_equities__lse", "historical_load_equities__lse"):
        assert checks[f"job {job}"]["ok"] is False
        assert "Mars/Olympus" in checks[f"job {job}"]["detail"]
    assert checks["jobs"]["detail"] == "2 enabled job(s) produce no DAG"


def test_doctor_warns_when_hubctl_connects_as_a_superuser_or_the_owner(
    hub: Run, engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test fixtures connect as the superuser: doctor warns, and does not fail over it."""
    result = hub("doctor", "-o", "json")
    checks = {row["check"]: row for row in json.loads(result.stdout)}
    assert checks["login"]["ok"] is False and "a superuser" in checks["login"]["detail"]
    assert "Warning: login: hubctl connects as" in result.stderr
    assert "Error: not healthy: snapshot, airflow" in result.stderr  # a warning, not a failure

    operator = f"doctor_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE ROLE {operator} LOGIN IN ROLE hub_operator"))
    try:
        url = make_url(db_url).set(username=operator).render_as_string(hide_password=False)
        monkeypatch.setenv("HUB_DATABASE_URL", url)
        get_settings.cache_clear()
        checks = {row["check"]: row for row in json.loads(hub("doctor", "-o", "json").stdout)}
        assert checks["login"]["ok"] is True and checks["database"]["ok"] is True
    finally:
        get_settings.cache_clear()
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP OWNED BY {operator}; DROP ROLE {operator}"))
