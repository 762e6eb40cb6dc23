"""Where daily prices come from: a real source (yfinance) and a deterministic synthetic one.

Frame contract (what every source returns and what validation/storage expect): an OHLCV frame is a
DataFrame with exactly the columns ``OHLCV_COLUMNS``:

* ``trade_date``: ``datetime64[ns]``, midnight (no time of day, no timezone), one row per date;
* ``open, high, low, close, adj_close``: ``float64``;
* ``volume``: ``int64``;

sorted by ``trade_date`` with a fresh ``RangeIndex``. ``datetime64[ns]`` (not ``datetime.date``
objects) keeps the frames vectorisable and writes ``YYYY-MM-DD`` straight into COPY.

Error model: a problem with one ticker never raises, it lands in ``FetchResult.failures`` so the
good tickers of the batch still load. A problem that hits the whole call and will likely pass on
its own (rate limit, network down) raises ``RetryableSourceError`` so the caller (an Airflow
task) is retried as a whole; reruns are idempotent because storage upserts.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

import numpy as np
import pandas as pd
import yfinance as yf
from yfinance.exceptions import YFRateLimitError

PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close")
OHLCV_COLUMNS = ("trade_date", *PRICE_COLUMNS, "volume")
METADATA_KEYS = ("long_name", "sector", "industry", "currency", "market_cap")


class SourceError(Exception):
    """A price source could not deliver data."""


class RetryableSourceError(SourceError):
    """The whole call failed for a reason that usually passes (rate limit, transient HTTP)."""


@dataclass
class FetchResult:
    """Frames for the tickers that loaded and a one-line reason for each ticker that did not."""

    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


class PriceSource(Protocol):
    """What the pipelines need from a market data source."""

    name: str
    synthetic: bool

    def fetch_prices(self, tickers: Sequence[str], start: date, end: date) -> FetchResult:
        """Daily OHLCV frames for ``start``..``end`` inclusive; per-ticker problems in failures."""
        ...

    def fetch_metadata(
        self, tickers: Sequence[str]
    ) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        """Per-ticker dicts with ``METADATA_KEYS``, plus failures (ticker -> reason)."""
        ...


class _MetadataByTicker:
    """``fetch_metadata`` from a per-ticker ``_metadata``: a dict, or the reason it failed."""

    def fetch_metadata(
        self, tickers: Sequence[str]
    ) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        metadata: dict[str, dict[str, Any]] = {}
        failures: dict[str, str] = {}
        for ticker in tickers:
            found = self._metadata(ticker)
            if isinstance(found, str):
                failures[ticker] = found
            else:
                metadata[ticker] = found
        return metadata, failures

    def _metadata(self, ticker: str) -> dict[str, Any] | str:
        raise NotImplementedError


def empty_ohlcv() -> pd.DataFrame:
    """A zero-row frame that still honours the contract's columns and dtypes."""
    return conform_ohlcv(pd.DataFrame({column: [] for column in OHLCV_COLUMNS}))


def conform_ohlcv(frame: pd.DataFrame) -> pd.DataFrame:
    """Cast ``frame`` to the contract: column order, dtypes, midnight dates, sorted by date."""
    out = pd.DataFrame(
        {
            "trade_date": pd.to_datetime(frame["trade_date"]).dt.normalize(),
            **{column: frame[column].astype("float64") for column in PRICE_COLUMNS},
            "volume": frame["volume"].astype("int64"),
        }
    )
    out["trade_date"] = out["trade_date"].astype("datetime64[ns]")
    return out.sort_values("trade_date", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Sample (synthetic) source
# --------------------------------------------------------------------------------------------

_EPOCH = date(1990, 1, 1)  # a Monday: business day 0 of every synthetic series
_MEAN_REVERSION = 1 / 500  # pull of the log price towards its anchor per day (half-life ~1.4 y)


@dataclass(frozen=True)
class _TickerTraits:
    """Per-ticker constants drawn once from the ticker's seed."""

    anchor_price: float  # the level the log price reverts to, 10..500
    daily_vol: float  # 0.01..0.03
    base_volume: float  # 2e5..2e7 shares
    shares_outstanding: float  # 1e7..1e10, for a plausible market cap


def _seed(ticker: str) -> int:
    """Stable across processes, unlike ``hash()`` which is salted per interpreter."""
    return zlib.crc32(ticker.encode("utf-8"))


def _log_uniform(u: float, low: float, high: float) -> float:
    return math.exp(math.log(low) + u * (math.log(high) - math.log(low)))


def _traits(ticker: str) -> _TickerTraits:
    u = np.random.default_rng([_seed(ticker), 0]).random(4)
    return _TickerTraits(
        anchor_price=_log_uniform(float(u[0]), 10.0, 500.0),
        daily_vol=0.01 + 0.02 * float(u[1]),
        base_volume=_log_uniform(float(u[2]), 2e5, 2e7),
        shares_outstanding=_log_uniform(float(u[3]), 1e7, 1e10),
    )


def _synthetic_bars(ticker: str, days: int) -> dict[str, np.ndarray]:
    """OHLCV arrays for business days ``0..days-1`` counted from ``_EPOCH``.

    Every array element ``i`` depends only on the ticker and on draws ``0..i`` (the normals are
    drawn row by row and the walk is a causal filter), so a longer series extends a shorter one
    exactly: any requested window sees the same price for a given (ticker, date).

    The log close is a mean-reverting random walk (Ornstein-Uhlenbeck) around the anchor price, so
    35 years of history stay in a realistic range; the daily log return volatility is
    ``daily_vol``. The filter x[t] = (1-a)·x[t-1] + a·z[t] runs in C via ``ewm(adjust=False)``.
    """
    traits = _traits(ticker)
    z = np.random.default_rng([_seed(ticker), 1]).standard_normal((days, 5))
    shocks = np.concatenate(([0.0], z[:, 0]))  # leading 0: the walk starts at the anchor
    smoothed = pd.Series(shocks).ewm(alpha=_MEAN_REVERSION, adjust=False).mean().to_numpy()[1:]
    sigma = traits.daily_vol
    close = traits.anchor_price * np.exp(sigma / _MEAN_REVERSION * smoothed)
    previous_close = np.concatenate(([traits.anchor_price], close[:-1]))
    open_ = previous_close * np.exp(0.3 * sigma * z[:, 1])
    high = np.maximum(open_, close) * np.exp(0.5 * sigma * np.abs(z[:, 2]))
    low = np.minimum(open_, close) * np.exp(-0.5 * sigma * np.abs(z[:, 3]))
    volume = np.maximum(np.rint(traits.base_volume * np.exp(0.4 * z[:, 4])), 1)
    # Rounding to cents is monotone, so low <= open, close <= high survives it.
    return {
        "open": np.round(open_, 2),
        "high": np.round(high, 2),
        "low": np.round(low, 2),
        "close": np.round(close, 2),
        "volume": volume.astype(np.int64),
    }


def _business_day_index(day: date) -> int:
    """How many Mon-Fri days lie in ``[_EPOCH, day)``."""
    return int(np.busday_count(np.datetime64(_EPOCH, "D"), np.datetime64(day, "D")))


class SampleSource(_MetadataByTicker):
    """Deterministic synthetic prices for the demo and the tests: offline, labelled as synthetic.

    Business days only (Mon-Fri, no holidays), from 1990-01-01 on: earlier dates have no rows.
    ``adj_close`` equals ``close`` (no synthetic dividends or splits). Tickers in ``fail_tickers``
    are reported as failures, to exercise the pipelines' partial-failure paths.
    """

    name = "sample"
    synthetic = True

    def __init__(self, fail_tickers: Iterable[str] = ()) -> None:
        self.fail_tickers = frozenset(fail_tickers)

    def fetch_prices(self, tickers: Sequence[str], start: date, end: date) -> FetchResult:
        result = FetchResult()
        for ticker in tickers:
            if ticker in self.fail_tickers:
                result.failures[ticker] = self._failure(ticker)
            else:
                result.frames[ticker] = self._frame(ticker, start, end)
        return result

    def _metadata(self, ticker: str) -> dict[str, Any] | str:
        if ticker in self.fail_tickers:
            return self._failure(ticker)
        traits = _traits(ticker)
        return {
            "long_name": f"SAMPLE SYNTHETIC DATA: {ticker}",
            "sector": "Synthetic",
            "industry": "Synthetic",
            "currency": "USD",
            "market_cap": int(traits.anchor_price * traits.shares_outstanding),
        }

    @staticmethod
    def _failure(ticker: str) -> str:
        return f"sample source told to fail for {ticker}"

    @staticmethod
    def _frame(ticker: str, start: date, end: date) -> pd.DataFrame:
        first = _business_day_index(max(start, _EPOCH))
        stop = _business_day_index(end + timedelta(days=1))
        if stop <= first:
            return empty_ohlcv()
        bars = {key: values[first:] for key, values in _synthetic_bars(ticker, stop).items()}
        offsets = np.arange(first, stop)
        dates = np.busday_offset(np.datetime64(_EPOCH, "D"), offsets, roll="forward")
        # The arrays already have the contract's dtypes and order: skipping conform_ohlcv's casts
        # halves the cost of a 500-ticker batch.
        return pd.DataFrame(
            {
                "trade_date": dates.astype("datetime64[ns]"),
                "open": bars["open"],
                "high": bars["high"],
                "low": bars["low"],
                "close": bars["close"],
                "adj_close": bars["close"],
                "volume": bars["volume"],
            }
        )


# --------------------------------------------------------------------------------------------
# yfinance source
# --------------------------------------------------------------------------------------------

_RATE_LIMITED = re.compile(r"rate.?limit|too many requests|\b429\b", re.IGNORECASE)
_TRANSIENT = re.compile(
    r"timeout|timed out|connectionerror|failed to connect|couldn't connect|could not resolve"
    r"|connection (?:refused|reset|aborted)|currently down",
    re.IGNORECASE,
)
_YF_COLUMNS = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
}


class _YFinanceLog(logging.Handler):
    """The WARNING+ lines that yfinance logs on the thread that created the handler."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            target = self.errors if record.levelno >= logging.ERROR else self.warnings
            target.append(record.getMessage())


@contextmanager
def _yfinance_log() -> Iterator[_YFinanceLog]:
    """Collect yfinance's log lines for the duration of a call.

    ``yf.download`` reports per-ticker errors, rate limits included, only through the "yfinance"
    logger (1.7 keeps them in a per-call context, not in ``yf.shared._ERRORS``), and a network
    failure of the chart request only shows as a WARNING about the cookie/crumb fetch plus
    "no price data found" errors. With ``threads=False`` all of it happens on the calling
    thread, so filtering on the thread keeps concurrent calls apart. If someone silenced the
    logger we lower it to WARNING for the call: missing a rate limit would turn a retryable
    outage into bogus per-ticker failures.
    """
    logger = logging.getLogger("yfinance")
    handler = _YFinanceLog()
    previous_level = logger.level
    if not logger.isEnabledFor(logging.WARNING):
        logger.setLevel(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _raise_if_retryable(log: _YFinanceLog, *, loaded: int) -> None:
    """A rate limit on any ticker, or network trouble when nothing loaded, fails the whole call.

    Rate limits count only at ERROR level: yfinance WARNs about a rate-limited crumb fetch and
    then often gets the prices anyway.
    """
    rate_limited = [m for m in log.errors if _RATE_LIMITED.search(m)]
    if rate_limited:
        raise RetryableSourceError(f"yfinance rate limited: {_one_line(rate_limited[0])}")
    transient = [m for m in (*log.errors, *log.warnings) if _TRANSIENT.search(m)]
    if transient and loaded == 0:
        raise RetryableSourceError(f"yfinance unreachable: {_one_line(transient[0])}")


def _yfinance_frame(data: pd.DataFrame, ticker: str) -> pd.DataFrame | None:
    """This ticker's slice of a ``group_by="ticker"`` download, in contract form, or None."""
    key = ticker.upper()
    if not isinstance(data.columns, pd.MultiIndex) or key not in data.columns.get_level_values(0):
        return None
    raw = data[key].rename(columns=_YF_COLUMNS)
    if not set(_YF_COLUMNS.values()) <= set(raw.columns):
        return None
    # download() aligns all tickers on one date index: a ticker's missing dates are all-NaN rows.
    raw = raw.dropna(how="all", subset=list(PRICE_COLUMNS))
    if raw.empty:
        return None
    frame = raw.assign(
        trade_date=raw.index,  # tz-naive exchange dates: download() ignores tz for daily bars
        volume=raw["volume"].fillna(0),  # Yahoo leaves volume null for some instruments
    )
    return conform_ohlcv(frame)


def _ticker_reason(messages: Sequence[str], ticker: str) -> str:
    """'no data returned', plus yfinance's own explanation when one of its messages names it."""
    key = ticker.upper()
    named = [m for m in messages if f"'{key}'" in m or f"${key}" in m]
    return f"no data returned ({_one_line(named[-1])})" if named else "no data returned"


class YFinanceSource(_MetadataByTicker):
    """Yahoo Finance through yfinance: real prices, subject to Yahoo's rate limits.

    ``session`` is handed to yfinance as its HTTP session (a curl_cffi or requests Session); leave
    it None in production so yfinance builds its own browser-impersonating session.
    """

    name = "yfinance"
    synthetic = False

    def __init__(self, session: Any | None = None) -> None:
        self.session = session

    def fetch_prices(self, tickers: Sequence[str], start: date, end: date) -> FetchResult:
        if not tickers:
            return FetchResult()
        with _yfinance_log() as log:
            data = yf.download(
                list(tickers),
                start=start.isoformat(),
                end=(end + timedelta(days=1)).isoformat(),  # yfinance's end is exclusive
                group_by="ticker",
                auto_adjust=False,
                actions=False,
                threads=False,
                progress=False,
                session=self.session,
            )
        result = FetchResult()
        for ticker in tickers:
            frame = None if data is None else _yfinance_frame(data, ticker)
            if frame is None:
                result.failures[ticker] = _ticker_reason(log.errors, ticker)
            else:
                result.frames[ticker] = frame
        _raise_if_retryable(log, loaded=len(result.frames))
        return result

    def _metadata(self, ticker: str) -> dict[str, Any] | str:
        try:
            info = yf.Ticker(ticker, session=self.session).info
        except YFRateLimitError as exc:
            raise RetryableSourceError(f"yfinance rate limited: {exc}") from exc
        except Exception as exc:  # yfinance raises many types; one ticker must not sink all
            return _one_line(f"{type(exc).__name__}: {exc}")
        if not info or not (info.get("longName") or info.get("shortName")):
            return "no metadata returned"
        return _metadata_from_info(info)


def _metadata_from_info(info: Mapping[str, Any]) -> dict[str, Any]:
    market_cap = info.get("marketCap")
    return {
        "long_name": info.get("longName") or info.get("shortName"),
        "sector": info.get("sector"),
        "industry": info.get("industry"),
        "currency": info.get("currency"),
        "market_cap": int(market_cap) if market_cap is not None else None,
    }


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


def _yfinance_factory(fail_tickers: frozenset[str]) -> PriceSource:
    if fail_tickers:
        raise ValueError("fail_tickers only applies to the 'sample' source")
    return YFinanceSource()


_FACTORIES: dict[str, Callable[[frozenset[str]], PriceSource]] = {
    SampleSource.name: SampleSource,
    YFinanceSource.name: _yfinance_factory,
}
SOURCE_NAMES: tuple[str, ...] = tuple(_FACTORIES)


def get_source(name: str, *, fail_tickers: Iterable[str] = ()) -> PriceSource:
    """The source registered under ``name`` (see ``SOURCE_NAMES``)."""
    try:
        factory = _FACTORIES[name]
    except KeyError:
        valid = ", ".join(SOURCE_NAMES)
        raise ValueError(f"unknown market data source {name!r}; valid: {valid}") from None
    return factory(frozenset(fail_tickers))
