"""calculate_indicators: technical indicators for the securities that received new prices.

Shape today: load_config -> compute (securities_to_update). The compute stage is the skeleton the
pipelines issue fills (vectorised SMA/EMA/RSI/MACD/Bollinger per batch of securities, upserted);
securities_to_update already asks the market schema which securities changed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import DAG, TaskGroup, get_current_context, task

from hubctl.airflow_builder import hub_transaction, load_config, new_dag
from hubctl.generator import DagSpec

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@task
def securities_to_update(config: dict[str, Any]) -> list[int]:
    """Securities whose prices changed since this DAG's last successful run (all, the first time)."""
    from hubctl.marketdata.storage import securities_with_new_data

    since = get_current_context().get("prev_start_date_success") or EPOCH
    with hub_transaction() as conn:
        return securities_with_new_data(conn, since=since)


def build(spec: DagSpec) -> DAG:
    with new_dag(spec) as dag:
        # XComArgs stand in for the values at run time (typed Any: mypy sees the task's signature)
        config: Any = load_config(spec.dag_name, spec.job_name)
        with TaskGroup("compute"):
            securities_to_update(config)
    return dag
