"""Storage against a real, migrated PostgreSQL (the project's ``engine`` fixture)."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Connection, Engine, text

from hubctl.marketdata import storage
from hubctl.marketdata.analytics import indicator_rows
from hubctl.marketdata.sources import SampleSource
from tests.support.marketdata import assert_sample_rows, stored_prices

START, END = date(2024, 1, 1), date(2024, 3, 29)  # 65 business days


def _frames(tickers: list[str], start: date = START, end: date = END) -> dict[str, pd.DataFrame]:
    return SampleSource().fetch_prices(tickers, start, end).frames


def _register(conn: Connection, *tickers: str) -> dict[str, int]:
    return storage.register_securities(conn, tickers=dict.fromkeys(tickers, "NASDAQ"))


def _upsert(conn: Connection, frames: dict[int, pd.DataFrame]) -> int:
    """Rows inserted or changed, summed over securities."""
    return storage.upsert_ohlcv(conn, rows=storage.stack_frames(frames), source="sample").rows


@pytest.fixture
def loaded(engine: Engine) -> tuple[dict[str, int], dict[str, pd.DataFrame]]:
    """AAPL and MSFT registered, with Q1 2024 prices from the sample source."""
    frames = _frames(["AAPL", "MSFT"])
    with engine.begin() as conn:
        ids = _register(conn, "AAPL", "MSFT")
        written = _upsert(conn, {ids[t]: frame for t, frame in frames.items()})
    assert written == 2 * 65
    return ids, frames


def test_register_securities_is_idempotent_and_keeps_the_first_exchange(engine: Engine) -> None:
    with engine.begin() as conn:
        first = _register(conn, "AAPL", "MSFT")
    with engine.begin() as conn:
        again = storage.register_securities(conn, tickers={"MSFT": "NYSE", "NVDA": "NASDAQ"})
        rows = conn.execute(text("SELECT ticker, exchange FROM market.securities")).all()
        nothing = storage.register_securities(conn, tickers={})

    assert again["MSFT"] == first["MSFT"]
    assert again["NVDA"] not in first.values()
    assert {ticker: exchange for ticker, exchange in rows} == dict.fromkeys(
        ("AAPL", "MSFT", "NVDA"), "NASDAQ"
    )
    assert nothing == {}


def test_copy_writes_two_securities_exactly(
    engine: Engine, loaded: tuple[dict[str, int], dict[str, pd.DataFrame]]
) -> None:
    _, frames = loaded
    assert_sample_rows(engine, list(frames), START, END)


def test_rerun_changes_nothing_and_a_real_change_only_its_row(
    engine: Engine, loaded: tuple[dict[str, int], dict[str, pd.DataFrame]]
) -> None:
    ids, frames = loaded
    by_id = {ids[t]: frame for t, frame in frames.items()}
    before = stored_prices(engine)

    with engine.begin() as conn:
        assert _upsert(conn, by_id) == 0
    pd.testing.assert_frame_equal(stored_prices(engine), before)

    changed = frames["MSFT"].copy()
    changed.loc[10, "close"] = changed.loc[10, "high"]
    with engine.begin() as conn:
        written = storage.upsert_ohlcv(
            conn, rows=storage.stack_frames({ids["MSFT"]: changed}), source="sample"
        )
        assert written == storage.Written(1, [ids["MSFT"]])
    after = stored_prices(engine)
    differs = (after != before).any(axis=1)
    assert differs.sum() == 1
    row = after[differs].iloc[0]
    assert (row["ticker"], row["close"]) == ("MSFT", changed.loc[10, "high"])
    assert row["loaded_at"] > before.loc[differs, "loaded_at"].iloc[0]


def test_two_upserts_in_one_transaction(engine: Engine) -> None:
    """The staging table is dropped after use, so a task may upsert batch after batch."""
    frames = _frames(["AAPL"])
    with engine.begin() as conn:
        ids = _register(conn, "AAPL")
        first_half, second_half = frames["AAPL"].iloc[:30], frames["AAPL"].iloc[30:]
        written = _upsert(conn, {ids["AAPL"]: first_half}) + _upsert(
            conn, {ids["AAPL"]: second_half}
        )

    assert written == 65
    with engine.begin() as conn:
        assert _upsert(conn, {}) == 0


def test_dates_already_loaded(
    engine: Engine, loaded: tuple[dict[str, int], dict[str, pd.DataFrame]]
) -> None:
    ids, _ = loaded
    with engine.begin() as conn:
        nvda = _register(conn, "NVDA")["NVDA"]
        last = storage.last_trade_dates(conn, security_ids=[ids["AAPL"], ids["MSFT"], nvda])
        existing = storage.existing_dates(
            conn, security_ids=[ids["AAPL"], nvda], start=date(2024, 3, 27), end=date(2024, 4, 5)
        )

    assert last == {ids["AAPL"]: END, ids["MSFT"]: END}
    assert existing == {(ids["AAPL"], date(2024, 3, d)) for d in (27, 28, 29)}


def test_stale_indicator_dates_follow_new_and_changed_prices(
    engine: Engine, loaded: tuple[dict[str, int], dict[str, pd.DataFrame]]
) -> None:
    ids, frames = loaded
    with engine.begin() as conn:
        assert storage.stale_indicator_dates(conn) == dict.fromkeys(sorted(ids.values()), START)
        closes = storage.load_closes(conn, security_ids=list(ids.values()))
        storage.upsert_indicators(conn, rows=indicator_rows(closes))
    with engine.begin() as conn:
        assert storage.stale_indicator_dates(conn) == {}
        assert _upsert(conn, {ids["AAPL"]: frames["AAPL"]}) == 0  # a rerun changes nothing

    more = _frames(["MSFT"], date(2024, 4, 1), date(2024, 4, 5))["MSFT"]
    corrected = frames["AAPL"].copy()
    corrected.loc[30, "close"] = corrected.loc[30, "low"]
    with engine.begin() as conn:
        written = storage.upsert_ohlcv(
            conn,
            rows=storage.stack_frames({ids["MSFT"]: more, ids["AAPL"]: corrected}),
            source="sample",
        )
    with engine.begin() as conn:
        stale = storage.stale_indicator_dates(conn)
        only_aapl = storage.stale_indicator_dates(conn, security_ids=[ids["AAPL"]])

    assert written == storage.Written(5 + 1, sorted(ids.values()))
    assert stale == {
        ids["AAPL"]: corrected.loc[30, "trade_date"].date(),
        ids["MSFT"]: date(2024, 4, 1),
    }
    assert only_aapl == {ids["AAPL"]: stale[ids["AAPL"]]}


def test_metadata_upsert(engine: Engine) -> None:
    with engine.begin() as conn:
        ids = _register(conn, "AAPL", "ODD")
    metadata: dict[int, dict[str, Any]] = {
        ids["AAPL"]: {
            "long_name": "Apple Inc.",
            "sector": "Technology",
            "industry": "Consumer Electronics",
            "currency": "USD",
            "market_cap": 3_456_789_012_345,
        },
        ids["ODD"]: {"long_name": 'Odd, "Quoted"\nName', "currency": None, "market_cap": None},
    }

    with engine.begin() as conn:
        assert storage.upsert_metadata(conn, metadata=metadata, source="yfinance") == 2
    with engine.begin() as conn:
        assert storage.upsert_metadata(conn, metadata=metadata, source="yfinance") == 0
        assert storage.upsert_metadata(conn, metadata=metadata, source="sample") == 2
        rows = conn.execute(
            text(
                "SELECT security_id, long_name, sector, currency, market_cap, source "
                "FROM market.security_metadata ORDER BY security_id"
            )
        ).all()

    assert [tuple(row) for row in rows] == [
        (ids["AAPL"], "Apple Inc.", "Technology", "USD", 3_456_789_012_345, "sample"),
        (ids["ODD"], 'Odd, "Quoted"\nName', None, None, None, "sample"),
    ]


def test_closes_round_trip_into_indicators(
    engine: Engine, loaded: tuple[dict[str, int], dict[str, pd.DataFrame]]
) -> None:
    ids, frames = loaded
    with engine.begin() as conn:
        closes = storage.load_closes(conn, security_ids=list(ids.values()))
        indicators = indicator_rows(closes)
        written = storage.upsert_indicators(conn, rows=indicators)
    with engine.begin() as conn:
        rerun = storage.upsert_indicators(conn, rows=indicators)
        stored = conn.execute(
            text(
                "SELECT count(*), count(sma_20), count(sma_50), count(sma_200), count(rsi_14) "
                "FROM market.indicators WHERE security_id = :id"
            ),
            {"id": ids["AAPL"]},
        ).one()

    aapl = closes[ids["AAPL"]]
    assert list(aapl.index) == list(frames["AAPL"]["trade_date"])
    np.testing.assert_array_equal(aapl.to_numpy(), frames["AAPL"]["close"].to_numpy())
    assert (written, rerun) == (2 * 65, 0)
    assert tuple(stored) == (65, 65 - 19, 65 - 49, 0, 65 - 14)  # warm-up rows are NULL


def test_load_progress(engine: Engine) -> None:
    with engine.begin() as conn:
        assert storage.get_load_progress(conn, group_name="us") is None
        created = storage.init_load_progress(conn, group_name="us", start_date=date(2015, 1, 1))
        kept = storage.init_load_progress(conn, group_name="us", start_date=date(2020, 1, 1))
        storage.advance_load_progress(conn, group_name="us", loaded_through=date(2015, 1, 31))
        storage.advance_load_progress(conn, group_name="us", loaded_through=date(2015, 2, 28))
        storage.advance_load_progress(conn, group_name="us", loaded_through=date(2015, 1, 31))
        progress = storage.get_load_progress(conn, group_name="us")

    assert created == storage.LoadProgress("us", date(2015, 1, 1), None)
    assert kept == created
    assert progress == storage.LoadProgress("us", date(2015, 1, 1), date(2015, 2, 28))
    with engine.begin() as conn, pytest.raises(LookupError, match="'eu'"):
        storage.advance_load_progress(conn, group_name="eu", loaded_through=date(2015, 1, 31))
