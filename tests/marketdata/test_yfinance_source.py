"""YFinanceSource against yfinance's own code, with only the HTTP transport replaced.

No network reaches Yahoo from here, so ``FakeYahoo`` is a curl_cffi Session (the class yfinance
itself uses) whose ``request`` answers like Yahoo's endpoints: v8 chart JSON built from canned
daily bars, quoteSummary/quote JSON for metadata, 404 "No data found" for unknown symbols, 429 when
rate limited. Everything between ``YFinanceSource`` and the transport is the real yfinance.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import pytest
import yfinance as yf
from curl_cffi import requests as curl_requests
from curl_cffi.requests.exceptions import ConnectionError as CurlConnectionError
from sqlalchemy import Engine
from yfinance.data import YfData

from hubctl.marketdata.collect import BatchReport, download
from hubctl.marketdata.sources import (
    OHLCV_COLUMNS,
    RetryableSourceError,
    SampleSource,
    YFinanceSource,
)
from hubctl.marketdata.validation import validate_ohlcv
from tests.support.marketdata import fetch_log_of, recorded_fetches

EXCHANGE_TZ = "America/New_York"
QUOTE_KEYS = ("open", "high", "low", "close", "volume")
NOT_FOUND_PAGE = "<html><body><h1>Not Found</h1></body></html>"
NOT_FOUND = {"code": "Not Found", "description": "No data found, symbol may be delisted"}
COMPANIES = {
    "AAPL": {"longName": "Apple Inc.", "sector": "Technology", "industry": "Consumer Electronics"},
    "MSFT": {"longName": "Microsoft Corporation", "sector": "Technology", "industry": "Software"},
}


def _response(url: str, status: int, body: Any) -> curl_requests.Response:
    response = curl_requests.Response()
    response.url = url
    response.status_code = status
    response.ok = status < 400
    response.reason = {200: "OK", 404: "Not Found", 429: "Too Many Requests"}.get(status, "")
    if isinstance(body, str):
        response.content = body.encode()
        response.headers["Content-Type"] = "text/html;charset=utf-8"
    else:
        response.content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json;charset=utf-8"
    return response


def _bar_timestamps(dates: pd.DatetimeIndex) -> list[int]:
    """Yahoo stamps a daily bar with the session's open, 09:30 exchange time, in epoch seconds."""
    opens = (dates + pd.Timedelta(hours=9, minutes=30)).tz_localize(EXCHANGE_TZ)
    return [int(ts.timestamp()) for ts in opens]


class FakeYahoo(curl_requests.Session):
    """A Session whose transport is a canned Yahoo Finance; records the URLs requested."""

    def __init__(self, bars: dict[str, pd.DataFrame], *, mode: str = "ok") -> None:
        super().__init__()
        self.bars = bars
        self.mode = mode  # "ok", "rate_limited" (HTTP 429 everywhere) or "down" (no network)
        self.urls: list[str] = []

    def request(self, method: Any, url: str, params: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
        self.urls.append(url)
        if self.mode == "down":
            raise CurlConnectionError("Failed to connect to query2.finance.yahoo.com port 443")
        if self.mode == "rate_limited":
            return _response(url, 429, "Too Many Requests")
        path = urlsplit(url).path
        if "/v1/test/getcrumb" in path:
            return _response(url, 200, "fake-crumb")
        if "/v8/finance/chart/" in path:
            return self._chart(url, path.rsplit("/", 1)[-1], params or {})
        if "/v10/finance/quoteSummary/" in path:
            return self._quote_summary(url, path.rsplit("/", 1)[-1])
        if "/v7/finance/quote" in path:
            return self._quote(url, (params or {}).get("symbols", ""))
        if "/fundamentals-timeseries/" in path:
            return _response(url, 200, {"timeseries": {"result": [], "error": None}})
        return _response(url, 404, NOT_FOUND_PAGE)  # fc.yahoo.com cookie, consent pages, ...

    def _chart(self, url: str, symbol: str, params: dict[str, Any]) -> curl_requests.Response:
        if symbol not in self.bars:
            return _response(url, 404, {"chart": {"result": None, "error": NOT_FOUND}})
        bars = self.bars[symbol]
        stamps = pd.Series(_bar_timestamps(pd.DatetimeIndex(bars.index)), index=bars.index)
        if "period1" in params:
            in_range = (stamps >= params["period1"]) & (stamps < params["period2"])
            bars, stamps = bars[in_range], stamps[in_range]
        else:  # range=1d: yfinance only wants the metadata (exchange timezone)
            bars, stamps = bars.tail(1), stamps.tail(1)
        result = {
            "meta": {
                "currency": "USD",
                "symbol": symbol,
                "exchangeName": "NMS",
                "instrumentType": "EQUITY",
                "gmtoffset": -18000,
                "timezone": "EST",
                "exchangeTimezoneName": EXCHANGE_TZ,
                "priceHint": 2,
                "dataGranularity": "1d",
                "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "5y", "max"],
            },
            "indicators": {"quote": [{}], "adjclose": [{}]},  # Yahoo's shape for "no bars"
        }
        if not bars.empty:
            result["timestamp"] = stamps.tolist()
            result["indicators"] = {
                "quote": [{key: bars[key].tolist() for key in QUOTE_KEYS}],
                "adjclose": [{"adjclose": bars["adj_close"].tolist()}],
            }
        return _response(url, 200, {"chart": {"result": [result], "error": None}})

    def _quote_summary(self, url: str, symbol: str) -> curl_requests.Response:
        if symbol not in COMPANIES:
            error = {"code": "Not Found", "description": f"Quote not found for symbol: {symbol}"}
            return _response(url, 404, {"quoteSummary": {"result": None, "error": error}})
        company = COMPANIES[symbol]
        module = {
            "assetProfile": {"sector": company["sector"], "industry": company["industry"]},
            "quoteType": {"symbol": symbol, "longName": company["longName"], "quoteType": "EQUITY"},
            "summaryDetail": {"currency": "USD", "marketCap": 3_000_000_000_000},
        }
        return _response(url, 200, {"quoteSummary": {"result": [module], "error": None}})

    def _quote(self, url: str, symbol: str) -> curl_requests.Response:
        if symbol not in COMPANIES:
            return _response(url, 404, {"quoteResponse": {"result": [], "error": None}})
        row = {"symbol": symbol, "longName": COMPANIES[symbol]["longName"], "currency": "USD"}
        return _response(url, 200, {"quoteResponse": {"result": [row], "error": None}})


@pytest.fixture(scope="module", autouse=True)
def yfinance_disk_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """yfinance caches exchange timezones and cookies on disk: keep them out of ~/.cache.

    The location binds on first use and then holds for the process, so tests must not depend on
    whether a ticker's timezone is cached; the one that does warms the cache itself.
    """
    yf.set_tz_cache_location(str(tmp_path_factory.mktemp("yfinance-cache")))


@pytest.fixture(autouse=True)
def fresh_response_cache() -> Iterator[None]:
    """yfinance memoises past-dated GETs in its YfData singleton: no test may see another's."""
    YfData.cache_get.cache_clear()
    yield
    YfData.cache_get.cache_clear()


def _bars(ticker: str) -> pd.DataFrame:
    """Realistic daily bars for 2024-01-02..2024-01-19, indexed by date (from the sample source)."""
    frame = SampleSource().fetch_prices([ticker], date(2024, 1, 2), date(2024, 1, 19)).frames
    return frame[ticker].set_index("trade_date")


def test_prices_are_parsed_into_the_frame_contract_for_the_inclusive_window() -> None:
    bars = {"AAPL": _bars("AAPL"), "MSFT": _bars("MSFT")}
    source = YFinanceSource(session=FakeYahoo(bars))

    result = source.fetch_prices(["AAPL", "MSFT"], date(2024, 1, 3), date(2024, 1, 10))

    assert result.failures == {}
    for ticker in ("AAPL", "MSFT"):
        frame = result.frames[ticker]
        expected = bars[ticker].loc["2024-01-03":"2024-01-10"].reset_index()
        assert list(frame.columns) == list(OHLCV_COLUMNS)
        assert frame["trade_date"].dtype == "datetime64[ns]"
        assert frame["volume"].dtype == "int64"
        pd.testing.assert_frame_equal(frame, expected[list(OHLCV_COLUMNS)])
        assert validate_ohlcv(frame) == []


def test_http_429_surfaces_as_retryable() -> None:
    source = YFinanceSource(session=FakeYahoo({"AAPL": _bars("AAPL")}, mode="rate_limited"))

    with pytest.raises(RetryableSourceError, match="rate limited"):
        source.fetch_prices(["AAPL", "MSFT"], date(2024, 1, 3), date(2024, 1, 10))


@pytest.mark.parametrize(
    ("missing", "yahoo_has"),
    [
        ("NOPE", {}),  # unknown symbol: Yahoo answers 404 "No data found"
        ("MSFT", {"MSFT": _bars("MSFT").loc["2024-01-16":]}),  # known, but no bars in the window
    ],
)
def test_ticker_without_data_is_a_failure_while_the_other_loads(
    missing: str, yahoo_has: dict[str, pd.DataFrame]
) -> None:
    source = YFinanceSource(session=FakeYahoo({"AAPL": _bars("AAPL"), **yahoo_has}))

    result = source.fetch_prices(["AAPL", missing], date(2024, 1, 3), date(2024, 1, 10))

    assert list(result.frames) == ["AAPL"]
    assert len(result.frames["AAPL"]) == 6
    assert list(result.failures) == [missing]
    reason = result.failures[missing]
    assert reason.startswith("no data returned (") and "delisted" in reason  # yfinance's words
    assert "\n" not in reason


@pytest.mark.parametrize("timezone_cached", [False, True])
def test_no_network_at_all_is_retryable(timezone_cached: bool) -> None:
    """yfinance logs a dead network differently when it already knows the exchange timezone."""
    tickers = ["IBM", "ORCL"] if timezone_cached else ["INTC", "CSCO"]
    if timezone_cached:
        warm = YFinanceSource(session=FakeYahoo({t: _bars(t) for t in tickers}))
        assert warm.fetch_prices(tickers, date(2024, 1, 3), date(2024, 1, 10)).failures == {}
    YfData.cache_get.cache_clear()
    source = YFinanceSource(session=FakeYahoo({}, mode="down"))

    with pytest.raises(RetryableSourceError, match="unreachable"):
        source.fetch_prices(tickers, date(2024, 1, 3), date(2024, 1, 10))


@pytest.mark.parametrize(
    ("mode", "yahoo_has", "recorded"),
    [
        ("ok", {"AAPL": _bars("AAPL")}, (True, None)),  # MSFT unknown: a per-ticker failure
        ("rate_limited", {}, (False, "RetryableSourceError: ")),
        ("down", {}, (False, "RetryableSourceError: ")),
    ],
)
def test_each_yahoo_call_is_recorded_as_a_fetch(
    engine: Engine, mode: str, yahoo_has: dict[str, pd.DataFrame], recorded: tuple[bool, str | None]
) -> None:
    """What source_unreachable counts: a call Yahoo answered is ok, whatever it said per ticker."""
    YfData.cache_get.cache_clear()
    source = YFinanceSource(session=FakeYahoo(yahoo_has, mode=mode))
    starts = dict.fromkeys(["AAPL", "MSFT"], date(2024, 1, 3))
    report = BatchReport.new("us_markets", source, starts)
    log = fetch_log_of(engine, "us_markets")
    try:
        download(source, report, starts, date(2024, 1, 10), fetch_log=log)
    except RetryableSourceError:
        assert mode != "ok"
    ((group, ok, error),) = recorded_fetches(engine)
    assert (group, ok) == ("us_markets", recorded[0])
    assert error == recorded[1] if recorded[1] is None else error.startswith(recorded[1])


def test_metadata_is_mapped_and_unknown_tickers_fail() -> None:
    source = YFinanceSource(session=FakeYahoo({}))

    metadata, failures = source.fetch_metadata(["AAPL", "NOPE"])

    assert metadata == {
        "AAPL": {
            "long_name": "Apple Inc.",
            "sector": "Technology",
            "industry": "Consumer Electronics",
            "currency": "USD",
            "market_cap": 3_000_000_000_000,
        }
    }
    assert list(failures) == ["NOPE"]


def test_metadata_rate_limit_is_retryable() -> None:
    source = YFinanceSource(session=FakeYahoo({}, mode="rate_limited"))

    with pytest.raises(RetryableSourceError):
        source.fetch_metadata(["AAPL"])


def test_empty_ticker_list_makes_no_request() -> None:
    session = FakeYahoo({})

    result = YFinanceSource(session=session).fetch_prices([], date(2024, 1, 3), date(2024, 1, 10))

    assert (result.frames, result.failures) == ({}, {})
    assert session.urls == []


@pytest.mark.parametrize(
    ("calendar", "fetched"), [("XNYS", False), ("weekday", True)], ids=["XNYS", "weekday"]
)
def test_a_window_of_holidays_only_succeeds_with_nothing_to_load(
    calendar: str, fetched: bool
) -> None:
    """AAPL is stored up to Friday 2024-01-12; the next run's window is Monday 15th alone, Martin
    Luther King Day. Yahoo has no bar for it: asked, yfinance reports the ticker as failed (the
    weekday calendar); with XNYS the window holds no session, so nobody asks and nothing fails."""
    holiday = date(2024, 1, 15)
    bars = _bars("AAPL")
    session = FakeYahoo({"AAPL": bars[bars.index != pd.Timestamp(holiday)]})  # Yahoo: no bar
    source = YFinanceSource(session=session)
    report = BatchReport.new("us_markets", source, ["AAPL"])

    frames = download(source, report, {"AAPL": holiday}, holiday, calendar)

    assert frames == {}
    if fetched:
        assert list(report.failures) == ["AAPL"] and session.urls
    else:
        assert report.failures == {} and session.urls == []
        assert report.stages["download"] == {"ok": 0, "rows": 0, "up_to_date": 1}
