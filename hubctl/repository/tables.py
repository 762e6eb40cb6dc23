"""The control tables and the SQL they all share: select, insert, update, delete, lock.

Every function takes a connection and keyword arguments; the caller owns the transaction. The
connection is a SQLAlchemy Connection (the services' writes) or a bare psycopg2 connection
(hubctl.db.Database, the read commands). The SQL is plain parameterised text run on the driver's
cursor either way, and the pydantic schemas are imported only when a record is asked for, so a
command that only reads rows imports neither SQLAlchemy nor pydantic (a quarter of a second).
tests/repository/test_tables.py checks the fields named here against hubctl.schemas and
hubctl.models.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar, cast

if TYPE_CHECKING:
    from pydantic import BaseModel
    from sqlalchemy.engine import Connection

    from hubctl import schemas

# A SQLAlchemy Connection, or a psycopg2 connection (untyped: psycopg2 ships no stubs).
AnyConnection: TypeAlias = "Connection | Any"
Row = dict[str, Any]
RecordT = TypeVar("RecordT", bound="BaseModel")
# What the database maintains on every control row (hubctl.schemas.Bookkeeping).
BOOKKEEPING = ("version", "created_at", "updated_at", "updated_by")
# Columns whose values psycopg2 cannot send as they are (a dict must be sent as jsonb).
JSON_COLUMNS = frozenset({"params"})


def json_ready(value: Any) -> Any:
    """A column value as JSON, YAML and CSV show it: times in ISO 8601, UTC as Z (as pydantic)."""
    if isinstance(value, dt.date | dt.time):
        text = value.isoformat()
        return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text
    return value


@dataclass(frozen=True)
class ControlTable(Generic[RecordT]):
    """One table of the control plane: its key, its spec fields (what users write), its record.

    ``spec`` and ``record`` name pydantic models in hubctl.schemas, imported on first use.
    """

    name: str
    key: tuple[str, ...]
    spec_fields: tuple[str, ...]
    spec_name: str
    record_name: str
    noun: str

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.spec_fields, *BOOKKEEPING)

    @property
    def spec(self) -> type[BaseModel]:
        return cast("type[BaseModel]", getattr(_schemas(), self.spec_name))

    @property
    def record(self) -> type[RecordT]:
        return cast("type[RecordT]", getattr(_schemas(), self.record_name))

    @property
    def settable_fields(self) -> tuple[str, ...]:
        """The fields a user may change on an existing row (everything but the key)."""
        return tuple(name for name in self.spec_fields if name not in self.key)

    def key_of(self, row: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
        values = row if isinstance(row, Mapping) else row.model_dump()
        return {column: values[column] for column in self.key}

    def label(self, key: Mapping[str, Any]) -> str:
        """The key as people write it: 'lse', 'data_collection_equities/us_markets'."""
        return "/".join(str(key[column]) for column in self.key)

    def as_dict(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A row as scripts see it, JSON-ready: its spec fields, then the bookkeeping."""
        return {name: json_ready(row[name]) for name in self.columns if name in row}


def _schemas() -> Any:
    return importlib.import_module("hubctl.schemas")


GROUPS: ControlTable[schemas.ExchangeGroupRecord] = ControlTable(
    "exchange_groups",
    ("group_name",),
    (
        "group_name",
        "display_name",
        "exchanges",
        "primary_timezone",
        "market_open",
        "market_close",
        "enabled",
        "priority",
    ),
    "ExchangeGroupSpec",
    "ExchangeGroupRecord",
    "exchange group",
)
JOBS: ControlTable[schemas.DagConfigRecord] = ControlTable(
    "dag_configuration",
    ("dag_name", "job_name"),
    (
        "dag_name",
        "job_name",
        "exchange_group",
        "schedule",
        "cpu_request",
        "cpu_limit",
        "memory_request",
        "memory_limit",
        "batch_size",
        "timeout_seconds",
        "max_retries",
        "retry_delay_minutes",
        "max_active_tasks",
        "enabled",
        "priority",
        "params",
    ),
    "DagConfigSpec",
    "DagConfigRecord",
    "job",
)
TICKERS: ControlTable[schemas.TickerRecord] = ControlTable(
    "tickers",
    ("ticker",),
    ("ticker", "exchange", "groupings", "enabled"),
    "TickerSpec",
    "TickerRecord",
    "ticker",
)
CONTROL_TABLES: dict[str, ControlTable[Any]] = {t.name: t for t in (GROUPS, JOBS, TICKERS)}


def fetch(conn: AnyConnection, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
    """Run one statement (psycopg2 placeholders) in the caller's transaction; its rows as dicts."""
    run_on_sqlalchemy = getattr(conn, "exec_driver_sql", None)
    if run_on_sqlalchemy is not None:  # the same driver cursor, inside SQLAlchemy's transaction
        result = run_on_sqlalchemy(sql, dict(params or {}))
        return [dict(row) for row in result.mappings()] if result.returns_rows else []
    driver_connection: Any = conn
    with driver_connection.cursor() as cursor:
        cursor.execute(sql, dict(params or {}))
        if cursor.description is None:
            return []
        names = [column.name for column in cursor.description]
        return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def _bound(values: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    from psycopg2.extras import Json

    return {
        f"{prefix}{name}": Json(value) if name in JSON_COLUMNS and value is not None else value
        for name, value in values.items()
    }


def _where(table: ControlTable[Any], where: Mapping[str, Any]) -> str:
    """' WHERE a = %(w_a)s AND b = ANY(%(w_b)s)': a list or tuple matches any of its items."""
    unknown = set(where) - set(table.columns)
    if unknown:
        raise ValueError(f"{table.name} has no column {sorted(unknown)[0]!r}")
    conditions = [
        f"{name} = ANY(%(w_{name})s)"
        if isinstance(value, list | tuple)
        else f"{name} = %(w_{name})s"
        for name, value in where.items()
    ]
    return f" WHERE {' AND '.join(conditions)}" if conditions else ""


def _holds_nul(where: Mapping[str, Any]) -> bool:
    """PostgreSQL text cannot hold NUL: no row has such a value (and the driver would refuse it)."""
    return any(isinstance(value, str) and "\x00" in value for value in where.values())


def select_rows(
    conn: AnyConnection,
    *,
    table: ControlTable[Any],
    where: Mapping[str, Any] | None = None,
    lock: bool = False,
) -> list[Row]:
    """Rows whose columns equal ``where``'s values, in key order; ``lock`` takes row locks."""
    where = where or {}
    if _holds_nul(where):
        return []
    sql = (
        f"SELECT {', '.join(table.columns)} FROM hub.{table.name}{_where(table, where)}"
        f" ORDER BY {', '.join(table.key)}{' FOR UPDATE' if lock else ''}"
    )
    return fetch(conn, sql, _bound(where, "w_"))


def _records(table: ControlTable[RecordT], rows: Iterable[Row]) -> list[RecordT]:
    return [table.record.model_validate(row) for row in rows]


def select_records(
    conn: AnyConnection,
    *,
    table: ControlTable[RecordT],
    where: Mapping[str, Any] | None = None,
    lock: bool = False,
) -> list[RecordT]:
    return _records(table, select_rows(conn, table=table, where=where, lock=lock))


def select_record(
    conn: AnyConnection, *, table: ControlTable[RecordT], key: Mapping[str, Any], lock: bool = False
) -> RecordT | None:
    found = select_records(conn, table=table, where=table.key_of(key), lock=lock)
    return found[0] if found else None


def insert_record(
    conn: AnyConnection, *, table: ControlTable[RecordT], values: Mapping[str, Any]
) -> RecordT:
    names = list(values)
    sql = (
        f"INSERT INTO hub.{table.name} ({', '.join(names)})"
        f" VALUES ({', '.join(f'%(v_{name})s' for name in names)})"
        f" RETURNING {', '.join(table.columns)}"
    )
    return _records(table, fetch(conn, sql, _bound(values, "v_")))[0]


def update_record(
    conn: AnyConnection,
    *,
    table: ControlTable[RecordT],
    key: Mapping[str, Any],
    values: Mapping[str, Any],
) -> RecordT | None:
    """Set ``values`` on the row; None when there is no such row. A no-op keeps the version."""
    key = table.key_of(key)
    if not values or _holds_nul(key):
        return select_record(conn, table=table, key=key)
    assignments = ", ".join(f"{name} = %(v_{name})s" for name in values)
    sql = (
        f"UPDATE hub.{table.name} SET {assignments}{_where(table, key)}"
        f" RETURNING {', '.join(table.columns)}"
    )
    found = _records(table, fetch(conn, sql, {**_bound(values, "v_"), **_bound(key, "w_")}))
    return found[0] if found else None


def delete_record(conn: AnyConnection, *, table: ControlTable[Any], key: Mapping[str, Any]) -> bool:
    key = table.key_of(key)
    if _holds_nul(key):
        return False
    sql = f"DELETE FROM hub.{table.name}{_where(table, key)} RETURNING {', '.join(table.key)}"
    return bool(fetch(conn, sql, _bound(key, "w_")))


def lock_tables(conn: AnyConnection, *, tables: Iterable[ControlTable[Any]]) -> None:
    """Block other writers of ``tables`` until this transaction ends (readers carry on)."""
    names = ", ".join(f"hub.{table.name}" for table in tables)
    if names:
        fetch(conn, f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE")
