"""The indicators job on prices stored in a real PostgreSQL, against reference computations."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, text

from hubctl.marketdata import analytics, storage
from hubctl.marketdata.indicators import compute_indicators
from hubctl.marketdata.sources import PRICE_COLUMNS
from tests.marketdata.test_indicators import TEXTBOOK_CLOSES, wilder_rsi_reference

START = date(2024, 1, 1)


def _store(engine: Engine, ticker: str, closes: Sequence[float], start: date = START) -> int:
    """Bars with open = high = low = close on consecutive business days; the security id."""
    dates = pd.bdate_range(start, periods=len(closes))
    frame = pd.DataFrame(
        {
            "trade_date": dates.astype("datetime64[ns]"),
            **{column: list(closes) for column in PRICE_COLUMNS},
            "volume": 1000,
        }
    )
    with engine.begin() as conn:
        security_id = storage.register_securities(conn, tickers={ticker: "NYSE"})[ticker]
        storage.upsert_ohlcv(conn, rows=storage.stack_frames({security_id: frame}), source="test")
    return security_id


def _indicators(engine: Engine, security_id: int) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT trade_date, sma_20, rsi_14, ema_12, computed_at FROM market.indicators"
                " WHERE security_id = :id ORDER BY trade_date"
            ),
            {"id": security_id},
        ).all()
    return pd.DataFrame(rows, columns=["trade_date", "sma_20", "rsi_14", "ema_12", "computed_at"])


def _nan(values: pd.Series) -> list[float]:
    return [math.nan if value is None else float(value) for value in values]


def test_stored_indicators_match_reference_computations(engine: Engine) -> None:
    line = _store(engine, "LINE", [float(v) for v in range(1, 26)])
    textbook = _store(engine, "BOOK", TEXTBOOK_CLOSES)

    report = analytics.update_indicators(engine, security_ids=[line, textbook])

    assert report.as_dict() == {
        "requested": 2,
        "securities": 2,
        "rows_written": 25 + 33,
        "security_ids": [line, textbook],
    }
    # closes 1..25: the 20-day mean ending at day k (1-based) is k - 9.5
    sma = _indicators(engine, line)["sma_20"]
    assert sma.iloc[:19].isna().all()
    assert sma.iloc[19:].tolist() == [10.5, 11.5, 12.5, 13.5, 14.5, 15.5]
    stored = _indicators(engine, textbook)
    windows = [TEXTBOOK_CLOSES[end - 19 : end + 1] for end in range(19, len(TEXTBOOK_CLOSES))]
    np.testing.assert_allclose(
        _nan(stored["sma_20"])[19:], [sum(w) / 20 for w in windows], rtol=1e-12
    )
    np.testing.assert_allclose(
        _nan(stored["rsi_14"]), wilder_rsi_reference(TEXTBOOK_CLOSES), rtol=1e-12
    )


def test_only_the_stale_tail_is_rewritten(engine: Engine) -> None:
    closes = list(100 + np.sin(np.arange(60) / 3) * 5)
    security_id = _store(engine, "WAVE", closes)
    assert analytics.update_indicators(engine, security_ids=[security_id]).rows_written == 60
    assert analytics.update_indicators(engine, security_ids=[security_id]).rows_written == 0

    _store(engine, "WAVE", [*closes, 103.0])  # one new day
    assert analytics.update_indicators(engine, security_ids=[security_id]).rows_written == 1

    before = _indicators(engine, security_id)
    corrected = [*closes, 103.0]
    corrected[40] += 1.0  # a corrected close on day 41 changes every indicator from there on
    _store(engine, "WAVE", corrected)
    report = analytics.update_indicators(engine, security_ids=[security_id])

    after = _indicators(engine, security_id)
    assert report.rows_written == 61 - 40
    assert after["computed_at"].iloc[:40].equals(before["computed_at"].iloc[:40])
    expected = compute_indicators(pd.Series(corrected, index=pd.bdate_range(START, periods=61)))
    np.testing.assert_allclose(after["ema_12"], expected["ema_12"], rtol=1e-12)


def test_securities_to_update_finds_the_stale_ones(engine: Engine) -> None:
    first = _store(engine, "ONE", [10.0, 11.0, 12.0])
    second = _store(engine, "TWO", [20.0, 21.0])

    assert analytics.securities_to_update(engine) == [first, second]
    assert analytics.securities_to_update(engine, security_ids=[second, 999]) == [second]
    analytics.update_indicators(engine, security_ids=[first])
    assert analytics.securities_to_update(engine) == [second]
    assert analytics.update_indicators(engine, security_ids=[]).as_dict()["requested"] == 0


@pytest.mark.parametrize("ids", [[], [12345]])
def test_nothing_to_do(engine: Engine, ids: list[int]) -> None:
    report = analytics.update_indicators(engine, security_ids=ids)
    assert (report.securities, report.rows_written) == (0, 0)
