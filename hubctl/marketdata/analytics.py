"""The indicators job: recompute stale indicators from stored prices and upsert them.

"Stale" is decided by the database (``storage.stale_indicator_dates``): per security, the first
trade date whose indicator row is missing or older than its price row. Indicators are computed
over each security's full close history (EMAs and RSI depend on every earlier close) but only the
rows from that first stale date on are written: a daily run rewrites one row per security, not its
whole history. Rerunning writes nothing (the upsert's IS DISTINCT FROM guard).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from hubctl.marketdata import storage
from hubctl.marketdata.indicators import compute_indicators


@dataclass
class IndicatorReport:
    """What one indicators batch did (JSON-ready through ``as_dict``)."""

    requested: int
    securities: int = 0  # with stale rows, recomputed
    rows_written: int = 0  # indicator rows inserted or changed
    security_ids: list[int] = field(default_factory=list)  # recomputed

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def securities_to_update(engine: Engine, *, security_ids: Iterable[int] | None = None) -> list[int]:
    """The securities (of ``security_ids``, or of all when None) with stale indicators."""
    ids = None if security_ids is None else [int(security_id) for security_id in security_ids]
    with engine.connect() as conn:
        return list(storage.stale_indicator_dates(conn, security_ids=ids))


def update_indicators(engine: Engine, *, security_ids: Iterable[int]) -> IndicatorReport:
    """Recompute and upsert the stale indicator rows of ``security_ids``, in one transaction."""
    ids = [int(security_id) for security_id in security_ids]
    report = IndicatorReport(requested=len(ids))
    if not ids:
        return report
    with engine.begin() as conn:
        stale = storage.stale_indicator_dates(conn, security_ids=ids)
        if not stale:
            return report
        closes = storage.load_closes(conn, security_ids=stale)
        written = storage.upsert_indicators(conn, rows=indicator_rows(closes, stale))
    report.securities = len(stale)
    report.rows_written = written
    report.security_ids = sorted(stale)
    return report


def summarise(reports: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One run's report from its batches' ``IndicatorReport.as_dict()``."""
    batches = list(reports)
    return {
        "batches": len(batches),
        **{
            key: sum(batch[key] for batch in batches)
            for key in ("requested", "securities", "rows_written")
        },
        "security_ids": sorted({sid for batch in batches for sid in batch["security_ids"]}),
    }


def indicator_rows(
    closes: Mapping[int, pd.Series], first_dates: Mapping[int, date] | None = None
) -> pd.DataFrame:
    """Stacked indicator rows (security_id, trade_date, indicators) over each full history.

    With ``first_dates``, a security's rows before its first date are dropped (they are current).
    """
    frames: dict[int, pd.DataFrame] = {}
    for security_id, history in closes.items():
        frame = compute_indicators(history)
        if first_dates is not None:
            frame = frame[frame.index >= np.datetime64(first_dates[security_id], "ns")]
        frames[security_id] = frame.rename_axis("trade_date").reset_index()
    return storage.stack_frames(frames)
