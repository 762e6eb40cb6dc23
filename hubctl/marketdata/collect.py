"""One batch of the daily collection: register → download → validate → upsert → metadata.

Airflow-free: a DAG task calls ``collect_batch`` for its batch and pushes the returned report.
The stage functions (``register``, ``download``, ``validate``, ``store_prices``) are shared with
the historical load.

Failure model (per ticker, never per batch): a ticker that fails a stage is recorded in the
report's ``failures`` as ``"<stage>: <reason>"`` and skips the later stages, while the batch's
other tickers carry on. Only when *every* ticker failed does the batch raise ``BatchFailedError``
so that Airflow retries it; a source outage (``RetryableSourceError``) or a database error
raises at once for the same reason. Each stage that writes commits on its own, and every write
is an idempotent upsert, so a retried or rerun batch ends with the same rows.

Each call to the source is told to a ``FetchLog`` when the caller passes one (the collection DAG
records it in hub.source_fetches, what the source_unreachable alert counts): ``None`` when the call
reached the source (tickers it had no data for are per-ticker failures, not a failed fetch), else
the error that made the whole call fail, which is raised on as before.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy.engine import Engine

from hubctl import calendars
from hubctl.marketdata import storage
from hubctl.marketdata.sources import FetchResult, PriceSource, SourceError, get_source
from hubctl.marketdata.validation import validate_stacked
from hubctl.tables import TICKER_PATTERN

T = TypeVar("T")
# Told the outcome of each source call: None when it reached the source, else the error's text.
FetchLog = Callable[[str | None], None]
log = logging.getLogger(__name__)
SYNTHETIC_LABEL = "SYNTHETIC: the 'sample' source generates prices; they are not market data"


class BatchFailedError(RuntimeError):
    """Every ticker of the batch failed: raised so that Airflow retries the batch."""


@dataclass
class BatchReport:
    """What a batch did: per-stage counts, failed tickers with reasons, securities written.

    ``stages`` maps a stage to counters such as ``ok``, ``failed`` and ``rows``;
    ``security_ids`` are the securities whose prices were inserted or changed (the indicators
    job's input). ``as_dict`` is the JSON form pushed to XCom.
    """

    group: str
    source: str
    synthetic: bool
    tickers: list[str]
    stages: dict[str, Counter[str]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    security_ids: list[int] = field(default_factory=list)

    @classmethod
    def new(cls, group: str, source: PriceSource, tickers: Iterable[str]) -> BatchReport:
        return cls(group=group, source=source.name, synthetic=source.synthetic, tickers=[*tickers])

    def count(self, stage: str, **counts: int) -> None:
        self.stages.setdefault(stage, Counter()).update(counts)

    def fail(self, stage: str, reasons: Mapping[str, str]) -> None:
        """Record tickers that failed ``stage``; a ticker keeps its first failure."""
        for ticker, reason in reasons.items():
            self.failures.setdefault(ticker, f"{stage}: {reason}")
        self.count(stage, failed=len(reasons))

    def raise_if_all_failed(self) -> None:
        if self.tickers and all(ticker in self.failures for ticker in self.tickers):
            listed = "; ".join(f"{ticker}: {reason}" for ticker, reason in self.failures.items())
            raise BatchFailedError(f"every ticker of the batch failed: {listed}")

    def as_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["stages"] = {stage: dict(counts) for stage, counts in self.stages.items()}
        if self.synthetic:
            document["label"] = SYNTHETIC_LABEL
        return document


# --------------------------------------------------------------------------------------------
# Planning (the tasks before the mapped batches)
# --------------------------------------------------------------------------------------------


def validate_tickers(
    tickers: Iterable[Sequence[str]], exchanges: Iterable[str]
) -> tuple[list[list[str]], dict[str, str]]:
    """(ticker, exchange) pairs a batch can load, and the rejected ones with a reason.

    Rejects malformed symbols, exchanges outside the group and repeated tickers.
    """
    allowed = set(exchanges)
    valid: dict[str, str] = {}
    rejected: dict[str, str] = {}
    for ticker, exchange in tickers:
        if not re.fullmatch(TICKER_PATTERN, ticker):
            rejected[ticker] = "malformed ticker symbol"
        elif exchange not in allowed:
            rejected[ticker] = f"exchange {exchange} is not one of the group's"
        elif ticker in valid:
            rejected[ticker] = "listed twice"
        else:
            valid[ticker] = exchange
    return [[ticker, exchange] for ticker, exchange in valid.items()], rejected


def plan_batches(items: Sequence[T], batch_size: int) -> list[list[T]]:
    """``items`` cut into consecutive batches of at most ``batch_size``."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, not {batch_size}")
    return [list(items[start : start + batch_size]) for start in range(0, len(items), batch_size)]


def trading_date(moment: datetime, timezone: str) -> date:
    """The exchange-local calendar date of ``moment`` (a run's logical date, aware)."""
    return moment.astimezone(ZoneInfo(timezone)).date()


# --------------------------------------------------------------------------------------------
# The batch
# --------------------------------------------------------------------------------------------


def collect_batch(
    engine: Engine,
    *,
    group: str,
    tickers: Iterable[Sequence[str]],
    source_name: str,
    end_date: date,
    lookback_days: int,
    fail_tickers: Iterable[str] = (),
    calendar: str = calendars.WEEKDAY,
    fetch_log: FetchLog | None = None,
) -> BatchReport:
    """Collect ``tickers`` ((ticker, exchange) pairs) up to ``end_date``; see the module doc.

    Each ticker is fetched from the day after its last stored date, but from no earlier than
    ``end_date - lookback_days``: missed runs heal on the next one, within the lookback. A run
    for a day that is no session of ``calendar`` (a manual trigger on a holiday) does nothing.
    """
    source = get_source(source_name, fail_tickers=fail_tickers)
    listed = {ticker: exchange for ticker, exchange in tickers}
    report = BatchReport.new(group, source, listed)
    if not calendars.has_session(calendar, end_date, end_date):
        log.info("%s is not a trading session of %s: nothing to collect", end_date, calendar)
        report.count("download", up_to_date=len(listed))
        return report
    ids = register(engine, report, listed)
    starts = fetch_starts(engine, ids, end_date, lookback_days)
    rows = validate(report, download(source, report, starts, end_date, calendar, fetch_log), ids)
    store_prices(engine, report, rows, source.name)
    store_metadata(engine, report, source, ids)
    report.raise_if_all_failed()
    return report


def register(engine: Engine, report: BatchReport, tickers: Mapping[str, str]) -> dict[str, int]:
    """Security ids of ``tickers`` (ticker -> exchange), registering new ones."""
    with engine.begin() as conn:
        ids = storage.register_securities(conn, tickers=tickers)
    report.count("register", ok=len(ids))
    return ids


def fetch_starts(
    engine: Engine, ids: Mapping[str, int], end_date: date, lookback_days: int
) -> dict[str, date]:
    """Per ticker: the day after its last stored date, but no earlier than the lookback."""
    earliest = end_date - timedelta(days=lookback_days)
    with engine.connect() as conn:
        last = storage.last_trade_dates(conn, security_ids=ids.values())
    return {
        ticker: max(earliest, last[security_id] + timedelta(days=1))
        if security_id in last
        else earliest
        for ticker, security_id in ids.items()
    }


def download(
    source: PriceSource,
    report: BatchReport,
    starts: Mapping[str, date],
    end: date,
    calendar: str = calendars.WEEKDAY,
    fetch_log: FetchLog | None = None,
) -> dict[str, pd.DataFrame]:
    """Prices from each ticker's start to ``end``: one source call per distinct start date.

    A window without a session of ``calendar`` (a weekend, a holiday) cannot hold a bar, so its
    ticker is ``up_to_date`` unfetched: Yahoo would answer it with nothing, which is a failure.
    """
    due = {
        ticker: start
        for ticker, start in starts.items()
        if start <= end and calendars.has_session(calendar, start, end)
    }
    frames: dict[str, pd.DataFrame] = {}
    for start, group in groupby(sorted(due, key=due.__getitem__), key=due.__getitem__):
        result = fetch_prices(source, list(group), start, end, fetch_log)
        frames.update(result.frames)
        report.fail("download", result.failures)
    rows = sum(len(frame) for frame in frames.values())
    report.count("download", ok=len(frames), rows=rows, up_to_date=len(starts) - len(due))
    return frames


def fetch_prices(
    source: PriceSource, tickers: list[str], start: date, end: date, fetch_log: FetchLog | None
) -> FetchResult:
    """One source call, told to ``fetch_log``: a source or network error is a failed fetch."""
    try:
        result = source.fetch_prices(tickers, start, end)
    except (SourceError, OSError) as error:
        if fetch_log is not None:
            fetch_log(f"{type(error).__name__}: {error}")
        raise
    if fetch_log is not None:
        fetch_log(None)
    return result


def validate(
    report: BatchReport, frames: Mapping[str, pd.DataFrame], ids: Mapping[str, int]
) -> pd.DataFrame:
    """The frames stacked by ``security_id``, without the tickers that have a bad row.

    Those tickers fail "validate" with the problems found (all checks run once over the batch).
    """
    rows = storage.stack_frames({ids[ticker]: frame for ticker, frame in frames.items()})
    problems = validate_stacked(rows, "security_id")
    tickers = {security_id: ticker for ticker, security_id in ids.items()}
    report.fail("validate", {tickers[key]: "; ".join(found) for key, found in problems.items()})
    if problems:
        rows = rows[~rows["security_id"].isin(list(problems))]
    report.count("validate", ok=len(frames) - len(problems), rows=len(rows))
    return rows


def store_prices(engine: Engine, report: BatchReport, rows: pd.DataFrame, source: str) -> None:
    """Upsert ``rows``; the securities that changed become ``report.security_ids``."""
    with engine.begin() as conn:
        written = storage.upsert_ohlcv(conn, rows=rows, source=source)
    report.count("upsert", securities=len(written.security_ids), rows=written.rows)
    report.security_ids = sorted({*report.security_ids, *written.security_ids})


def store_metadata(
    engine: Engine, report: BatchReport, source: PriceSource, ids: Mapping[str, int]
) -> None:
    """Fetch and upsert metadata for the tickers that have not failed an earlier stage."""
    pending = [ticker for ticker in ids if ticker not in report.failures]
    metadata, failures = source.fetch_metadata(pending) if pending else ({}, {})
    report.fail("metadata", failures)
    with engine.begin() as conn:
        written = storage.upsert_metadata(
            conn,
            metadata={ids[ticker]: info for ticker, info in metadata.items()},
            source=source.name,
        )
    report.count("metadata", ok=len(metadata), changed=written)


# --------------------------------------------------------------------------------------------
# The run's report
# --------------------------------------------------------------------------------------------


def summarise(reports: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One run's report from its batches' ``as_dict`` reports: summed counts, all failures."""
    batches = list(reports)
    stages: dict[str, Counter[str]] = {}
    failures: dict[str, str] = {}
    security_ids: set[int] = set()
    for batch in batches:
        for stage, counts in batch["stages"].items():
            stages.setdefault(stage, Counter()).update(counts)
        failures.update(batch["failures"])
        security_ids.update(batch["security_ids"])
    summary: dict[str, Any] = {
        "batches": len(batches),
        "tickers": sum(len(batch["tickers"]) for batch in batches),
        "sources": sorted({batch["source"] for batch in batches}),
        "stages": {stage: dict(counts) for stage, counts in stages.items()},
        "failed": len(failures),
        "failures": dict(sorted(failures.items())),
        "security_ids": sorted(security_ids),
    }
    if any(batch["synthetic"] for batch in batches):
        summary["label"] = SYNTHETIC_LABEL
    return summary
