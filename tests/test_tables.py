"""The one description per control table, and what is derived from it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl import models, schemas, tables
from hubctl.tables import GROUPS, JOBS, TICKERS, ControlTable

ALL = [GROUPS, JOBS, TICKERS]
# The fields a row cannot be created without, per table.
REQUIRED = {
    GROUPS.name: {"group_name": "tse", "display_name": "Tokyo", "exchanges": ["TSE"],
                  "primary_timezone": "Asia/Tokyo"},
    JOBS.name: {"dag_name": "a_dag", "job_name": "a_job"},
    TICKERS.name: {"ticker": "AAPL", "exchange": "NASDAQ"},
}  # fmt: skip
# Derived fields: null asks the write rule for a value (hubctl.services.rules.group_calendar); the
# column is NOT NULL without a default, so a raw INSERT names one.
DERIVED = {GROUPS.name: {"calendar": "XTKS"}}


@pytest.mark.parametrize("table", ALL, ids=lambda table: table.name)
def test_the_models_have_exactly_the_described_fields(table: ControlTable) -> None:
    assert table.spec_fields == tuple(table.spec.model_fields)
    assert table.columns == tuple(table.record.model_fields)
    assert tuple(schemas.Bookkeeping.model_fields) == tables.BOOKKEEPING
    assert set(table.columns) == set(models.Base.metadata.tables[table.qualified_name].c.keys())


@pytest.mark.parametrize("table", ALL, ids=lambda table: table.name)
def test_the_models_take_the_described_defaults(table: ControlTable) -> None:
    spec = table.spec.model_validate(REQUIRED[table.name])
    for field in table.fields:
        if not field.required:
            assert getattr(spec, field.name) == field.default, field.name
    assert {field.name for field in table.fields if field.required} == set(REQUIRED[table.name])


@pytest.mark.parametrize("table", ALL, ids=lambda table: table.name)
def test_the_database_defaults_are_the_described_ones(engine: Engine, table: ControlTable) -> None:
    """Written once in the description; the migration's column defaults must agree."""
    values = {**REQUIRED[table.name], **DERIVED.get(table.name, {})}
    columns = ", ".join(values)
    placeholders = ", ".join(f":{name}" for name in values)
    with engine.begin() as conn:
        row = (
            conn.execute(
                sa.text(
                    f"INSERT INTO {table.qualified_name} ({columns}) VALUES ({placeholders})"
                    " RETURNING *"
                ),
                values,
            )
            .mappings()
            .one()
        )
    described = {
        field.name: field.default
        for field in table.fields
        if not field.required and field.name not in DERIVED.get(table.name, {})
    }
    assert {name: row[name] for name in described} == described


def test_a_knob_is_one_field_everything_else_follows() -> None:
    """queue: declared once; the column list, the YAML section, the help and doc_md see it."""
    from hubctl import configfile
    from hubctl.repository import jobs

    assert "queue" in JOBS.settable_fields and JOBS.field["queue"].nullable
    assert "c.queue" in jobs._SELECT
    assert configfile.SECTIONS["jobs"] is JOBS
    assert "queue: Airflow task queue" in JOBS.field_help()
    assert JOBS.field["queue"].in_doc


def test_field_help_names_every_settable_field_and_its_default() -> None:
    lines = JOBS.field_help().splitlines()
    assert [line.split(":")[0] for line in lines] == list(JOBS.settable_fields)
    assert "batch_size: tickers per mapped task (default 500)" in lines
    assert "enabled: false stops the job's DAG (default true)" in lines
    assert GROUPS.field_help().startswith("display_name: a name for people\n")


@pytest.mark.parametrize(
    ("table", "values", "message"),
    [
        (JOBS, {"queue": "EU workers"}, "queue"),
        (JOBS, {"cpu_request": "3", "cpu_limit": "2"}, "must not exceed cpu_limit"),
        (GROUPS, {"market_open": "17:00"}, "must be before market_close"),
        (TICKERS, {"groupings": ["Bad Tag"]}, "groupings.0"),
        (JOBS, {"failure_rate_percent": 0}, "failure_rate_percent"),
        (JOBS, {"silences": {"data_late": "2026-12-08T09:00:00Z"}}, "not a rule of this table"),
        (
            GROUPS,
            {"silences": {"data_late": "2026-12-08"}},
            "data_late: '2026-12-08' is not an ISO",
        ),
        (GROUPS, {"unreachable_fetches": 1001}, "unreachable_fetches"),
    ],
)
def test_rules_written_once_are_applied_by_pydantic(
    table: ControlTable, values: dict[str, Any], message: str
) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        table.spec.model_validate({**REQUIRED[table.name], **values})


def test_keys_labels_and_json_ready_values() -> None:
    key = JOBS.key_of({"dag_name": "d", "job_name": "j", "batch_size": 1})
    assert key == {"dag_name": "d", "job_name": "j"} and JOBS.label(key) == "d/j"
    moment = dt.datetime(2026, 11, 22, 9, 30, 5, 120, tzinfo=dt.UTC)
    assert tables.json_ready(moment) == "2026-11-22T09:30:05.000120Z"
    assert tables.json_ready(moment.astimezone(dt.timezone(dt.timedelta(hours=1)))).endswith(
        "+01:00"
    )
    assert tables.json_ready(dt.time(16, 30)) == "16:30:00"
    assert tables.json_ready(["a"]) == ["a"]
