"""validate_ohlcv catches each kind of broken bar, and only that."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
import pytest

from hubctl.marketdata.sources import SampleSource
from hubctl.marketdata.validation import validate_ohlcv


@pytest.fixture
def good() -> pd.DataFrame:
    """Ten valid bars, 2024-01-01 .. 2024-01-12."""
    return SampleSource().fetch_prices(["AAPL"], date(2024, 1, 1), date(2024, 1, 12)).frames["AAPL"]


def _set(column: str, row: int, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def mutate(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[row, column] = value
        return frame

    return mutate


def _swap_high_low(frame: pd.DataFrame) -> pd.DataFrame:
    high, low = frame.loc[3, "high"], frame.loc[3, "low"]
    frame.loc[3, "high"], frame.loc[3, "low"] = low, high
    return frame


def _duplicate_date(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[5, "trade_date"] = frame.loc[4, "trade_date"]
    return frame


OUTSIDE = "1 row with {} outside [low, high] (first 2024-01-04)"
CASES = {
    "nan close": (_set("close", 2, np.nan), ["1 row with NaN close (first 2024-01-03)"]),
    "nan volume": (_set("volume", 0, np.nan), ["1 row with NaN volume (first 2024-01-01)"]),
    # high < low leaves no room for open and close: all three are reported.
    "high below low": (
        _swap_high_low,
        [
            "1 row with high < low (first 2024-01-04)",
            OUTSIDE.format("open"),
            OUTSIDE.format("close"),
        ],
    ),
    "open above high": (_set("open", 3, 1e6), [OUTSIDE.format("open")]),
    "close below low": (_set("close", 3, 0.01), [OUTSIDE.format("close")]),
    "negative volume": (_set("volume", 7, -5), ["1 row with negative volume (first 2024-01-10)"]),
    "duplicate date": (_duplicate_date, ["2 rows with duplicate trade_date (first 2024-01-05)"]),
    "missing column": (lambda f: f.drop(columns=["adj_close"]), ["missing columns: adj_close"]),
}


def test_valid_frame_has_no_problems(good: pd.DataFrame) -> None:
    assert validate_ohlcv(good) == []


@pytest.mark.parametrize(("mutate", "expected"), CASES.values(), ids=CASES.keys())
def test_each_problem_is_reported(
    good: pd.DataFrame, mutate: Callable[[pd.DataFrame], pd.DataFrame], expected: list[str]
) -> None:
    assert validate_ohlcv(mutate(good)) == expected


def test_rounding_noise_within_tolerance_is_accepted(good: pd.DataFrame) -> None:
    good.loc[0, "open"] = good.loc[0, "high"] * (1 + 1e-12)
    good.loc[1, "close"] = good.loc[1, "low"] * (1 - 1e-12)

    assert validate_ohlcv(good) == []


def test_problems_are_counted_not_listed_per_row(good: pd.DataFrame) -> None:
    good["volume"] = -1

    assert validate_ohlcv(good) == ["10 rows with negative volume (first 2024-01-01)"]
