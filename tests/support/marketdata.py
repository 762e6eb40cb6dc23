"""What the market-data tests read back from the database, and compare it with."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd
from sqlalchemy import Engine, text

from hubctl.marketdata.sources import OHLCV_COLUMNS, SampleSource


def stored_prices(engine: Engine) -> pd.DataFrame:
    """Every stored price row with its ticker, source and loaded_at, by ticker and date."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.ticker, o.trade_date, o.open, o.high, o.low, o.close, o.adj_close,"
                " o.volume, o.source, o.loaded_at FROM market.ohlcv o"
                " JOIN market.securities s USING (security_id) ORDER BY s.ticker, o.trade_date"
            )
        ).all()
    frame = pd.DataFrame(rows, columns=["ticker", *OHLCV_COLUMNS, "source", "loaded_at"])
    frame["trade_date"] = pd.to_datetime(frame["trade_date"]).astype("datetime64[ns]")
    return frame


def assert_sample_rows(engine: Engine, tickers: Sequence[str], start: date, end: date) -> None:
    """The database holds exactly the sample source's bars of ``tickers`` for start..end."""
    frames = SampleSource().fetch_prices(tickers, start, end).frames
    expected = pd.concat(
        [frames[ticker].assign(ticker=ticker) for ticker in sorted(tickers)], ignore_index=True
    )
    stored = stored_prices(engine)
    columns = ["ticker", *OHLCV_COLUMNS]
    pd.testing.assert_frame_equal(stored[columns], expected[columns], check_dtype=False)
    assert (stored["source"] == "sample").all()


def store_price(engine: Engine, ticker: str, exchange: str, trade_date: date) -> None:
    with engine.begin() as conn:
        security_id = conn.execute(
            text(
                "INSERT INTO market.securities (ticker, exchange) VALUES (:t, :e) RETURNING security_id"
            ),
            {"t": ticker, "e": exchange},
        ).scalar()
        conn.execute(
            text(
                "INSERT INTO market.ohlcv VALUES (:s, :d, 1, 2, 0.5, 1.5, 1.5, 100, 'sample', now())"
            ),
            {"s": security_id, "d": trade_date},
        )
