"""The builder's pieces, without a database: schedules, pod overrides, the builder contract."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from hubctl import dag_builder
from hubctl.dag_builder import build_dags, executor_config, schedule_for
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


@pytest.fixture
def fake_kubernetes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """kubernetes.client.models whose classes record their arguments."""

    def model(name: str) -> Any:
        return lambda **fields: {"model": name, **fields}

    models = ModuleType("kubernetes.client.models")
    for name in ("V1Pod", "V1PodSpec", "V1Container", "V1ResourceRequirements"):
        setattr(models, name, model(name))
    client = ModuleType("kubernetes.client")
    client.models = models  # type: ignore[attr-defined]
    for module in (ModuleType("kubernetes"), client, models):
        monkeypatch.setitem(sys.modules, module.__name__, module)
    dag_builder._kubernetes_models.cache_clear()
    dag_builder._pod_override.cache_clear()
    yield
    dag_builder._kubernetes_models.cache_clear()
    dag_builder._pod_override.cache_clear()


def test_pod_override_uses_kubernetes_models_when_installed(fake_kubernetes: None) -> None:
    pod = executor_config("250m", "1", "256Mi", "512Mi")["pod_override"]
    assert pod["model"] == "V1Pod"
    [container] = pod["spec"]["containers"]
    assert (container["model"], container["name"]) == ("V1Container", "base")
    assert container["resources"] == {
        "model": "V1ResourceRequirements",
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }
    assert executor_config("250m", "1", "256Mi", "512Mi")["pod_override"] is pod  # built once
