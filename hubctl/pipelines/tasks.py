"""Tasks and helpers shared by the market-data pipelines (collection, historical, indicators).

Task bodies import pandas and ``hubctl.marketdata`` themselves: this module is imported at every
parse and must stay light. Every runtime value comes from the ``config`` XCom of ``load_config``
(the job's live row), never from the spec the DAG was parsed with: XCom holds it as JSON, and each
task turns it back into a ``DagSpec`` (``DagSpec.model_validate(config)``) before reading it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, TaskGroup, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from hubctl.dag_builder import new_dag
from hubctl.db import Database
from hubctl.errors import NotFoundError
from hubctl.pipelines.runtime import load_config
from hubctl.repository.tickers import list_tickers
from hubctl.specs import DagSpec, dag_id_for, live_spec

log = logging.getLogger(__name__)

INDICATORS_JOB = ("calculate_indicators", "all")
INDICATORS_DAG_ID = dag_id_for(*INDICATORS_JOB)
REJECTED = "rejected"  # XCom key under which validate_tickers pushes the tickers it rejected
SYNTHETIC_TAG = "synthetic-data"
SYNTHETIC_DOC = (
    "\n\n> **Synthetic data.** `params.source` is `sample`: prices and metadata are generated"
    " (deterministic, offline), not market data. Switch to Yahoo Finance with"
    " `hubctl config set {dag_name} {job_name} params.source=yfinance -m WHY`."
)


def group_name(spec: DagSpec) -> str:
    """The exchange group a per-group pipeline runs for; such a job without a group cannot run."""
    if spec.exchange_group is None:
        raise ValueError(f"{spec.dag_id}: {spec.dag_name} runs per exchange group; none is set")
    return spec.exchange_group


def run_date(spec: DagSpec) -> dt.date:
    """The exchange-local date of this run: its logical date (or, without one, when it ran)."""
    # deferred: pandas and yfinance cost seconds; the running task needs them, the DAG parse does not
    from hubctl.marketdata.collect import trading_date

    context = get_current_context()
    moment = context.get("logical_date") or context["dag_run"].run_after
    return trading_date(moment, spec.timezone)


@task
def get_tickers(config: dict[str, Any]) -> list[list[str]]:
    """The enabled (ticker, exchange) pairs listed on the group's exchanges: the run's universe."""

    spec = DagSpec.model_validate(config)
    with Database.from_settings().connect() as conn:
        rows = list_tickers(conn, exchanges=spec.exchanges)
    return [[row["ticker"], row["exchange"]] for row in rows if row["enabled"]]


@task
def validate_tickers(tickers: list[list[str]], config: dict[str, Any]) -> list[list[list[str]]]:
    """The valid tickers cut into batches of the live ``batch_size``: what the batch task maps over.

    Rejected tickers (malformed, listed on another exchange, repeated) are pushed under the XCom
    key ``rejected`` for the report.
    """
    # deferred: pandas and yfinance cost seconds; the running task needs them, the DAG parse does not
    from hubctl.marketdata.collect import plan_batches
    from hubctl.marketdata.collect import validate_tickers as check

    spec = DagSpec.model_validate(config)
    valid, rejected = check(tickers, spec.exchanges)
    if rejected:
        log.warning("rejected tickers: %s", rejected)
    get_current_context()["ti"].xcom_push(key=REJECTED, value=rejected)
    return plan_batches(valid, spec.batch_size)


def name_batch(batch: list[Any]) -> None:
    """Label this mapped task instance in the UI with its batch's first and last ticker."""
    first, last = batch[0][0], batch[-1][0]
    get_current_context()["batch_label"] = f"{first}…{last} ({len(batch)})"  # type: ignore[typeddict-unknown-key]


def finish_report(
    summary: dict[str, Any], rejected: Mapping[str, str] | None, spec: DagSpec
) -> dict[str, Any]:
    """The run's report: the batches' summary, the rejected tickers and the config version used."""
    failures = {
        ticker: f"validate_tickers: {reason}" for ticker, reason in (rejected or {}).items()
    }
    summary["failures"] = dict(sorted({**summary["failures"], **failures}.items()))
    summary["failed"] = len(summary["failures"])
    summary["configuration_version"] = spec.version
    log.info("report: %s", {key: value for key, value in summary.items() if key != "security_ids"})
    if summary.get("label"):
        log.warning("%s", summary["label"])
    for ticker, reason in summary["failures"].items():
        log.warning("failed ticker %s: %s", ticker, reason)
    return summary


class TriggerIndicators(TriggerDagRunOperator):
    """Triggers the indicators job, unless there is nothing for it to do.

    Skips (rather than fails the run) when the run wrote no prices, or when the
    ``calculate_indicators all`` job is disabled, and so has no DAG to trigger.
    """

    def execute(self, context: Any) -> Any:

        if not (self.conf or {}).get("security_ids"):
            raise AirflowSkipException("no prices were written: no indicators to update")
        try:
            live_spec(*INDICATORS_JOB)
        except NotFoundError as error:
            raise AirflowSkipException(str(error)) from None
        return super().execute(context)


def trigger_indicators(summary: Any) -> TriggerDagRunOperator:
    """Start ``calculate_indicators__all`` for the securities the run wrote (``security_ids``).

    ``summary`` is a report task's output pushed with ``multiple_outputs``; no logical date, so
    runs triggered by several groups at once never collide.
    """
    return TriggerIndicators(
        task_id="trigger_indicators",
        trigger_dag_id=INDICATORS_DAG_ID,
        conf={"security_ids": summary["security_ids"]},
        logical_date=None,
    )


def label_source(dag: DAG, spec: DagSpec) -> DAG:
    """Mark a DAG fed by the synthetic ``sample`` source: a tag and a note in its doc."""
    if spec.params.get("source") == "sample":
        dag.tags.add(SYNTHETIC_TAG)
        dag.doc_md = (dag.doc_md or "") + SYNTHETIC_DOC.format(
            dag_name=spec.dag_name, job_name=spec.job_name
        )
    return dag


def ticker_batch_dag(
    spec: DagSpec, *, stage: str, batch_task: Any, finish_task: Any, plan_task: Any = None
) -> DAG:
    """The shape of the per-group pipelines (collection, historical load)::

        load_config → prepare[get_tickers → validate_tickers, plan_task]
                    → <stage>[batch_task × N] → publish[finish_task → trigger_indicators]

    ``batch_task(batch, config[, window])`` is mapped over the batches, at most
    ``max_active_tasks`` at once; ``plan_task(config)``, when given, returns the ``window`` both
    the batches and ``finish_task(batches, rejected, config[, window])`` receive.
    """
    with new_dag(spec) as dag:
        # XComArgs stand in for the values at run time
        config: Any = load_config(spec.dag_name, spec.job_name)
        with TaskGroup("prepare"):
            tickers: Any = get_tickers(config)
            batches: Any = validate_tickers(tickers, config)
            extra = {} if plan_task is None else {"window": plan_task(config)}
        with TaskGroup(stage):
            reports = (
                batch_task.override(
                    max_active_tis_per_dag=spec.max_active_tasks,
                    map_index_template="{{ batch_label }}",
                )
                .partial(config=config, **extra)
                .expand(batch=batches)
            )
        with TaskGroup("publish"):
            summary = finish_task(
                batches=reports, rejected=batches[REJECTED], config=config, **extra
            )
            summary >> trigger_indicators(summary)
    return label_source(dag, spec)
