"""The DAG file under a real Airflow DagBag, against a real PostgreSQL."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from tests.support.cli import audit_rows, hubctl, snapshot
from tests.support.configuration import DEFAULT_DAG_IDS, execute

LSE_DAGS = {"data_collection_equities__lse", "historical_load_equities__lse"}


def test_default_configuration_builds_exactly_the_expected_dags(parse: Callable[[], Any]) -> None:
    bag = parse()
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == DEFAULT_DAG_IDS


def test_disabling_a_group_removes_exactly_its_dags_and_enabling_restores_them(
    configured_hub: Engine, parse: Callable[[], Any]
) -> None:
    execute(
        configured_hub, "UPDATE hub.exchange_groups SET enabled = false WHERE group_name = 'lse'"
    )
    assert set(parse().dag_ids) == DEFAULT_DAG_IDS - LSE_DAGS
    execute(
        configured_hub, "UPDATE hub.exchange_groups SET enabled = true WHERE group_name = 'lse'"
    )
    assert set(parse().dag_ids) == DEFAULT_DAG_IDS


def test_disabling_one_job_removes_exactly_one_dag_and_enabling_restores_it(
    configured_hub: Engine, parse: Callable[[], Any]
) -> None:
    job = "dag_name = 'historical_load_equities' AND job_name = 'us_markets'"
    execute(configured_hub, f"UPDATE hub.dag_configuration SET enabled = false WHERE {job}")
    assert set(parse().dag_ids) == DEFAULT_DAG_IDS - {"historical_load_equities__us_markets"}
    execute(configured_hub, f"UPDATE hub.dag_configuration SET enabled = true WHERE {job}")
    assert set(parse().dag_ids) == DEFAULT_DAG_IDS


def test_database_down_builds_the_same_dags_from_the_snapshot(
    parse: Callable[[], Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from airflow.configuration import conf

    assert set(parse().dag_ids) == DEFAULT_DAG_IDS  # writes the snapshot
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql+psycopg2://nobody@127.0.0.1:1/hub")
    caplog.set_level(logging.WARNING, logger="hubctl")
    started = time.perf_counter()
    bag = parse()
    elapsed = time.perf_counter() - started

    assert bag.import_errors == {}
    assert set(bag.dag_ids) == DEFAULT_DAG_IDS
    warnings = [r.getMessage() for r in caplog.records if r.name == "hubctl.specs"]
    assert len(warnings) == 1
    assert "snapshot" in warnings[0] and "old" in warnings[0]
    assert elapsed < conf.getfloat("core", "dagbag_import_timeout")


def test_no_database_and_no_snapshot_is_one_clear_import_error(
    parse: Callable[[], Any], database_down: None
) -> None:
    bag = parse()
    assert bag.dag_ids == []
    [(path, error)] = bag.import_errors.items()
    assert path.endswith("hub_dags.py")
    assert "configuration database is unreachable" in error
    assert "no usable snapshot" in error


def test_a_row_that_bypassed_validation_costs_only_its_own_dag(
    configured_hub: Engine,
    parse: Callable[[], Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    execute(
        configured_hub,
        "ALTER TABLE hub.dag_configuration DROP CONSTRAINT ck_dag_configuration_schedule_valid;"
        " UPDATE hub.dag_configuration SET schedule = '61 25 * * *'"
        " WHERE dag_name = 'data_collection_equities' AND job_name = 'lse'",
    )
    caplog.set_level(logging.ERROR, logger="hubctl")
    bag = parse()
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == DEFAULT_DAG_IDS - {"data_collection_equities__lse"}
    [logged] = [r.getMessage() for r in caplog.records if r.name == "hubctl.dag_builder"]
    assert "data_collection_equities__lse" in logged and "schedule" in logged

    monkeypatch.setenv("HUB_STRICT", "1")
    strict = parse()
    [error] = strict.import_errors.values()
    assert "HUB_STRICT=1" in error and "data_collection_equities__lse" in error


def test_an_unknown_pipeline_is_skipped_with_its_reason(
    configured_hub: Engine, parse: Callable[[], Any], caplog: pytest.LogCaptureFixture
) -> None:
    execute(
        configured_hub,
        "INSERT INTO hub.dag_configuration (dag_name, job_name) VALUES ('nope', 'x')",
    )
    caplog.set_level(logging.ERROR, logger="hubctl")
    assert set(parse().dag_ids) == DEFAULT_DAG_IDS
    assert any(
        "nope__x" in r.getMessage() and "unknown pipeline" in r.getMessage() for r in caplog.records
    )


def test_a_builder_that_raises_costs_only_its_own_dag(
    parse: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hubctl import dag_builder

    real = dag_builder.builder_for

    def broken_for_lse(dag_name: str) -> Callable[[Any], Any]:
        def build(spec: Any) -> Any:
            if spec.job_name == "lse":
                raise RuntimeError("boom")
            return real(dag_name)(spec)

        return build

    monkeypatch.setattr(dag_builder, "builder_for", broken_for_lse)
    bag = parse()
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == DEFAULT_DAG_IDS - LSE_DAGS


def test_a_worker_parse_reads_and_builds_only_its_dag(
    configured_hub: Engine, parse: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hubctl import dag_builder, specs

    execute(
        configured_hub,
        "INSERT INTO hub.dag_configuration (dag_name, job_name)"
        " SELECT 'calculate_indicators', 'extra_' || n FROM generate_series(1, 300) AS n",
    )
    fetched: list[int] = []
    built: list[str] = []
    real_read, real_builder_for = specs.read_enabled_jobs, dag_builder.builder_for

    def counting_read(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        rows = real_read(*args, **kwargs)
        fetched.append(len(rows))
        return rows

    def counting_builder_for(dag_name: str) -> Callable[[Any], Any]:
        def build(spec: Any) -> Any:
            built.append(spec.dag_id)
            return real_builder_for(dag_name)(spec)

        return build

    monkeypatch.setattr(specs, "read_enabled_jobs", counting_read)
    monkeypatch.setattr(dag_builder, "builder_for", counting_builder_for)
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "data_collection_equities__lse")

    bag = parse()
    assert bag.dag_ids == ["data_collection_equities__lse"]
    assert fetched == [1]
    assert built == ["data_collection_equities__lse"]


def test_the_knobs_land_on_every_task(
    configured_hub: Engine, parse: Callable[[], Any], kubernetes_executor: str
) -> None:
    import datetime as dt

    from airflow.serialization.serialized_objects import DagSerialization

    from hubctl.memory_limit import MemoryLimit

    execute(
        configured_hub,
        "UPDATE hub.dag_configuration SET max_retries = 7, retry_delay_minutes = 2,"
        " timeout_seconds = 900, priority = 9, max_active_tasks = 4, cpu_request = '250m',"
        " cpu_limit = '1', memory_request = '256Mi', memory_limit = '512Mi',"
        ' params = params || \'{"pool": "market_data"}\''
        " WHERE dag_name = 'data_collection_equities' AND job_name = 'us_markets'",
    )
    dag = parse().dags["data_collection_equities__us_markets"]
    resources = {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    }
    assert dag.max_active_tasks == 4
    assert len(dag.tasks) >= 3
    for task in dag.tasks:
        assert task.retries == 7
        assert task.retry_delay == dt.timedelta(minutes=2)
        assert task.retry_exponential_backoff > 1
        assert task.execution_timeout == dt.timedelta(seconds=900)
        assert task.priority_weight == 9
        assert task.pool == "market_data"
        [container] = task.executor_config["pod_override"].spec.containers
        assert {"requests": container.resources.requests, "limits": container.resources.limits} == (
            resources
        )
        hook = getattr(task, "_pre_execute_hook", None) or task.partial_kwargs["pre_execute"]
        assert hook == MemoryLimit("512Mi")
    assert dag.timetable.serialize() == {
        "calendar": "XNYS",
        "timezone": "America/New_York",
        "market_close": "16:00",
        "delay_minutes": 90,
    }
    assert {"data_collection_equities", "us_markets", "yfinance", "equities", "ingestion"} <= set(
        dag.tags
    )
    assert "version 2" in dag.doc_md and "pytest" in dag.doc_md
    assert DagSerialization.to_dict(dag)["dag"]["dag_id"] == dag.dag_id


def test_the_queue_knob_routes_every_task_of_its_job(
    configured_hub: Engine, parse: Callable[[], Any]
) -> None:
    """The knob added through the table's description alone: CLI, audit, DAG, refusal."""
    lse, us = "data_collection_equities__lse", "data_collection_equities__us_markets"
    args = ("config", "set", "data_collection_equities", "lse")
    result = hubctl(*args, "queue=eu_workers", "-m", "route to the EU workers")
    assert result.exit_code == 0, result.output
    assert "queue: null -> eu_workers" in result.stdout
    entry = audit_rows(configured_hub)[-1]
    assert entry["changed_fields"] == {"queue": {"old": None, "new": "eu_workers"}}
    assert (entry["via"], entry["reason"]) == ("hubctl", "route to the EU workers")

    dags = parse().dags
    assert {task.queue for task in dags[lse].tasks} == {"eu_workers"}
    assert "eu_workers" not in {task.queue for task in dags[us].tasks}
    assert "| queue | eu_workers |" in dags[lse].doc_md

    before = snapshot(configured_hub)
    refused = hubctl(*args, "queue=EU workers")
    assert refused.exit_code == 1 and refused.stderr.startswith("Error: queue: String should")
    assert snapshot(configured_hub) == before

    assert hubctl(*args, "queue=null").exit_code == 0
    assert "eu_workers" not in {task.queue for task in parse().dags[lse].tasks}
