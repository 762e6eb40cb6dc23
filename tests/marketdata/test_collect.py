"""The daily collection service against a real PostgreSQL, with the sample source."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from hubctl.marketdata import collect
from hubctl.marketdata.sources import FetchResult, RetryableSourceError, SampleSource
from tests.support.marketdata import (
    assert_sample_rows,
    fetch_log_of,
    recorded_fetches,
    stored_prices,
)

TICKERS = [["AAPL", "NASDAQ"], ["MSFT", "NASDAQ"], ["JPM", "NYSE"]]
FRIDAY = date(2024, 3, 15)


def _collect(engine: Engine, end: date = FRIDAY, lookback: int = 5, **kwargs: Any) -> Any:
    return collect.collect_batch(
        engine,
        group="us_markets",
        tickers=kwargs.pop("tickers", TICKERS),
        source_name="sample",
        end_date=end,
        lookback_days=lookback,
        **kwargs,
    )


def test_first_run_loads_the_lookback_window_of_every_ticker(engine: Engine) -> None:
    report = _collect(engine).as_dict()

    # 5 days back from Friday 15 March: Sunday 10th, so the bars of Monday 11th to Friday 15th.
    assert_sample_rows(engine, ["AAPL", "MSFT", "JPM"], date(2024, 3, 11), FRIDAY)
    assert report["stages"] == {
        "register": {"ok": 3},
        "download": {"failed": 0, "ok": 3, "rows": 15, "up_to_date": 0},
        "validate": {"failed": 0, "ok": 3, "rows": 15},
        "upsert": {"securities": 3, "rows": 15},
        "metadata": {"failed": 0, "ok": 3, "changed": 3},
    }
    assert report["failures"] == {}
    assert len(report["security_ids"]) == 3
    assert report["synthetic"] is True and report["label"] == collect.SYNTHETIC_LABEL
    with engine.connect() as conn:
        names = conn.execute(text("SELECT long_name FROM market.security_metadata")).scalars()
        assert all(name.startswith("SAMPLE SYNTHETIC DATA") for name in names)


def test_rerunning_the_same_day_changes_nothing(engine: Engine) -> None:
    _collect(engine)
    before = stored_prices(engine)

    report = _collect(engine).as_dict()

    pd.testing.assert_frame_equal(stored_prices(engine), before)  # loaded_at included
    assert report["stages"]["download"]["up_to_date"] == 3
    assert report["stages"]["upsert"] == {"securities": 0, "rows": 0}
    assert report["security_ids"] == []


def test_a_failing_ticker_is_reported_and_the_others_load(engine: Engine) -> None:
    report = _collect(engine, fail_tickers=["MSFT"]).as_dict()

    assert_sample_rows(engine, ["AAPL", "JPM"], date(2024, 3, 11), FRIDAY)
    assert report["failures"] == {"MSFT": "download: sample source told to fail for MSFT"}
    assert report["stages"]["download"]["failed"] == 1
    assert report["stages"]["metadata"]["ok"] == 2  # MSFT skipped the later stages


def test_a_batch_whose_every_ticker_fails_raises(engine: Engine) -> None:
    with pytest.raises(collect.BatchFailedError, match="AAPL: download: sample source"):
        _collect(engine, fail_tickers=["AAPL", "MSFT", "JPM"])


class _CorruptSource(SampleSource):
    """The sample source, but one ticker's bars have high below low."""

    def fetch_prices(self, tickers: Sequence[str], start: date, end: date) -> FetchResult:
        result = super().fetch_prices(tickers, start, end)
        if "JPM" in result.frames:
            frame = result.frames["JPM"]
            high, low = frame.at[1, "high"], frame.at[1, "low"]
            frame.at[1, "high"], frame.at[1, "low"] = low, high
        return result


def test_invalid_bars_fail_only_their_ticker(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(collect, "get_source", lambda name, fail_tickers: _CorruptSource())

    report = _collect(engine).as_dict()

    assert_sample_rows(engine, ["AAPL", "MSFT"], date(2024, 3, 11), FRIDAY)
    assert report["failures"] == {
        "JPM": "validate: 1 row with high < low (first 2024-03-12); "
        "1 row with open outside [low, high] (first 2024-03-12); "
        "1 row with close outside [low, high] (first 2024-03-12)"
    }


def test_missed_runs_heal_from_the_last_stored_date_within_the_lookback(engine: Engine) -> None:
    _collect(engine, end=date(2024, 3, 8))  # 4th..8th

    # A week of runs missed; the next run fetches each ticker from the day after its last bar.
    report = _collect(engine, end=FRIDAY, lookback=10).as_dict()

    assert_sample_rows(engine, ["AAPL", "MSFT", "JPM"], date(2024, 3, 4), FRIDAY)
    assert report["stages"]["download"]["rows"] == 15  # 11th..15th, nothing refetched


def test_the_lookback_bounds_how_far_back_a_run_heals(engine: Engine) -> None:
    _collect(engine, end=date(2024, 3, 8))

    _collect(engine, end=FRIDAY, lookback=3)  # from Tuesday 12th: Monday 11th stays missing

    dates = set(stored_prices(engine)["trade_date"].dt.date)
    assert date(2024, 3, 11) not in dates
    assert {date(2024, 3, 8), date(2024, 3, 12)} <= dates


def test_a_weekend_window_fetches_nothing(engine: Engine) -> None:
    _collect(engine)

    report = _collect(engine, end=date(2024, 3, 17)).as_dict()  # Sunday: no weekday session

    assert report["stages"] == {"download": {"up_to_date": 3}}


def test_each_source_call_is_recorded_and_per_ticker_failures_are_a_good_fetch(
    engine: Engine,
) -> None:
    """Two start dates make two calls; MSFT's failure is the source's answer, not an outage."""
    _collect(engine, tickers=TICKERS[:1], end=date(2024, 3, 8))
    log = fetch_log_of(engine, "us_markets")
    report = _collect(engine, lookback=10, fail_tickers=["MSFT"], fetch_log=log).as_dict()
    assert report["failures"] == {"MSFT": "download: sample source told to fail for MSFT"}
    assert recorded_fetches(engine) == [("us_markets", True, None), ("us_markets", True, None)]
    _collect(engine, end=date(2024, 3, 17), fetch_log=log)  # a weekend: no call, no record
    assert len(recorded_fetches(engine)) == 2


class _DownSource(SampleSource):
    def fetch_prices(self, tickers: Sequence[str], start: date, end: date) -> FetchResult:
        raise RetryableSourceError("market data source unreachable: connection refused")


def test_a_failed_source_call_is_recorded_then_raised(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(collect, "get_source", lambda name, fail_tickers: _DownSource())
    with pytest.raises(RetryableSourceError, match="unreachable"):
        _collect(engine, fetch_log=fetch_log_of(engine, "us_markets"))
    assert recorded_fetches(engine) == [
        (
            "us_markets",
            False,
            "RetryableSourceError: market data source unreachable: connection refused",
        )
    ]


def test_validate_tickers() -> None:
    valid, rejected = collect.validate_tickers(
        [["AAPL", "NASDAQ"], ["bad ticker", "NASDAQ"], ["HSBA.L", "LSE"], ["AAPL", "NASDAQ"]],
        ["NASDAQ", "NYSE"],
    )

    assert valid == [["AAPL", "NASDAQ"]]
    assert rejected == {
        "bad ticker": "malformed ticker symbol",
        "HSBA.L": "exchange LSE is not one of the group's",
        "AAPL": "listed twice",
    }


def test_plan_batches() -> None:
    assert collect.plan_batches([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    assert collect.plan_batches([1, 2], 500) == [[1, 2]]
    assert collect.plan_batches([], 3) == []
    with pytest.raises(ValueError, match="positive"):
        collect.plan_batches([1], 0)


def test_trading_date_is_the_exchange_local_date() -> None:
    late_in_new_york = datetime(2024, 3, 16, 1, 30, tzinfo=UTC)  # 21:30 on the 15th in New York

    assert collect.trading_date(late_in_new_york, "America/New_York") == FRIDAY
    assert collect.trading_date(late_in_new_york, "Europe/London") == date(2024, 3, 16)


def test_summarise_adds_up_batches(engine: Engine) -> None:
    first = _collect(engine, tickers=TICKERS[:2], fail_tickers=["MSFT"]).as_dict()
    second = _collect(engine, tickers=TICKERS[2:]).as_dict()

    summary = collect.summarise([first, second])

    assert summary["batches"] == 2 and summary["tickers"] == 3
    assert summary["stages"]["upsert"] == {"securities": 2, "rows": 10}
    assert summary["failures"] == {"MSFT": "download: sample source told to fail for MSFT"}
    assert summary["security_ids"] == sorted(first["security_ids"] + second["security_ids"])
    assert summary["sources"] == ["sample"] and summary["label"] == collect.SYNTHETIC_LABEL


def test_a_run_for_a_holiday_does_nothing_and_succeeds(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A manual trigger on Christmas Day: no session of XNYS, so nothing is fetched or written."""
    christmas = date(2026, 12, 25)
    with caplog.at_level("INFO", logger="hubctl.marketdata.collect"):
        report = _collect(engine, end=christmas, calendar="XNYS").as_dict()

    assert report["stages"] == {"download": {"up_to_date": 3}}
    assert report["failures"] == {} and report["security_ids"] == []
    assert stored_prices(engine).empty
    assert "2026-12-25 is not a trading session of XNYS: nothing to collect" in caplog.text
