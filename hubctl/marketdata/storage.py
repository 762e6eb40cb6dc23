"""SQL for the ``market`` schema (created by the project's migrations).

Every function takes a SQLAlchemy ``Connection`` and runs inside the caller's transaction. Bulk
writes go through one path, ``_copy_upsert``: a binary COPY (``pgcopy``) into a temporary table,
then a single ``INSERT … ON CONFLICT DO UPDATE … WHERE … IS DISTINCT FROM …``. COPY is the fastest
way into PostgreSQL, and the ``IS DISTINCT FROM`` guard makes reruns write nothing: the counts
returned are "rows inserted or changed", and ``loaded_at``/``computed_at`` only move when data
really changed, which is what the indicators job relies on to find stale rows.

Bulk inputs are *stacked* frames: one DataFrame for many securities with a ``security_id``
column (``stack_frames`` builds one from per-security frames without copying twice).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from hubctl.marketdata import pgcopy
from hubctl.marketdata.indicators import INDICATOR_COLUMNS
from hubctl.marketdata.sources import METADATA_KEYS, PRICE_COLUMNS

Key = TypeVar("Key")
OHLCV_VALUES = (*PRICE_COLUMNS, "volume")


@dataclass(frozen=True)
class Written:
    """Rows an upsert inserted or changed, and the securities written by its transaction."""

    rows: int
    security_ids: list[int]


@dataclass(frozen=True)
class LoadProgress:
    """Watermark of a group's historical load: every day up to ``loaded_through`` is done."""

    group_name: str
    start_date: date
    loaded_through: date | None


def stack_frames(frames: Mapping[Key, pd.DataFrame], key: str = "security_id") -> pd.DataFrame:
    """One frame for all of ``frames`` with their mapping key in a leading ``key`` column.

    One concatenation and a ``np.repeat`` for the key: no per-frame copy with an added column.
    """
    parts = [frame for frame in frames.values() if len(frame)]
    if not parts:
        return pd.DataFrame(columns=[key])
    stacked = pd.concat(parts, ignore_index=True)
    lengths = [len(frame) for frame in frames.values() if len(frame)]
    keys = [name for name, frame in frames.items() if len(frame)]
    stacked.insert(0, key, np.repeat(np.asarray(keys), lengths))
    return stacked


# --------------------------------------------------------------------------------------------
# Securities
# --------------------------------------------------------------------------------------------


def register_securities(conn: Connection, *, tickers: Mapping[str, str]) -> dict[str, int]:
    """Ids for ``tickers`` (ticker -> exchange), inserting the unknown ones.

    An already registered ticker keeps its original exchange: ids are stable and referenced by
    every price row, so registration never rewrites them.
    """
    if not tickers:
        return {}
    names = list(tickers)
    conn.execute(
        text(
            "INSERT INTO market.securities (ticker, exchange) "
            "SELECT * FROM unnest(CAST(:tickers AS text[]), CAST(:exchanges AS text[])) "
            "ON CONFLICT (ticker) DO NOTHING"
        ),
        {"tickers": names, "exchanges": [tickers[name] for name in names]},
    )
    rows = conn.execute(
        text(
            "SELECT ticker, security_id FROM market.securities "
            "WHERE ticker = ANY(CAST(:tickers AS text[]))"
        ),
        {"tickers": names},
    )
    return {ticker: int(security_id) for ticker, security_id in rows}


# --------------------------------------------------------------------------------------------
# Prices
# --------------------------------------------------------------------------------------------


def last_trade_dates(conn: Connection, *, security_ids: Iterable[int]) -> dict[int, date]:
    """Latest stored trade date per security; securities without prices are absent."""
    rows = conn.execute(
        text(
            "SELECT security_id, max(trade_date) FROM market.ohlcv "
            "WHERE security_id = ANY(CAST(:ids AS bigint[])) GROUP BY security_id"
        ),
        {"ids": list(security_ids)},
    )
    return {int(security_id): last for security_id, last in rows}


def existing_dates(
    conn: Connection, *, security_ids: Iterable[int], start: date, end: date
) -> set[tuple[int, date]]:
    """(security_id, trade_date) pairs already stored within ``start``..``end`` inclusive."""
    rows = conn.execute(
        text(
            "SELECT security_id, trade_date FROM market.ohlcv "
            "WHERE security_id = ANY(CAST(:ids AS bigint[])) "
            "AND trade_date BETWEEN :start AND :end"
        ),
        {"ids": list(security_ids), "start": start, "end": end},
    )
    return {(int(security_id), trade_date) for security_id, trade_date in rows}


def upsert_ohlcv(conn: Connection, *, rows: pd.DataFrame, source: str) -> Written:
    """Write stacked contract-shaped OHLCV rows; returns what was inserted or changed.

    A row whose values and source are unchanged is left alone (and keeps its ``loaded_at``).
    """
    count = _copy_upsert(
        conn,
        table="ohlcv",
        keys=("security_id", "trade_date"),
        values=OHLCV_VALUES,
        stamp="loaded_at",
        frame=rows,
        constants={"source": source},
    )
    if not count:
        return Written(0, [])
    return Written(count, _written_now(conn, rows["security_id"].unique().tolist()))


def _written_now(conn: Connection, security_ids: list[int]) -> list[int]:
    """Which of ``security_ids`` have a price row written by this transaction.

    ``loaded_at`` is the transaction's ``now()``, so this is one scan of ``ix_ohlcv_loaded_at``:
    ~6x cheaper than ``RETURNING`` a million rows.
    """
    found = conn.execute(
        text(
            "SELECT DISTINCT security_id FROM market.ohlcv WHERE loaded_at = now() "
            "AND security_id = ANY(CAST(:ids AS bigint[])) ORDER BY security_id"
        ),
        {"ids": security_ids},
    )
    return [int(security_id) for (security_id,) in found]


# --------------------------------------------------------------------------------------------
# Metadata
# --------------------------------------------------------------------------------------------


def upsert_metadata(
    conn: Connection, *, metadata: Mapping[int, Mapping[str, Any]], source: str
) -> int:
    """Write one metadata row per security (keys ``METADATA_KEYS``); returns rows changed."""
    frame = pd.DataFrame.from_records(
        [
            {"security_id": security_id, **{key: info.get(key) for key in METADATA_KEYS}}
            for security_id, info in metadata.items()
        ],
        columns=["security_id", *METADATA_KEYS],
    )
    frame["market_cap"] = frame["market_cap"].astype("Int64")  # bigint, NULL allowed
    return _copy_upsert(
        conn,
        table="security_metadata",
        keys=("security_id",),
        values=METADATA_KEYS,
        stamp="updated_at",
        frame=frame,
        constants={"source": source},
    )


# --------------------------------------------------------------------------------------------
# Indicators
# --------------------------------------------------------------------------------------------

_CLOSES_FIELDS: tuple[tuple[str, pgcopy.Kind], ...] = (
    ("security_id", "int8"),
    ("trade_date", "date"),
    ("close", "float8"),
)


def load_closes(conn: Connection, *, security_ids: Iterable[int]) -> dict[int, pd.Series]:
    """Full close history per security, indexed by trade date (``datetime64[ns]``), sorted.

    Indicators use ``close`` (split-adjusted by Yahoo, not dividend-adjusted) as charting
    packages do. Securities without prices are absent. Read with a binary COPY decoded by numpy:
    a 500-ticker, 10-year history is over a million rows.
    """
    with _driver_cursor(conn) as cursor:
        query = cursor.mogrify(
            "SELECT security_id, trade_date, close FROM market.ohlcv "
            "WHERE security_id = ANY(%s::bigint[]) ORDER BY security_id, trade_date",
            ([int(security_id) for security_id in security_ids],),
        ).decode()
        buffer = io.BytesIO()
        cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT binary)", buffer)
    columns = pgcopy.decode(buffer.getbuffer(), _CLOSES_FIELDS)
    ids, dates, closes = columns["security_id"], columns["trade_date"], columns["close"]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.array([], int)
    bounds = np.r_[starts, len(ids)]
    return {
        int(ids[first]): pd.Series(
            closes[first:stop], index=pd.DatetimeIndex(dates[first:stop], name="trade_date")
        )
        for first, stop in pairwise(bounds)
    }


def stale_indicator_dates(
    conn: Connection, *, security_ids: Iterable[int] | None = None
) -> dict[int, date]:
    """Per security, the first trade date whose indicators are missing or older than its price.

    Indicators at a date depend only on closes up to that date, so everything from this date on
    must be rewritten and everything before it is current. ``security_ids=None``: all securities.
    """
    where = "" if security_ids is None else "AND o.security_id = ANY(CAST(:ids AS bigint[]))"
    rows = conn.execute(
        text(
            "SELECT o.security_id, min(o.trade_date) FROM market.ohlcv o "
            "LEFT JOIN market.indicators i USING (security_id, trade_date) "
            f"WHERE (i.security_id IS NULL OR o.loaded_at > i.computed_at) {where} "
            "GROUP BY o.security_id ORDER BY o.security_id"
        ),
        {} if security_ids is None else {"ids": list(security_ids)},
    )
    return {int(security_id): first for security_id, first in rows}


def upsert_indicators(conn: Connection, *, rows: pd.DataFrame) -> int:
    """Write stacked indicator rows (security_id, trade_date, ``INDICATOR_COLUMNS``).

    Returns rows inserted or changed; NaN (warm-up periods) is stored as NULL.
    """
    return _copy_upsert(
        conn,
        table="indicators",
        keys=("security_id", "trade_date"),
        values=INDICATOR_COLUMNS,
        stamp="computed_at",
        frame=rows,
    )


# --------------------------------------------------------------------------------------------
# Historical load progress
# --------------------------------------------------------------------------------------------


_SELECT_PROGRESS = text(
    "SELECT group_name, start_date, loaded_through FROM market.load_progress "
    "WHERE group_name = :group_name"
)


def get_load_progress(conn: Connection, *, group_name: str) -> LoadProgress | None:
    """The group's watermark, or None before ``init_load_progress``."""
    row = conn.execute(_SELECT_PROGRESS, {"group_name": group_name}).one_or_none()
    return None if row is None else LoadProgress(*row)


def init_load_progress(conn: Connection, *, group_name: str, start_date: date) -> LoadProgress:
    """Create the group's watermark if missing; an existing one (and its start) is kept."""
    conn.execute(
        text(
            "INSERT INTO market.load_progress (group_name, start_date) "
            "VALUES (:group_name, :start_date) ON CONFLICT (group_name) DO NOTHING"
        ),
        {"group_name": group_name, "start_date": start_date},
    )
    return LoadProgress(*conn.execute(_SELECT_PROGRESS, {"group_name": group_name}).one())


def advance_load_progress(conn: Connection, *, group_name: str, loaded_through: date) -> None:
    """Move the watermark forward to ``loaded_through``; never backwards (reruns of old months).

    Raises LookupError when the group has no watermark yet.
    """
    result = conn.execute(
        text(
            "UPDATE market.load_progress "
            "SET loaded_through = GREATEST(loaded_through, :loaded_through), updated_at = now() "
            "WHERE group_name = :group_name"
        ),
        {"group_name": group_name, "loaded_through": loaded_through},
    )
    if result.rowcount == 0:
        raise LookupError(f"no load progress for group {group_name!r}; init it first")


# --------------------------------------------------------------------------------------------
# COPY + upsert
# --------------------------------------------------------------------------------------------


def _copy_upsert(
    conn: Connection,
    *,
    table: str,
    keys: Sequence[str],
    values: Sequence[str],
    stamp: str,
    frame: pd.DataFrame,
    constants: Mapping[str, Any] | None = None,
) -> int:
    """COPY ``frame`` into a staging table shaped like ``market.<table>``, then upsert what changed.

    Returns the rows inserted or changed. ``constants`` (column -> value, e.g. the source) are the
    same for every row: bound once in the INSERT rather than copied a million times. ``stamp`` is
    the table's "last written" column, set to now() on change. The staging table copies only the
    column types (no constraints or defaults to trip over), is dropped at the end (so the helper
    can run twice in one transaction) and is ``ON COMMIT DROP`` should anything fail before that.
    Table and column names are module constants, never input.
    """
    if frame.empty:
        return 0
    constants = dict(constants or {})
    staged = [*keys, *values]
    stage = f"stage_{table}"
    conn.execute(
        text(
            f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS "
            f"SELECT {', '.join(staged)} FROM market.{table} WITH NO DATA"
        )
    )
    copy_into(conn, stage, staged, frame)
    upsert = _upsert_from_stage(table, stage, keys, staged, [*values, *constants], stamp)
    result = conn.execute(text(upsert), constants)
    conn.execute(text(f"DROP TABLE {stage}"))
    return int(result.rowcount)


def _upsert_from_stage(
    table: str,
    stage: str,
    keys: Sequence[str],
    staged: Sequence[str],
    written: Sequence[str],
    stamp: str,
) -> str:
    """INSERT the staged rows (plus the bound constants); update a row only when it differs."""
    constants = [column for column in written if column not in staged]
    target = ", ".join(f"t.{column}" for column in written)
    incoming = ", ".join(f"EXCLUDED.{column}" for column in written)
    assignments = ", ".join(f"{column} = EXCLUDED.{column}" for column in written)
    selected = ", ".join([*staged, *(f":{column}" for column in constants)])
    return (
        f"INSERT INTO market.{table} AS t ({', '.join([*staged, *constants])}) "
        f"SELECT {selected} FROM {stage} "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {assignments}, {stamp} = now() "
        f"WHERE ({target}) IS DISTINCT FROM ({incoming})"
    )


def copy_into(conn: Connection, table: str, columns: Sequence[str], frame: pd.DataFrame) -> None:
    """``frame[columns]`` into ``table`` with one binary COPY (see ``pgcopy`` for the encoding)."""
    reader = pgcopy.ChunkReader(pgcopy.encode(frame, columns))
    with _driver_cursor(conn) as cursor:
        cursor.copy_expert(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT binary)",
            reader,
            size=pgcopy.READ_SIZE,
        )


@contextmanager
def _driver_cursor(conn: Connection) -> Iterator[Any]:
    """A psycopg2 cursor on the connection's own DBAPI connection, hence in its transaction.

    COPY is not reachable through SQLAlchemy's execute(), only through the driver.
    """
    driver_connection = conn.connection.driver_connection
    if driver_connection is None:
        raise RuntimeError("connection is closed")
    with driver_connection.cursor() as cursor:
        yield cursor
