"""The builder's pieces, without a database: schedules, pod overrides, the builder contract."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from hubctl import dag_builder
from hubctl.dag_builder import build_dags, schedule_for
from hubctl.specs import DagSpec

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
GROUP = {
    "group_name": "lse", "display_name": "LSE", "exchanges": ["LSE"],
    "primary_timezone": "Europe/London", "market_open": "08:00", "market_close": "16:30",
    "version": 3, "created_at": NOW, "updated_at": NOW, "updated_by": "ana",
}  # fmt: skip


def spec(**overrides: Any) -> DagSpec:
    fields = {
        "dag_name": "data_collection_equities", "job_name": "lse", "exchange_group": "lse",
        "schedule": "@daily", "version": 4, "created_at": NOW, "updated_at": NOW,
        "updated_by": "bob", "group": GROUP,
    }  # fmt: skip
    return DagSpec.model_validate({**fields, **overrides})


def test_presets_are_read_in_the_groups_timezone() -> None:
    timetable: Any = schedule_for("@daily", "Europe/London")
    assert (timetable.expression, str(timetable.timezone)) == ("0 0 * * *", "Europe/London")
    assert schedule_for("@once", "Europe/London") == "@once"
    assert schedule_for(None, "UTC") is None


def test_a_spec_becomes_a_dag_with_its_tags_and_doc() -> None:
    built = build_dags([spec()])
    dag = built.dags["data_collection_equities__lse"]
    assert built.failures == []
    assert dag.tags == {"data_collection_equities", "lse", "yfinance", "equities", "ingestion"}
    assert "version 4" in dag.doc_md and "bob" in dag.doc_md
    assert "Europe/London" in dag.doc_md and "version 3, changed by ana" in dag.doc_md


def test_a_builder_must_return_a_dag_with_the_specs_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dag_builder, "builder_for", lambda dag_name: lambda spec: None)
    built = build_dags([spec()])
    assert built.dags == {}
    [failure] = built.failures
    assert "expected a DAG with id 'data_collection_equities__lse'" in failure.reason
    assert "Traceback" in failure.detail
