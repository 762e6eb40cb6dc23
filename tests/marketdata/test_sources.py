"""The synthetic sample source and the source registry."""

from __future__ import annotations

import time
from datetime import date

import numpy as np
import pandas as pd
import pytest

from hubctl.marketdata.sources import (
    OHLCV_COLUMNS,
    SOURCE_NAMES,
    SampleSource,
    YFinanceSource,
    empty_ohlcv,
    get_source,
)
from hubctl.marketdata.validation import validate_ohlcv

CONTRACT_DTYPES = {
    "trade_date": "datetime64[ns]",
    **dict.fromkeys(("open", "high", "low", "close", "adj_close"), "float64"),
    "volume": "int64",
}


def _prices(ticker: str, start: date, end: date) -> pd.DataFrame:
    return SampleSource().fetch_prices([ticker], start, end).frames[ticker]


def test_a_date_has_the_same_bar_whatever_window_is_requested() -> None:
    """Incremental loads and reruns must agree with a full load."""
    short = _prices("AAPL", date(2020, 3, 2), date(2020, 6, 30))
    long = _prices("AAPL", date(2019, 1, 1), date(2031, 12, 31))

    overlap = long[long["trade_date"].isin(short["trade_date"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(short, overlap)


def test_bars_are_pinned_across_processes_and_versions() -> None:
    """Golden values: a change to the generator would silently rewrite every demo database."""
    bar = _prices("AAPL", date(2024, 1, 2), date(2024, 1, 2)).iloc[0]

    assert (bar["open"], bar["high"], bar["low"], bar["close"]) == (17.76, 17.9, 17.46, 17.6)
    assert bar["volume"] == 5141511


def test_business_days_only_and_window_inclusive() -> None:
    frame = _prices("MSFT", date(2024, 2, 26), date(2024, 3, 8))  # Monday .. Friday

    expected = pd.bdate_range("2024-02-26", "2024-03-08")
    assert list(frame["trade_date"]) == list(expected)
    assert (frame["trade_date"].dt.dayofweek < 5).all()


def test_frames_honour_the_contract() -> None:
    frame = _prices("NVDA", date(2023, 1, 1), date(2023, 12, 31))

    assert list(frame.columns) == list(OHLCV_COLUMNS)
    assert frame.dtypes.astype(str).to_dict() == CONTRACT_DTYPES
    assert frame["trade_date"].is_monotonic_increasing
    assert validate_ohlcv(frame) == []


def test_prices_and_volumes_are_realistic() -> None:
    tickers = [f"T{i:03d}" for i in range(40)]
    result = SampleSource().fetch_prices(tickers, date(2014, 1, 1), date(2024, 12, 31))

    for ticker, frame in result.frames.items():
        assert validate_ohlcv(frame) == [], ticker
        assert frame["close"].between(1, 5_000).all(), ticker
        daily_vol = np.log(frame["close"]).diff().std()
        assert 0.005 < daily_vol < 0.04, ticker
        assert (frame["volume"] > 0).all(), ticker
    starts = [frame["close"].iloc[0] for frame in result.frames.values()]
    assert min(starts) < 60 and max(starts) > 150  # tickers differ, spread over ~10..500


def test_fail_tickers_are_reported_and_the_others_load() -> None:
    source = SampleSource(fail_tickers=["BAD"])

    result = source.fetch_prices(["AAPL", "BAD"], date(2024, 1, 1), date(2024, 1, 31))
    metadata, metadata_failures = source.fetch_metadata(["AAPL", "BAD"])

    assert list(result.frames) == ["AAPL"]
    assert result.failures == {"BAD": "sample source told to fail for BAD"}
    assert list(metadata) == ["AAPL"]
    assert metadata_failures == {"BAD": "sample source told to fail for BAD"}


def test_metadata_is_labelled_synthetic() -> None:
    metadata, failures = SampleSource().fetch_metadata(["AAPL"])

    assert failures == {}
    assert metadata["AAPL"]["long_name"] == "SAMPLE SYNTHETIC DATA: AAPL"
    assert set(metadata["AAPL"]) == {"long_name", "sector", "industry", "currency", "market_cap"}
    assert metadata["AAPL"]["market_cap"] > 0


def test_windows_outside_the_series() -> None:
    before_epoch = _prices("AAPL", date(1985, 1, 1), date(1990, 1, 3))
    inverted = _prices("AAPL", date(2024, 1, 10), date(2024, 1, 1))
    weekend = _prices("AAPL", date(2024, 1, 6), date(2024, 1, 7))

    assert [d.date() for d in before_epoch["trade_date"]] == [
        date(1990, 1, 1),
        date(1990, 1, 2),
        date(1990, 1, 3),
    ]
    for empty in (inverted, weekend):
        assert empty.empty
        assert empty.dtypes.astype(str).to_dict() == CONTRACT_DTYPES
    assert empty_ohlcv().dtypes.astype(str).to_dict() == CONTRACT_DTYPES


def test_five_hundred_tickers_by_ten_years_is_fast() -> None:
    tickers = [f"S{i:03d}" for i in range(500)]

    # CPU time of this process: what the source costs, not what a loaded machine lends it (the
    # tests run on two workers beside other work).
    started = time.process_time()
    result = SampleSource().fetch_prices(tickers, date(2015, 1, 1), date(2024, 12, 31))
    elapsed = time.process_time() - started

    assert len(result.frames) == 500
    assert sum(len(frame) for frame in result.frames.values()) == 500 * 2609
    assert elapsed < 5, f"{elapsed:.1f} s"


def test_registry() -> None:
    assert SOURCE_NAMES == ("sample", "yfinance")
    sample = get_source("sample", fail_tickers=["X"])
    assert isinstance(sample, SampleSource) and sample.synthetic
    assert sample.fail_tickers == {"X"}
    real = get_source("yfinance")
    assert isinstance(real, YFinanceSource) and not real.synthetic


def test_registry_rejects_unknown_names_and_misplaced_options() -> None:
    with pytest.raises(ValueError, match="valid: sample, yfinance"):
        get_source("bloomberg")
    with pytest.raises(ValueError, match="only applies to the 'sample' source"):
        get_source("yfinance", fail_tickers=["X"])
