"""historical_load_equities: backfills one exchange group's history, one month per run.

    load_config → prepare[get_tickers → validate_tickers, plan_month]
                → month[load × N] → publish[finish_month → trigger_indicators]

``plan_month`` reads the group's watermark (``market.load_progress``; created ``params.years_back``
before the run's date on the first run) and returns the next window: the day after the watermark
to the end of its month, never later than the day before the run. When nothing is left it skips
the rest of the run. ``load`` is mapped over the batches and skips (ticker, date) rows already
stored; ``finish_month`` moves the watermark only once every batch has succeeded.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, task
from airflow.sdk.exceptions import AirflowSkipException

from hubctl.pipelines.params import HistoricalParams
from hubctl.pipelines.runtime import hub_engine
from hubctl.pipelines.tasks import finish_report, group_name, name_batch, run_date, ticker_batch_dag
from hubctl.specs import DagSpec


@task
def plan_month(config: dict[str, Any]) -> dict[str, str]:
    """The window to load (group, start, end); skips the run once the load has reached today."""

    # deferred: pandas and yfinance cost seconds; the running task needs them, the DAG parse does not
    from hubctl.marketdata.historical import next_window

    spec = DagSpec.model_validate(config)
    group, years_back = group_name(spec), HistoricalParams.model_validate(spec.params).years_back
    with hub_engine() as engine:
        window = next_window(engine, group=group, years_back=years_back, today=run_date(spec))
    if window is None:
        raise AirflowSkipException(f"{group}: the historical load has reached today")
    return window.as_dict()


@task
def load(batch: list[list[str]], window: dict[str, str], config: dict[str, Any]) -> dict[str, Any]:
    """One batch of the window; rows already stored are skipped; fails only if every ticker did."""
    # deferred: pandas and yfinance cost seconds; the running task needs them, the DAG parse does not
    from hubctl.marketdata.historical import MonthWindow, load_month_batch

    name_batch(batch)
    params = HistoricalParams.model_validate(DagSpec.model_validate(config).params)
    with hub_engine() as engine:
        report = load_month_batch(
            engine,
            window=MonthWindow.from_dict(window),
            tickers=batch,
            source_name=params.source,
            fail_tickers=params.fail_tickers,
        )
    return report.as_dict()


@task(multiple_outputs=True)
def finish_month(
    batches: list[dict[str, Any]],
    window: dict[str, str],
    rejected: dict[str, str] | None,
    config: dict[str, Any],
) -> dict[str, Any]:
    """Advance the watermark to the window's end (every batch succeeded) and report the month."""
    # deferred: pandas and yfinance cost seconds; the running task needs them, the DAG parse does not
    from hubctl.marketdata import historical

    with hub_engine() as engine:
        summary = historical.finish_month(
            engine, window=historical.MonthWindow.from_dict(window), reports=batches
        )
    return finish_report(summary, rejected, DagSpec.model_validate(config))


def build(spec: DagSpec) -> DAG:
    return ticker_batch_dag(
        spec, stage="month", batch_task=load, finish_task=finish_month, plan_task=plan_month
    )
