"""calculate_indicators (job ``all``): technical indicators for the securities with new prices.

    load_config → plan[securities_to_update] → compute[update × N] → publish[report]

The collection and historical DAGs trigger it with ``conf = {"security_ids": [...]}``, the
securities their run wrote; run without that key (manually, or on a schedule) it takes every
security with stale indicators. Each mapped ``update`` recomputes up to ``batch_size`` securities
over their full history and writes only the rows from each one's first stale date on
(``hubctl.marketdata.analytics``).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, TaskGroup, get_current_context, task

from hubctl.dag_builder import new_dag
from hubctl.pipelines.runtime import hub_engine, load_config
from hubctl.specs import DagSpec


@task
def securities_to_update(config: dict[str, Any]) -> list[list[int]]:
    """The conf's securities (all, without ``security_ids``) whose indicators are stale, batched."""
    # deferred: pandas and yfinance cost seconds; the running task needs them, the DAG parse does not
    from hubctl.marketdata import analytics
    from hubctl.marketdata.collect import plan_batches

    conf = get_current_context()["dag_run"].conf or {}
    with hub_engine() as engine:
        stale = analytics.securities_to_update(engine, security_ids=conf.get("security_ids"))
    return plan_batches(stale, DagSpec.model_validate(config).batch_size)


@task
def update(security_ids: list[int]) -> dict[str, Any]:
    """Recompute and upsert the stale indicator rows of a batch of securities."""
    # deferred: pandas and yfinance cost seconds; the running task needs them, the DAG parse does not
    from hubctl.marketdata.analytics import update_indicators

    with hub_engine() as engine:
        return update_indicators(engine, security_ids=security_ids).as_dict()


@task
def report(batches: list[dict[str, Any]], config: dict[str, Any]) -> dict[str, Any]:
    """Securities recomputed and rows written, with the configuration version used."""
    # deferred: pandas and yfinance cost seconds; the running task needs them, the DAG parse does not
    from hubctl.marketdata.analytics import summarise

    return {**summarise(batches), "configuration_version": DagSpec.model_validate(config).version}


def build(spec: DagSpec) -> DAG:
    with new_dag(spec) as dag:
        # XComArgs stand in for the values at run time (typed Any: mypy sees the task's signature)
        config: Any = load_config(spec.dag_name, spec.job_name)
        with TaskGroup("plan"):
            batches: Any = securities_to_update(config)
        with TaskGroup("compute"):
            reports: Any = update.override(max_active_tis_per_dag=spec.max_active_tasks).expand(
                security_ids=batches
            )
        with TaskGroup("publish"):
            report(reports, config)
    return dag
