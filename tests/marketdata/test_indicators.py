"""compute_indicators against hand computations and plain-Python reference loops."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hubctl.marketdata.indicators import INDICATOR_COLUMNS, compute_indicators

# Wilder's RSI example as reproduced by StockCharts (closes of 2009-12-14 onwards).
TEXTBOOK_CLOSES = [
    44.34, 44.09, 44.15, 43.61, 44.33, 44.83, 45.10, 45.42, 45.84, 46.08,
    45.89, 46.03, 45.61, 46.28, 46.28, 46.00, 46.03, 46.41, 46.22, 45.64,
    46.21, 46.25, 45.71, 46.45, 45.78, 45.35, 44.03, 44.18, 44.22, 44.57,
    43.42, 42.66, 43.13,
]  # fmt: skip


def _series(values: list[float]) -> pd.Series:
    return pd.Series(values, index=pd.bdate_range("2024-01-01", periods=len(values)), dtype=float)


def _ema_loop(values: list[float], span: int) -> list[float]:
    alpha = 2 / (span + 1)
    out = [values[0]]
    for value in values[1:]:
        out.append(alpha * value + (1 - alpha) * out[-1])
    return out


def wilder_rsi_reference(closes: list[float], period: int = 14) -> list[float]:
    """Wilder: avg = (avg·(n-1) + current)/n per change, seeded with the first change."""
    rsi = [math.nan] * len(closes)
    avg_gain = avg_loss = math.nan
    for i in range(1, len(closes)):
        change = closes[i] - closes[i - 1]
        gain, loss = max(change, 0.0), max(-change, 0.0)
        if i == 1:
            avg_gain, avg_loss = gain, loss
        else:
            avg_gain = (avg_gain * (period - 1) + gain) / period
            avg_loss = (avg_loss * (period - 1) + loss) / period
        if i >= period:
            rsi[i] = 100.0 if avg_loss == 0 else 100 - 100 / (1 + avg_gain / avg_loss)
    return rsi


def test_columns_and_index() -> None:
    closes = _series([float(v) for v in range(1, 26)])
    shuffled = closes.sample(frac=1, random_state=7)

    frame = compute_indicators(shuffled)

    assert tuple(frame.columns) == INDICATOR_COLUMNS
    assert frame.index.equals(closes.index)


def test_sma_20_and_bollinger_by_hand() -> None:
    """closes 1..25: the 20-row mean ending at row k is k - 8.5, the sample variance n(n+1)/12."""
    frame = compute_indicators(_series([float(v) for v in range(1, 26)]))

    assert frame["sma_20"].iloc[:19].isna().all()
    assert frame["sma_20"].iloc[19:].tolist() == [10.5, 11.5, 12.5, 13.5, 14.5, 15.5]
    assert frame["sma_50"].isna().all() and frame["sma_200"].isna().all()
    band = 2 * math.sqrt(20 * 21 / 12)  # sample std (ddof=1) of any 20 consecutive integers
    assert frame["bb_middle"].iloc[19] == 10.5
    assert frame["bb_upper"].iloc[24] == pytest.approx(15.5 + band, rel=1e-12)
    assert frame["bb_lower"].iloc[24] == pytest.approx(15.5 - band, rel=1e-12)


def test_ema_and_macd_match_reference_loops() -> None:
    closes = TEXTBOOK_CLOSES * 2

    frame = compute_indicators(_series(closes))

    ema_12, ema_26 = _ema_loop(closes, 12), _ema_loop(closes, 26)
    macd = [a - b for a, b in zip(ema_12, ema_26, strict=True)]
    np.testing.assert_allclose(frame["ema_12"], ema_12, rtol=1e-12)
    np.testing.assert_allclose(frame["ema_26"], ema_26, rtol=1e-12)
    np.testing.assert_allclose(frame["macd"], macd, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(frame["macd_signal"], _ema_loop(macd, 9), rtol=1e-12, atol=1e-12)


def test_rsi_matches_wilder_loop_on_textbook_series() -> None:
    frame = compute_indicators(_series(TEXTBOOK_CLOSES))

    expected = wilder_rsi_reference(TEXTBOOK_CLOSES)
    assert frame["rsi_14"].iloc[:14].isna().all()
    np.testing.assert_allclose(frame["rsi_14"].iloc[14:], expected[14:], rtol=1e-12)
    assert frame["rsi_14"].between(0, 100).iloc[14:].all()


@pytest.mark.parametrize(("step", "expected"), [(1.0, 100.0), (-1.0, 0.0), (0.0, 100.0)])
def test_rsi_of_monotonic_and_flat_series(step: float, expected: float) -> None:
    closes = _series([100 + step * i for i in range(30)])

    rsi = compute_indicators(closes)["rsi_14"]

    assert rsi.iloc[:14].isna().all()
    assert (rsi.iloc[14:] == expected).all()
