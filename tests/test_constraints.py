"""Every rule pydantic checks is also enforced by the database, so raw SQL cannot store a bad row."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from hubctl import schemas, tables

GROUP = {
    "group_name": "us_markets",
    "display_name": "US",
    "exchanges": ["NYSE"],
    "primary_timezone": "America/New_York",
    "calendar": "XNYS",
}
JOB = {"dag_name": "data_collection_equities", "job_name": "us_markets"}
TICKER = {"ticker": "AAPL", "exchange": "NASDAQ"}

BAD_ROWS = [
    ("exchange_groups", {"group_name": "US Markets"}, "ck_exchange_groups_group_name_slug"),
    ("exchange_groups", {"group_name": "1abc"}, "ck_exchange_groups_group_name_slug"),
    ("exchange_groups", {"display_name": "  "}, "ck_exchange_groups_display_name_length"),
    ("exchange_groups", {"exchanges": []}, "ck_exchange_groups_exchanges_codes"),
    ("exchange_groups", {"exchanges": ["nyse"]}, "ck_exchange_groups_exchanges_codes"),
    ("exchange_groups", {"exchanges": ["NYSE", None]}, "ck_exchange_groups_exchanges_codes"),
    ("exchange_groups", {"primary_timezone": "Mars/Olympus"}, "ck_exchange_groups_primary_timezone_iana"),
    ("exchange_groups", {"market_open": "17:00", "market_close": "09:00"}, "ck_exchange_groups_market_hours"),
    ("exchange_groups", {"priority": 0}, "ck_exchange_groups_priority_range"),
    ("exchange_groups", {"priority": 11}, "ck_exchange_groups_priority_range"),
    ("exchange_groups", {"calendar": "xnys"}, "ck_exchange_groups_calendar"),
    ("exchange_groups", {"calendar": "24/7"}, "ck_exchange_groups_calendar"),
    ("exchange_groups", {"calendar": "Weekday"}, "ck_exchange_groups_calendar"),
    ("dag_configuration", {"dag_name": "Bad-Name"}, "ck_dag_configuration_dag_name_slug"),
    ("dag_configuration", {"job_name": "x; DROP TABLE hub.audit_log"}, "ck_dag_configuration_job_name_slug"),
    ("dag_configuration", {"cpu_request": "lots"}, "ck_dag_configuration_cpu_request_quantity"),
    ("dag_configuration", {"cpu_limit": "0m"}, "ck_dag_configuration_cpu_limit_quantity"),
    ("dag_configuration", {"memory_request": "1GB"}, "ck_dag_configuration_memory_request_quantity"),
    ("dag_configuration", {"memory_limit": "-2Gi"}, "ck_dag_configuration_memory_limit_quantity"),
    ("dag_configuration", {"cpu_request": "3", "cpu_limit": "2000m"}, "ck_dag_configuration_cpu_request_le_limit"),
    ("dag_configuration", {"memory_request": "4Gi", "memory_limit": "512Mi"}, "ck_dag_configuration_memory_request_le_limit"),
    ("dag_configuration", {"batch_size": 0}, "ck_dag_configuration_batch_size_positive"),
    ("dag_configuration", {"timeout_seconds": -1}, "ck_dag_configuration_timeout_seconds_positive"),
    ("dag_configuration", {"max_retries": -1}, "ck_dag_configuration_max_retries_non_negative"),
    ("dag_configuration", {"retry_delay_minutes": -5}, "ck_dag_configuration_retry_delay_minutes_non_negative"),
    ("dag_configuration", {"max_active_tasks": 0}, "ck_dag_configuration_max_active_tasks_positive"),
    ("dag_configuration", {"priority": 42}, "ck_dag_configuration_priority_range"),
    ("dag_configuration", {"schedule": "61 * * * *"}, "ck_dag_configuration_schedule_valid"),
    ("dag_configuration", {"schedule": "0 18 * * FUNDAY"}, "ck_dag_configuration_schedule_valid"),
    ("dag_configuration", {"schedule": "@sometimes"}, "ck_dag_configuration_schedule_valid"),
    ("dag_configuration", {"schedule": "@after_close"}, "ck_dag_configuration_after_close_group"),
    ("dag_configuration", {"params": "[1, 2]"}, "ck_dag_configuration_params_object"),
    ("dag_configuration", {"queue": "EU workers"}, "ck_dag_configuration_queue_slug"),
    ("dag_configuration", {"queue": ""}, "ck_dag_configuration_queue_slug"),
    ("exchange_groups", {"data_late_minutes": 0}, "ck_exchange_groups_data_late_minutes_valid"),
    ("exchange_groups", {"data_late_minutes": 10081}, "ck_exchange_groups_data_late_minutes_valid"),
    ("exchange_groups", {"unreachable_fetches": -3}, "ck_exchange_groups_unreachable_fetches_valid"),
    ("exchange_groups", {"silences": '{"failure_rate": "2026-12-08T09:00:00Z"}'}, "ck_exchange_groups_silences_valid"),
    ("exchange_groups", {"silences": '{"data_late": "2026-12-08T09:00:00"}'}, "ck_exchange_groups_silences_valid"),
    ("exchange_groups", {"silences": '["data_late"]'}, "ck_exchange_groups_silences_valid"),
    ("dag_configuration", {"failure_rate_percent": 0}, "ck_dag_configuration_failure_rate_percent_valid"),
    ("dag_configuration", {"failure_rate_percent": 101}, "ck_dag_configuration_failure_rate_percent_valid"),
    ("dag_configuration", {"failure_rate_runs": 1001}, "ck_dag_configuration_failure_rate_runs_valid"),
    ("dag_configuration", {"task_minutes": -30}, "ck_dag_configuration_task_minutes_valid"),
    ("dag_configuration", {"silences": '{"data_late": "2026-12-08T09:00:00Z"}'}, "ck_dag_configuration_silences_valid"),
    ("dag_configuration", {"silences": '{"task_duration": "2026-13-08T09:00:00Z"}'}, "ck_dag_configuration_silences_valid"),
    ("dag_configuration", {"silences": '{"task_duration": 5}'}, "ck_dag_configuration_silences_valid"),
    ("tickers", {"ticker": "aapl"}, "ck_tickers_ticker_symbol"),
    ("tickers", {"exchange": "Nasdaq"}, "ck_tickers_exchange_code"),
    ("tickers", {"groupings": ["S&P 500"]}, "ck_tickers_groupings_slugs"),
]  # fmt: skip

BASE_ROWS = {"exchange_groups": GROUP, "dag_configuration": JOB, "tickers": TICKER}
JSONB_COLUMNS = {"params", "silences"}


def insert(conn: sa.Connection, table: str, row: dict[str, Any]) -> None:
    columns = ", ".join(row)
    values = ", ".join(
        f"CAST(:{name} AS jsonb)" if name in JSONB_COLUMNS else f":{name}" for name in row
    )
    conn.execute(sa.text(f"INSERT INTO hub.{table} ({columns}) VALUES ({values})"), row)


@pytest.mark.parametrize(("table", "override", "constraint"), BAD_ROWS)
def test_check_rejects_bad_row_with_named_constraint(
    engine: sa.Engine, table: str, override: dict[str, Any], constraint: str
) -> None:
    with pytest.raises(IntegrityError) as raised, engine.begin() as conn:
        insert(conn, table, {**BASE_ROWS[table], **override})
    assert raised.value.orig.diag.constraint_name == constraint  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("schedule", "accepted"),
    [("@after_close", True), ("@after_close+90m", True), ("@after_close+1439m", True),
     ("@after_close+1440m", False), ("@after_close+5h", False), ("@after_close 90m", False)],
)  # fmt: skip
def test_after_close_schedules_agree(engine: sa.Engine, schedule: str, accepted: bool) -> None:
    """`@after_close[+Nm]` (hubctl.timetables) of a job with a group: pydantic and the CHECK."""
    assert tables.is_valid_schedule(schedule) is accepted
    job = {**JOB, "exchange_group": GROUP["group_name"], "schedule": schedule}
    with engine.begin() as conn:
        insert(conn, "exchange_groups", GROUP)
        try:
            with conn.begin_nested():
                insert(conn, "dag_configuration", job)
        except IntegrityError as error:
            assert error.orig.diag.constraint_name == "ck_dag_configuration_schedule_valid"  # type: ignore[union-attr]
            assert not accepted
        else:
            assert accepted
        conn.rollback()


@pytest.mark.parametrize("table", sorted(BASE_ROWS))
def test_good_row_is_accepted(engine: sa.Engine, table: str) -> None:
    with engine.begin() as conn:
        insert(conn, table, BASE_ROWS[table])
        assert conn.execute(sa.text(f"SELECT count(*) FROM hub.{table}")).scalar() == 1


@pytest.mark.parametrize(
    "schedule",
    ["30 17 * * 1-5", "*/15 * * * *", "0 18 * * MON-FRI", "0 0 1 JAN,JUL *", "5,35 9-16/2 * * *",
     "@daily", "@continuous", "0 0 * * 7"],
)  # fmt: skip
def test_database_and_pydantic_accept_the_same_schedules(engine: sa.Engine, schedule: str) -> None:
    assert tables.is_valid_schedule(schedule)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT hub.is_valid_schedule(:s)"), {"s": schedule}).scalar()


@pytest.mark.parametrize(
    "schedule",
    ["61 * * * *", "* * * *", "0 24 * * *", "0 0 0 * *", "0 0 * 13 *", "*/0 * * * *", "5-1 * * * *",
     "0 18 * * FUNDAY", "@sometimes", "", "0 0 * * 8"],
)  # fmt: skip
def test_database_and_pydantic_reject_the_same_schedules(engine: sa.Engine, schedule: str) -> None:
    assert not tables.is_valid_schedule(schedule)
    with engine.connect() as conn:
        assert not conn.execute(
            sa.text("SELECT hub.is_valid_schedule(:s)"), {"s": schedule}
        ).scalar()


@pytest.mark.parametrize(
    ("quantity", "millicores"), [("500m", 500), ("2", 2000), ("1.5", 1500), ("0.25", 250)]
)
def test_cpu_quantities_agree(engine: sa.Engine, quantity: str, millicores: int) -> None:
    assert tables.cpu_millicores(quantity) == millicores
    with engine.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT hub.cpu_millicores(:q)"), {"q": quantity}).scalar()
            == millicores
        )


@pytest.mark.parametrize(
    ("quantity", "size"),
    [("512Mi", 512 * 2**20), ("1Gi", 2**30), ("1G", 10**9), ("1000", 1000), ("1.5Gi", 1.5 * 2**30)],
)
def test_memory_quantities_agree(engine: sa.Engine, quantity: str, size: float) -> None:
    assert tables.memory_bytes(quantity) == size
    with engine.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT hub.memory_bytes(:q)"), {"q": quantity}).scalar() == size
        )


@pytest.mark.parametrize("quantity", ["1GB", "-1Gi", "Gi", "1.5.2", "1 Gi", "2m"])
def test_bad_memory_quantities_rejected_by_both(engine: sa.Engine, quantity: str) -> None:
    assert tables.memory_bytes(quantity) is None
    with engine.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT hub.memory_bytes(:q)"), {"q": quantity}).scalar() is None
        )


def test_pydantic_rejects_what_the_database_rejects() -> None:
    problems = [
        (schemas.JobSpec, {**JOB, "cpu_request": "3", "cpu_limit": "2000m"}, "cpu_request"),
        (schemas.JobSpec, {**JOB, "memory_request": "4Gi", "memory_limit": "1Gi"}, "memory_request"),
        (schemas.JobSpec, {**JOB, "batch_size": 0}, "batch_size"),
        (schemas.JobSpec, {**JOB, "schedule": "61 * * * *"}, "schedule"),
        (schemas.JobSpec, {**JOB, "schedule": "@after_close+1440m"}, "schedule"),
        (schemas.JobSpec, {**JOB, "schedule": "@after_close"}, "schedule"),
        (schemas.ExchangeGroupSpec, {**GROUP, "calendar": "24/7"}, "calendar"),
        (schemas.ExchangeGroupSpec, {**GROUP, "primary_timezone": "Mars/Olympus"}, "primary_timezone"),
        (schemas.ExchangeGroupSpec, {**GROUP, "exchanges": []}, "exchanges"),
        (schemas.ExchangeGroupSpec, {**GROUP, "market_open": "17:00", "market_close": "09:00"}, "market_open"),
        (schemas.TickerSpec, {**TICKER, "ticker": "aapl"}, "ticker"),
    ]  # fmt: skip
    for model, data, field in problems:
        with pytest.raises(ValueError, match=field):
            model.model_validate(data)


@pytest.mark.parametrize(
    ("exchanges", "calendar"),
    [(["NYSE", "NASDAQ"], "XNYS"), (["LSE"], "XLON"), (["XETRA"], "XETR")],
)
def test_a_sql_insert_without_a_calendar_gets_the_one_its_exchanges_map_to(
    engine: sa.Engine, exchanges: list[str], calendar: str
) -> None:
    row = {key: value for key, value in GROUP.items() if key != "calendar"}
    with engine.begin() as conn:
        insert(conn, "exchange_groups", {**row, "group_name": "sqlgroup", "exchanges": exchanges})
        stored = conn.execute(
            sa.text("SELECT calendar FROM hub.exchange_groups WHERE group_name = 'sqlgroup'")
        ).scalar_one()
        conn.execute(sa.text("DELETE FROM hub.exchange_groups WHERE group_name = 'sqlgroup'"))
    assert stored == calendar


def test_a_sql_insert_of_an_ambiguous_group_without_a_calendar_is_refused(
    engine: sa.Engine,
) -> None:
    row = {key: value for key, value in GROUP.items() if key != "calendar"}
    refused = pytest.raises(IntegrityError, match="calendar: exchanges EURONEXT have no single")
    with refused, engine.begin() as conn:
        insert(conn, "exchange_groups", {**row, "group_name": "paris", "exchanges": ["EURONEXT"]})
    with engine.connect() as conn:
        found = conn.execute(
            sa.text("SELECT count(*) FROM hub.exchange_groups WHERE group_name = 'paris'")
        )
        assert found.scalar_one() == 0


@pytest.mark.parametrize(
    ("until", "accepted"),
    [("2026-12-08T09:00:00Z", True), ("2026-12-08T09:00Z", True), ("2026-12-08T09:00:00.5+01:00", True),
     ("2026-12-08T09:00:00", False), ("2026-12-08 09:00:00Z", False), ("2026-02-30T09:00:00Z", False),
     ("2026-12-08T25:00:00Z", False), ("tomorrow", False), ("", False)],
)  # fmt: skip
def test_silence_times_agree(engine: sa.Engine, until: str, accepted: bool) -> None:
    """A silence lasts until an ISO 8601 time with a zone: pydantic and the CHECK agree."""
    assert (tables.silence_until(until) is not None) is accepted
    with engine.connect() as conn:
        found = conn.execute(
            sa.text("SELECT hub.silences_valid(CAST(:s AS jsonb), ARRAY['data_late'])"),
            {"s": json.dumps({"data_late": until})},
        ).scalar()
    assert found is accepted
