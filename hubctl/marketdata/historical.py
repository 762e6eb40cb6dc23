"""The historical load of one exchange group: a month per run, from a watermark, up to yesterday.

``market.load_progress`` holds, per group, where the load started and the last day it completed
(``loaded_through``). A run plans the next window with ``next_window`` (the day after the
watermark to the end of that month, never later than yesterday: today's bar is the daily
collection's, and may not exist yet), loads it in batches with ``load_month_batch`` (existing
(ticker, date) rows are skipped, never rewritten) and, only once every batch has completed, moves
the watermark with ``finish_month``. A run that fails part-way leaves the watermark where it was,
so the next run loads the same window again and skips what the failed one already stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from hubctl.marketdata import storage
from hubctl.marketdata.collect import (
    BatchReport,
    download,
    register,
    store_prices,
    summarise,
    validate,
)
from hubctl.marketdata.sources import get_source


@dataclass(frozen=True)
class MonthWindow:
    """Days ``start``..``end`` (inclusive, within one month) of ``group``'s history to load."""

    group: str
    start: date
    end: date

    def as_dict(self) -> dict[str, str]:
        return {"group": self.group, "start": self.start.isoformat(), "end": self.end.isoformat()}

    @classmethod
    def from_dict(cls, document: Mapping[str, str]) -> MonthWindow:
        return cls(
            document["group"],
            date.fromisoformat(document["start"]),
            date.fromisoformat(document["end"]),
        )


def load_start(today: date, years_back: int) -> date:
    """First day of the month ``years_back`` years before ``today``'s month."""
    return date(today.year - years_back, today.month, 1)


def month_end(day: date) -> date:
    following = day.replace(day=28) + timedelta(days=4)  # always in the next month
    return following - timedelta(days=following.day)


def next_window(engine: Engine, *, group: str, years_back: int, today: date) -> MonthWindow | None:
    """The window to load next, or None when the load has reached today (nothing left).

    The first call creates the group's watermark starting ``years_back`` before ``today``; later
    changes of ``years_back`` do not move an existing start.
    """
    with engine.begin() as conn:
        progress = storage.get_load_progress(conn, group_name=group) or storage.init_load_progress(
            conn, group_name=group, start_date=load_start(today, years_back)
        )
    start = progress.start_date
    if progress.loaded_through is not None:
        start = progress.loaded_through + timedelta(days=1)
    last = today - timedelta(days=1)
    if start > last:
        return None
    return MonthWindow(group, start, min(month_end(start), last))


def load_month_batch(
    engine: Engine,
    *,
    window: MonthWindow,
    tickers: Iterable[Sequence[str]],
    source_name: str,
    fail_tickers: Iterable[str] = (),
) -> BatchReport:
    """Load ``window`` for ``tickers`` ((ticker, exchange) pairs), skipping stored days.

    Same failure model as the daily collection (``collect`` module): failed tickers are
    reported, and only a batch whose every ticker failed raises.
    """
    source = get_source(source_name, fail_tickers=fail_tickers)
    listed = {ticker: exchange for ticker, exchange in tickers}
    report = BatchReport.new(window.group, source, listed)
    ids = register(engine, report, listed)
    # The frames are only referenced until stacked: a long window's batch is held once, not twice.
    rows = validate(
        report, download(source, report, dict.fromkeys(ids, window.start), window.end), ids
    )
    store_prices(engine, report, drop_existing(engine, report, rows, window), source.name)
    report.raise_if_all_failed()
    return report


def drop_existing(
    engine: Engine, report: BatchReport, rows: pd.DataFrame, window: MonthWindow
) -> pd.DataFrame:
    """``rows`` without the (security_id, trade_date) pairs already stored in the window."""
    if rows.empty:
        return rows
    with engine.connect() as conn:
        existing = storage.existing_dates(
            conn,
            security_ids=rows["security_id"].unique().tolist(),
            start=window.start,
            end=window.end,
        )
    if not existing:
        report.count("skip_existing", rows=0)
        return rows
    stored = pd.MultiIndex.from_tuples(
        [(security_id, pd.Timestamp(day)) for security_id, day in existing],
        names=["security_id", "trade_date"],
    )
    present = pd.MultiIndex.from_frame(rows[["security_id", "trade_date"]]).isin(stored)
    report.count("skip_existing", rows=int(present.sum()))
    return rows[~present]


def finish_month(
    engine: Engine, *, window: MonthWindow, reports: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """Advance the watermark to ``window.end``: call once every batch of the window completed.

    Returns the run's report (``collect.summarise`` of the batches, plus the window).
    """
    summary = summarise(reports)
    with engine.begin() as conn:
        storage.advance_load_progress(conn, group_name=window.group, loaded_through=window.end)
    return {**summary, "window": window.as_dict(), "loaded_through": window.end.isoformat()}
