"""data_collection_equities: the daily collection DAG of one exchange group.

Shape today: load_config -> group_tickers -> batches (plan_batches). The batches stage is the
skeleton the pipelines issue fills with the market-data tasks (register securities -> download ->
validate -> upsert -> metadata -> report, mapped over the planned batches, then trigger
calculate_indicators). Every task here does real work on the hub database; none pretends to
collect prices. Heavy imports (pandas, yfinance) belong inside task bodies: this module is
imported at every parse.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, TaskGroup, task

from hubctl.airflow_builder import hub_transaction, load_config, new_dag
from hubctl.generator import DagSpec


@task
def group_tickers(config: dict[str, Any]) -> list[str]:
    """The enabled tickers listed on the group's exchanges (hub.tickers): this run's universe."""
    from hubctl.repository.tickers import list_tickers

    exchanges = (config.get("group") or {}).get("exchanges", [])
    with hub_transaction() as conn:
        return [
            record.ticker for record in list_tickers(conn, exchanges=exchanges) if record.enabled
        ]


@task
def plan_batches(tickers: list[str], config: dict[str, Any]) -> list[list[str]]:
    """Tickers cut into batches of the live batch_size: the unit the collection tasks map over."""
    size = int(config["batch_size"])
    return [tickers[start : start + size] for start in range(0, len(tickers), size)]


def group_dag(spec: DagSpec, stage: str, stage_task: Any) -> DAG:
    """The shape of the per-group pipelines: load_config -> group_tickers -> a stage TaskGroup.

    ``stage_task(tickers, config)`` starts the stage; XComArgs stand in for the values at run time.
    """
    with new_dag(spec) as dag:
        config: Any = load_config(spec.dag_name, spec.job_name)
        tickers: Any = group_tickers(config)
        with TaskGroup(stage):
            stage_task(tickers, config)
    return dag


def build(spec: DagSpec) -> DAG:
    return group_dag(spec, "batches", plan_batches)
