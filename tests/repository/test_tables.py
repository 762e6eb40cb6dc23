"""The shared row operations of hubctl.repository.tables, on the real tables."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl import models, schemas
from hubctl.db import audited_transaction
from hubctl.repository import config as job_rows
from hubctl.repository import groups as group_rows
from hubctl.repository import tables
from hubctl.repository import tickers as ticker_rows
from hubctl.repository.tables import GROUPS, JOBS, TICKERS

TSE = {
    "group_name": "tse",
    "display_name": "Tokyo",
    "exchanges": ["TSE"],
    "primary_timezone": "Asia/Tokyo",
}


def test_insert_select_update_delete(engine: Engine) -> None:
    with audited_transaction(engine, actor="t") as conn:
        created = tables.insert_record(conn, table=GROUPS, values=TSE)
        assert (created.version, created.updated_by, created.priority) == (1, "t", 5)
        changed = tables.update_record(
            conn, table=GROUPS, key={"group_name": "tse"}, values={"priority": 9}
        )
        assert changed is not None and (changed.priority, changed.version) == (9, 2)
        same = tables.update_record(
            conn, table=GROUPS, key={"group_name": "tse"}, values={"priority": 9}
        )
        assert same is not None and same.version == 2  # a no-op keeps the version
        assert tables.update_record(conn, table=GROUPS, key={"group_name": "x"}, values={}) is None
        assert tables.delete_record(conn, table=GROUPS, key={"group_name": "tse"})
        assert tables.select_record(conn, table=GROUPS, key={"group_name": "tse"}) is None


def test_labels_keys_and_dicts(default_config: Engine) -> None:
    with default_config.connect() as conn:
        job = tables.select_record(
            conn, table=JOBS, key={"dag_name": "calculate_indicators", "job_name": "all"}
        )
    assert job is not None
    assert JOBS.label(JOBS.key_of(job)) == "calculate_indicators/all"
    shown = JOBS.as_dict(job.model_dump())
    assert list(shown)[:2] == ["dag_name", "job_name"]
    assert list(shown)[-4:] == ["version", "created_at", "updated_at", "updated_by"]
    assert shown == job.model_dump(mode="json")  # as pydantic shows it
    assert "dag_name" not in JOBS.settable_fields and "params" in JOBS.settable_fields


def test_domain_queries(default_config: Engine) -> None:
    with default_config.connect() as conn:
        assert [g["group_name"] for g in group_rows.list_groups(conn, enabled=True)][:2] == [
            "european_markets",
            "german_markets",
        ]
        assert group_rows.jobs_using(conn, group_name="lse") == [
            "data_collection_equities/lse",
            "historical_load_equities/lse",
        ]
        assert len(job_rows.list_jobs(conn, dag_name="calculate_indicators")) == 1
        assert len(job_rows.list_jobs(conn, group="us_markets", enabled=True)) == 2
        assert len(ticker_rows.list_tickers(conn, exchanges=["NYSE", "NASDAQ"])) == 10
        assert len(ticker_rows.list_tickers(conn)) == 28


def test_lock_tables_holds_other_writers_until_commit(default_config: Engine) -> None:
    finished: list[float] = []

    def other_writer() -> None:
        with audited_transaction(default_config, actor="other") as conn:
            conn.execute(sa.text("UPDATE hub.tickers SET enabled = false WHERE ticker = 'AAPL'"))
        finished.append(time.monotonic())

    with audited_transaction(default_config, actor="locker") as conn:
        tables.lock_tables(conn, tables=[TICKERS])
        thread = threading.Thread(target=other_writer)
        thread.start()
        time.sleep(0.3)
        released = time.monotonic()
    thread.join()
    assert finished and finished[0] >= released


@pytest.mark.parametrize("table", [GROUPS, JOBS, TICKERS])
def test_the_named_fields_match_the_schemas(table: tables.ControlTable[object]) -> None:
    assert table.spec_fields == tuple(table.spec.model_fields)
    assert set(table.columns) == set(table.record.model_fields)
    assert tuple(schemas.Bookkeeping.model_fields) == tables.BOOKKEEPING


def test_json_ready_values_are_what_pydantic_would_show() -> None:
    moment = dt.datetime(2026, 11, 22, 9, 30, 5, 120, tzinfo=dt.UTC)
    assert tables.json_ready(moment) == "2026-11-22T09:30:05.000120Z"
    assert tables.json_ready(moment.astimezone(dt.timezone(dt.timedelta(hours=1)))).endswith(
        "+01:00"
    )
    assert tables.json_ready(dt.time(16, 30)) == "16:30:00"
    assert tables.json_ready(["a"]) == ["a"]


@pytest.mark.parametrize(
    ("table", "model"),
    [(GROUPS, models.ExchangeGroup), (JOBS, models.DagConfiguration), (TICKERS, models.Ticker)],
)
def test_the_light_tables_match_the_models(
    table: tables.ControlTable[object], model: type[models.Base]
) -> None:
    assert set(table.columns) == set(model.__table__.c.keys())
    assert table.key == tuple(column.name for column in model.__table__.primary_key)


def test_the_audit_columns_match_the_model() -> None:
    from hubctl.repository.audit import AUDIT

    assert list(AUDIT.c.keys()) == list(models.AuditLog.__table__.c.keys())
