"""data_collection_equities: the daily collection DAG of one exchange group.

    load_config → prepare[get_tickers → validate_tickers] → batches[collect × N]
                → publish[report → trigger_indicators]

``collect`` is mapped over the batches of the live ``batch_size`` and runs every stage of its batch
(register → download → validate → upsert → metadata) in one task instance, reporting each stage's
counts and each failed ticker (``hubctl.marketdata.collect``); see docs/pipelines.md for why one
task per batch rather than one per stage. Heavy imports stay inside task bodies: this module is
imported at every parse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import DAG, get_current_context, task

from hubctl.db import Database
from hubctl.pipelines.params import CollectionParams
from hubctl.pipelines.runtime import hub_engine
from hubctl.pipelines.tasks import finish_report, group_name, name_batch, run_date, ticker_batch_dag
from hubctl.specs import DagSpec

if TYPE_CHECKING:
    from hubctl.marketdata.collect import FetchLog


@task
def collect(batch: list[list[str]], config: dict[str, Any]) -> dict[str, Any]:
    """One batch, all stages, up to the run's date; fails only if every ticker failed, and does
    nothing when that date is no trading session of the group's calendar."""
    # deferred: pandas and yfinance cost seconds; the running task needs them, the DAG parse does not
    from hubctl.marketdata.collect import collect_batch

    name_batch(batch)
    spec = DagSpec.model_validate(config)
    params = CollectionParams.model_validate(spec.params)
    with hub_engine() as engine:
        report = collect_batch(
            engine,
            group=group_name(spec),
            tickers=batch,
            source_name=params.source,
            fail_tickers=params.fail_tickers,
            end_date=run_date(spec),
            lookback_days=params.lookback_days,
            calendar=spec.calendar,
            fetch_log=_fetch_log(spec),
        )
    return report.as_dict()


def _fetch_log(spec: DagSpec) -> FetchLog:
    """Each source call of this batch, recorded in hub.source_fetches (the source_unreachable
    alert counts the failed ones in a row)."""
    # deferred: the services' write path (~11 ms) is for the running task, not every DAG parse
    from hubctl.services import alerts

    database, run_id = Database.from_settings(), get_current_context()["run_id"]

    def record(error: str | None) -> None:
        alerts.record_fetch(
            database,
            exchange_group=group_name(spec),
            dag_id=spec.dag_id,
            run_id=run_id,
            error=error,
        )

    return record


@task(multiple_outputs=True)
def report(
    batches: list[dict[str, Any]], rejected: dict[str, str] | None, config: dict[str, Any]
) -> dict[str, Any]:
    """The run's counts per stage, failed tickers with reasons, securities written."""
    # deferred: pandas and yfinance cost seconds; the running task needs them, the DAG parse does not
    from hubctl.marketdata.collect import summarise

    return finish_report(summarise(batches), rejected, DagSpec.model_validate(config))


def build(spec: DagSpec) -> DAG:
    return ticker_batch_dag(spec, stage="batches", batch_task=collect, finish_task=report)
