"""The shared row operations of hubctl.repository.rows, on the real tables."""

from __future__ import annotations

import threading
import time

from sqlalchemy.engine import Engine

from hubctl.author import Author
from hubctl.db import Database, audited_transaction
from hubctl.repository import config as job_rows
from hubctl.repository import groups as group_rows
from hubctl.repository import rows
from hubctl.repository import tickers as ticker_rows
from hubctl.tables import GROUPS, JOBS, TICKERS
from tests.support.configuration import TSE_ROW
from tests.support.databases import database_of


def test_insert_select_update_delete(database: Database) -> None:
    with audited_transaction(database, author=Author("t")) as conn:
        created = rows.insert_row(conn, table=GROUPS, values=TSE_ROW)
        assert (created["version"], created["updated_by"], created["priority"]) == (1, "t", 5)
        changed = rows.update_row(
            conn, table=GROUPS, key={"group_name": "tse"}, values={"priority": 9}
        )
        assert changed is not None and (changed["priority"], changed["version"]) == (9, 2)
        same = rows.update_row(
            conn, table=GROUPS, key={"group_name": "tse"}, values={"priority": 9}
        )
        assert same is not None and same["version"] == 2  # a no-op keeps the version
        assert rows.update_row(conn, table=GROUPS, key={"group_name": "x"}, values={}) is None
        assert rows.delete_row(conn, table=GROUPS, key={"group_name": "tse"})
        assert rows.select_rows(conn, table=GROUPS, where={"group_name": "tse"}) == []


def test_labels_keys_and_dicts(default_config: Engine) -> None:
    from hubctl import schemas

    with database_of(default_config).connect() as conn:
        (row,) = rows.select_rows(
            conn, table=JOBS, where={"dag_name": "calculate_indicators", "job_name": "all"}
        )
    job = schemas.JobRecord.model_validate(row)
    assert JOBS.label(JOBS.key_of(job)) == "calculate_indicators/all"
    shown = JOBS.as_dict(row)
    assert list(shown)[:2] == ["dag_name", "job_name"]
    assert list(shown)[-4:] == ["version", "created_at", "updated_at", "updated_by"]
    assert shown == job.model_dump(mode="json")  # as pydantic shows it
    assert "dag_name" not in JOBS.settable_fields and "params" in JOBS.settable_fields


def test_domain_queries(default_config: Engine) -> None:
    with database_of(default_config).connect() as conn:
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

    database = database_of(default_config)

    def other_writer() -> None:
        with audited_transaction(database, author=Author("other")) as conn:
            rows.fetch(conn, "UPDATE hub.tickers SET enabled = false WHERE ticker = 'AAPL'")
        finished.append(time.monotonic())

    with audited_transaction(database, author=Author("locker")) as conn:
        rows.lock_tables(conn, tables=[TICKERS])
        thread = threading.Thread(target=other_writer)
        thread.start()
        time.sleep(0.3)
        released = time.monotonic()
    thread.join()
    assert finished and finished[0] >= released


def test_reading_as_of_is_a_property_of_one_connection(database: Database) -> None:
    """`--at` rides on the connection: another connection, and this one after the block, read
    the live table."""
    moment = {"exchange_groups": [{**TSE_ROW, "priority": 5, "version": 3, "enabled": True}]}
    with database.connect() as conn, database.connect() as other:
        with rows.reading_as_of(conn, moment):
            [then] = rows.select_rows(conn, table=GROUPS)
            assert (then["group_name"], then["version"]) == ("tse", 3)
            assert rows.select_rows(other, table=GROUPS) == []
            assert rows.select_rows(conn, table=JOBS) == []
        assert rows.select_rows(conn, table=GROUPS) == []
