"""Sanity checks on an OHLCV frame before it reaches the database.

Sources (Yahoo especially) occasionally return broken bars; writing them would poison every
indicator computed from them, so the pipeline validates each ticker's frame and reports the
ticker as failed instead. All checks are vectorised: a batch holds hundreds of thousands of rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hubctl.marketdata.sources import OHLCV_COLUMNS, PRICE_COLUMNS

# Relative slack for open/close vs. low/high: sources round the four prices independently.
_RELATIVE_TOLERANCE = 1e-9


def validate_ohlcv(frame: pd.DataFrame) -> list[str]:
    """Human-readable problems with ``frame`` (see the contract in ``sources``); [] means valid.

    Checks: missing columns (then nothing else is checked), NaN prices or volume, high < low,
    open or close outside [low, high], negative volume, duplicate trade dates.
    """
    missing = [column for column in OHLCV_COLUMNS if column not in frame.columns]
    if missing:
        return [f"missing columns: {', '.join(missing)}"]
    problems = [
        _describe(frame, frame[column].isna(), f"NaN {column}")
        for column in (*PRICE_COLUMNS, "volume")
    ]
    low, high = frame["low"], frame["high"]
    slack = _RELATIVE_TOLERANCE * np.maximum(low.abs(), high.abs())
    floor, ceiling = low - slack, high + slack
    problems += [
        _describe(frame, high < low, "high < low"),
        _describe(frame, _outside(frame["open"], floor, ceiling), "open outside [low, high]"),
        _describe(frame, _outside(frame["close"], floor, ceiling), "close outside [low, high]"),
        _describe(frame, frame["volume"] < 0, "negative volume"),
        _describe(frame, frame["trade_date"].duplicated(keep=False), "duplicate trade_date"),
    ]
    return [problem for problem in problems if problem]


def _outside(values: pd.Series, low: pd.Series, high: pd.Series) -> pd.Series:
    """True where ``values`` is outside [low, high]. Rows with NaN are the NaN check's job."""
    return (values < low) | (values > high)


def _describe(frame: pd.DataFrame, mask: pd.Series, what: str) -> str:
    """'3 rows with <what> (first 2024-01-02)' or '' when no row matches."""
    count = int(mask.sum())
    if not count:
        return ""
    first = frame.loc[mask, "trade_date"].iloc[0]
    noun = "row" if count == 1 else "rows"
    return f"{count} {noun} with {what} (first {_format_date(first)})"


def _format_date(value: object) -> str:
    """ISO date of a trade_date cell; tolerant of NaT and of non-datetime columns."""
    if pd.isna(value):
        return "unknown date"
    return str(pd.Timestamp(value).date())
