"""What the market-data tests read back from the database, and compare it with."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

import pandas as pd
from sqlalchemy import Engine, text

from hubctl.marketdata.sources import OHLCV_COLUMNS, SampleSource
from hubctl.services import alerts
from tests.support.databases import database_of


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


def fetch_log_of(engine: Engine, group: str) -> Callable[[str | None], None]:
    """A collection FetchLog that records each source call in hub.source_fetches for ``group``."""
    database = database_of(engine)
    return lambda error: alerts.record_fetch(database, exchange_group=group, error=error)


def recorded_fetches(engine: Engine) -> list[tuple[str, bool, str | None]]:
    """hub.source_fetches as (exchange_group, ok, error), oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT exchange_group, ok, error FROM hub.source_fetches ORDER BY id")
        ).all()
    return [(group, ok, error) for group, ok, error in rows]
