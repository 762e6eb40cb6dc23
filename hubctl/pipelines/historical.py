"""historical_load_equities: backfills one exchange group's history, one month per run.

Shape today (collection.group_dag): load_config -> group_tickers -> months (next_month). The
months stage is the skeleton the pipelines issue fills (mapped batched load that skips what
exists -> advance the watermark -> trigger indicators); next_month already reads the watermark.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import DAG, task

from hubctl.airflow_builder import hub_transaction
from hubctl.generator import DagSpec
from hubctl.pipelines.collection import group_dag


def month_after(loaded_through: dt.date | None, years_back: int, today: dt.date) -> dt.date:
    """First day of the month to load next: after the watermark, else years_back before today."""
    if loaded_through is None:
        return dt.date(today.year - years_back, today.month, 1)
    following = loaded_through.replace(day=1) + dt.timedelta(days=32)
    return following.replace(day=1)


@task
def next_month(tickers: list[str], config: dict[str, Any]) -> dict[str, Any] | None:
    """The month this run should load (from market.load_progress), or None when caught up."""
    from hubctl.marketdata.storage import get_load_progress

    group_name = config["exchange_group"]
    with hub_transaction() as conn:
        progress = get_load_progress(conn, group_name=group_name)
    today = dt.date.today()
    start = month_after(
        progress.loaded_through if progress else None, config["params"]["years_back"], today
    )
    if start > today:
        return None
    return {"group_name": group_name, "month": start.isoformat(), "tickers": len(tickers)}


def build(spec: DagSpec) -> DAG:
    return group_dag(spec, "months", next_month)
