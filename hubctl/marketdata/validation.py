"""Sanity checks on an OHLCV frame before it reaches the database.

Sources (Yahoo especially) occasionally return broken bars; writing them would poison every
indicator computed from them, so the pipeline validates each ticker's frame and reports the
ticker as failed instead. All checks are vectorised: a batch holds hundreds of thousands of rows.
"""

from __future__ import annotations

from typing import Any

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
    described = (_describe(frame, mask, what) for what, mask in _problems(frame, ["trade_date"]))
    return [problem for problem in described if problem]


def validate_stacked(rows: pd.DataFrame, key: str) -> dict[Any, list[str]]:
    """Problems per ``key`` value of a stacked frame (many tickers' rows, keyed by ``key``).

    The checks run once over all rows; only the keys with a bad row are described (with
    ``validate_ohlcv`` on their own rows), so a clean batch costs one vectorised pass.
    Keys without problems are absent.
    """
    if rows.empty:
        return {}
    masks = [mask.to_numpy() for _, mask in _problems(rows, [key, "trade_date"])]
    bad = np.logical_or.reduce(masks)
    if not bad.any():
        return {}
    keys = rows[key].to_numpy()
    return {value: validate_ohlcv(rows[keys == value]) for value in pd.unique(keys[bad])}


def _problems(frame: pd.DataFrame, unique: list[str]) -> list[tuple[str, pd.Series]]:
    """(what, row mask) per check; ``unique`` are the columns no two rows may share."""
    low, high = frame["low"], frame["high"]
    slack = _RELATIVE_TOLERANCE * np.maximum(low.abs(), high.abs())
    floor, ceiling = low - slack, high + slack
    return [
        *((f"NaN {column}", frame[column].isna()) for column in (*PRICE_COLUMNS, "volume")),
        ("high < low", high < low),
        ("open outside [low, high]", _outside(frame["open"], floor, ceiling)),
        ("close outside [low, high]", _outside(frame["close"], floor, ceiling)),
        ("negative volume", frame["volume"] < 0),
        ("duplicate trade_date", frame.duplicated(subset=unique, keep=False)),
    ]


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
