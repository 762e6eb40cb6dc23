"""Technical indicators over a security's full close history, vectorised with pandas."""

from __future__ import annotations

import pandas as pd

INDICATOR_COLUMNS = (
    "sma_20",
    "sma_50",
    "sma_200",
    "ema_12",
    "ema_26",
    "macd",
    "macd_signal",
    "rsi_14",
    "bb_upper",
    "bb_middle",
    "bb_lower",
)

_RSI_PERIOD = 14


def compute_indicators(closes: pd.Series) -> pd.DataFrame:
    """Indicators for every date of ``closes`` (index = trade dates), returned sorted by date.

    Conventions, chosen to match common charting packages:

    * ``sma_N``: rolling mean over N rows, ``min_periods=N``, so NaN for the first N-1 rows
      (a partial window would mislead).
    * ``ema_N``: ``ewm(span=N, adjust=False)``, i.e. alpha = 2/(N+1), seeded with the first close;
      defined from the first row.
    * ``macd`` = ema_12 - ema_26; ``macd_signal`` = ``ewm(span=9, adjust=False)`` of macd.
    * ``rsi_14``: Wilder smoothing done as ``ewm(alpha=1/14, adjust=False)`` of gains and of
      losses of the close-to-close changes, seeded with the first change (not with the simple
      mean of the first 14 changes, so early values differ slightly from Wilder's book and
      converge after a few dozen rows). NaN for the first 14 rows (fewer than 14 changes);
      100 when the average loss is 0 (including a flat series).
    * Bollinger 20/2: ``bb_middle`` = sma_20, ``bb_upper``/``bb_lower`` = sma_20 ± 2 × the rolling
      20-row *sample* standard deviation (ddof=1, pandas' default).

    Indicators are recomputed over the full history each time: the EMAs and RSI depend on every
    earlier close, so an incremental update would drift from a full recomputation.
    """
    close = closes.sort_index().astype("float64")
    ema_12 = _ema(close, 12)
    ema_26 = _ema(close, 26)
    macd = ema_12 - ema_26
    sma_20 = _sma(close, 20)
    band = 2 * close.rolling(20, min_periods=20).std(ddof=1)
    return pd.DataFrame(
        {
            "sma_20": sma_20,
            "sma_50": _sma(close, 50),
            "sma_200": _sma(close, 200),
            "ema_12": ema_12,
            "ema_26": ema_26,
            "macd": macd,
            "macd_signal": _ema(macd, 9),
            "rsi_14": _rsi(close, _RSI_PERIOD),
            "bb_upper": sma_20 + band,
            "bb_middle": sma_20,
            "bb_lower": sma_20 - band,
        },
        index=close.index,
    )


def _sma(values: pd.Series, window: int) -> pd.Series:
    return values.rolling(window, min_periods=window).mean()


def _ema(values: pd.Series, span: int) -> pd.Series:
    return values.ewm(span=span, adjust=False).mean()


def _rsi(close: pd.Series, period: int) -> pd.Series:
    change = close.diff()
    smoothing = {"alpha": 1 / period, "adjust": False, "min_periods": period}
    average_gain = change.clip(lower=0).ewm(**smoothing).mean()
    average_loss = (-change).clip(lower=0).ewm(**smoothing).mean()
    rsi = 100 - 100 / (1 + average_gain / average_loss)
    return rsi.mask(average_loss == 0, 100.0)  # no losses: RSI is 100 by definition
