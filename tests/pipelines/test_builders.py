"""The built-in builders' DAGs run for real (dag.test()) against the hub database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from hubctl.pipelines.historical import month_after
from tests.generator.conftest import execute

US_TICKERS = ["AAPL", "AMZN", "GOOGL", "JNJ", "JPM", "KO", "MSFT", "NVDA", "WMT", "XOM"]


def _xcoms(dag: Any) -> dict[str, Any]:
    """Run the DAG in-process and return each task's return value by task id."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    run = dag.test()
    assert run.state == "success"
    with create_session() as session:
        rows = session.query(XComModel).filter_by(dag_id=dag.dag_id, run_id=run.run_id).all()
        return {row.task_id: XComModel.deserialize_value(row) for row in rows}


@pytest.mark.usefixtures("airflow_metadata_db")
def test_collection_runs_with_the_live_config_and_the_groups_tickers(
    hub: Engine, parse: Callable[[], Any]
) -> None:
    execute(
        hub,
        "UPDATE hub.dag_configuration SET batch_size = 4"
        " WHERE dag_name = 'data_collection_equities' AND job_name = 'us_markets';"
        " UPDATE hub.tickers SET enabled = false WHERE ticker = 'KO'",
    )
    results = _xcoms(parse().dags["data_collection_equities__us_markets"])
    assert results["load_config"]["version"] == 2
    tickers = [ticker for ticker in US_TICKERS if ticker != "KO"]
    assert results["group_tickers"] == tickers
    assert results["batches.plan_batches"] == [tickers[0:4], tickers[4:8], tickers[8:]]


@pytest.mark.usefixtures("airflow_metadata_db")
def test_historical_and_indicators_run(hub: Engine, parse: Callable[[], Any]) -> None:
    bag = parse()
    historical = _xcoms(bag.dags["historical_load_equities__lse"])
    assert historical["months.next_month"]["group_name"] == "lse"
    assert historical["months.next_month"]["tickers"] == 6
    indicators = _xcoms(bag.dags["calculate_indicators__all"])
    assert indicators["compute.securities_to_update"] == []


def test_next_month_follows_the_watermark() -> None:
    import datetime as dt

    today = dt.date(2026, 11, 22)
    assert month_after(None, 10, today) == dt.date(2016, 11, 1)
    assert month_after(dt.date(2024, 1, 31), 10, today) == dt.date(2024, 2, 1)
    assert month_after(dt.date(2024, 12, 31), 10, today) == dt.date(2025, 1, 1)


def test_every_registered_family_has_a_builder_and_params_model(tmp_path: Path) -> None:
    from hubctl.pipelines import families

    for family in families().values():
        assert callable(family.load_builder())
        family.params_model()  # every param has a default: a job needs no params to start
