"""hubctl status and hubctl doctor against a real database (Airflow's side is in tests/e2e)."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl import migrations
from hubctl.specs import load_specs
from tests.cli.conftest import Run


def store_price(engine: Engine, ticker: str, exchange: str, trade_date: dt.date) -> None:
    with engine.begin() as conn:
        security_id = conn.execute(
            sa.text(
                "INSERT INTO market.securities (ticker, exchange) VALUES (:t, :e) RETURNING security_id"
            ),
            {"t": ticker, "e": exchange},
        ).scalar()
        conn.execute(
            sa.text(
                "INSERT INTO market.ohlcv VALUES (:s, :d, 1, 2, 0.5, 1.5, 1.5, 100, 'sample', now())"
            ),
            {"s": security_id, "d": trade_date},
        )


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
    assert rows["lse"]["stale_business_days"] >= 0
    assert rows["lse"]["last_run"] == "(Airflow API not configured)"
    assert rows["german_markets"]["enabled"] is False and rows["german_markets"]["dags"] == []
    assert rows["us_markets"]["latest_trade_date"] is None


def test_business_days_skip_weekends() -> None:
    from hubctl.services.health import business_days_between

    friday, monday = dt.date(2026, 11, 20), dt.date(2026, 11, 23)
    assert business_days_between(friday, monday) == 1
    assert business_days_between(friday, friday) == 0
    assert business_days_between(dt.date(2026, 11, 13), friday) == 5


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
    assert checks["snapshot"]["ok"] is True and "10 jobs" in checks["snapshot"]["detail"]
    stale = {
        row["check"]: row
        for row in json.loads(hub("doctor", "--max-snapshot-age", "0", "-o", "json").stdout)
    }
    assert stale["snapshot"]["ok"] is False


def test_doctor_notices_a_database_behind_the_migrations(hub: Run, engine: Engine) -> None:
    migrations.downgrade(engine, "0002")
    checks = {row["check"]: row for row in json.loads(hub("doctor", "-o", "json").stdout)}
    assert checks["database"]["ok"] is False and "hubctl db upgrade" in checks["database"]["detail"]
