"""The historical load service: month windows from the watermark, skip-existing, stop at today."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, text

from hubctl.marketdata import historical, storage
from hubctl.marketdata.collect import BatchFailedError
from hubctl.marketdata.historical import MonthWindow
from hubctl.marketdata.sources import SampleSource

TICKERS = [["HSBA.L", "LSE"], ["BP.L", "LSE"]]
TODAY = date(2024, 3, 15)


def _load(engine: Engine, window: MonthWindow, **kwargs: Any) -> dict[str, Any]:
    report = historical.load_month_batch(
        engine, window=window, tickers=TICKERS, source_name="sample", **kwargs
    )
    return report.as_dict()


def _next(engine: Engine, today: date = TODAY) -> MonthWindow | None:
    return historical.next_window(engine, group="lse", years_back=1, today=today)


def _stored_days(engine: Engine, ticker: str) -> list[date]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT trade_date FROM market.ohlcv JOIN market.securities USING (security_id)"
                    " WHERE ticker = :ticker ORDER BY trade_date"
                ),
                {"ticker": ticker},
            ).scalars()
        )


def test_month_arithmetic() -> None:
    assert historical.load_start(TODAY, 10) == date(2014, 3, 1)
    assert historical.month_end(date(2024, 2, 10)) == date(2024, 2, 29)
    assert historical.month_end(date(2023, 12, 31)) == date(2023, 12, 31)
    window = MonthWindow("lse", date(2024, 1, 1), date(2024, 1, 31))
    assert MonthWindow.from_dict(window.as_dict()) == window


def test_the_watermark_advances_month_by_month_and_stops_at_today(engine: Engine) -> None:
    windows = []
    while (window := _next(engine)) is not None:
        windows.append(window)
        reports = [_load(engine, window)]
        historical.finish_month(engine, window=window, reports=reports)
        assert len(windows) < 20, "the load never reached today"

    assert [(w.start, w.end) for w in windows[:2]] == [
        (date(2023, 3, 1), date(2023, 3, 31)),
        (date(2023, 4, 1), date(2023, 4, 30)),
    ]
    assert len(windows) == 13
    assert (windows[-1].start, windows[-1].end) == (date(2024, 3, 1), date(2024, 3, 14))
    business_days = np.busday_count(date(2023, 3, 1), TODAY)  # up to yesterday, inclusive
    assert len(_stored_days(engine, "BP.L")) == business_days
    with engine.connect() as conn:
        progress = storage.get_load_progress(conn, group_name="lse")
    assert progress == storage.LoadProgress("lse", date(2023, 3, 1), date(2024, 3, 14))

    # A day later, only the new day is left; the same day again, nothing.
    assert _next(engine, date(2024, 3, 16)) == MonthWindow("lse", TODAY, TODAY)
    assert _next(engine, TODAY) is None


def test_without_finish_the_watermark_stays_and_the_rerun_skips_what_exists(
    engine: Engine,
) -> None:
    window = _next(engine)
    assert window is not None
    first = _load(engine, window, fail_tickers=["BP.L"])

    assert first["failures"] == {"BP.L": "download: sample source told to fail for BP.L"}
    assert _next(engine) == window  # not finished: the same window again
    second = _load(engine, window)

    assert second["stages"]["skip_existing"] == {"rows": 23}  # HSBA.L's March 2023
    assert second["stages"]["upsert"] == {"securities": 1, "rows": 23}  # BP.L only
    assert len(_stored_days(engine, "BP.L")) == len(_stored_days(engine, "HSBA.L")) == 23


def test_existing_rows_are_never_rewritten(engine: Engine) -> None:
    window = MonthWindow("lse", date(2023, 3, 1), date(2023, 3, 31))
    frame = SampleSource().fetch_prices(["BP.L"], date(2023, 3, 6), date(2023, 3, 10)).frames
    corrected = frame["BP.L"].assign(close=lambda f: f["high"], adj_close=lambda f: f["high"])
    with engine.begin() as conn:
        ids = storage.register_securities(conn, tickers={"BP.L": "LSE"})
        storage.upsert_ohlcv(
            conn, rows=storage.stack_frames({ids["BP.L"]: corrected}), source="yfinance"
        )

    report = _load(engine, window)

    assert report["stages"]["skip_existing"] == {"rows": 5}
    with engine.connect() as conn:
        kept = conn.execute(
            text("SELECT count(*) FROM market.ohlcv WHERE source = 'yfinance' AND close = high")
        ).scalar_one()
    assert kept == 5
    assert len(_stored_days(engine, "BP.L")) == 23


def test_a_batch_whose_every_ticker_fails_raises(engine: Engine) -> None:
    window = MonthWindow("lse", date(2023, 3, 1), date(2023, 3, 31))
    with pytest.raises(BatchFailedError, match="every ticker"):
        _load(engine, window, fail_tickers=["BP.L", "HSBA.L"])
