"""The control tables and the SQL they all share: select, insert, update, delete, lock.

Every function takes a connection and keyword arguments; the caller owns the transaction. The
connection is a SQLAlchemy Connection (the services' writes) or a bare psycopg2 connection
(hubctl.db.Database, the read commands). The SQL is plain parameterised text run on the driver's
cursor either way, so reading a table imports no SQLAlchemy (a sixth of a second per command).
Rows come back as the pydantic record of their table (spec fields plus bookkeeping).
tests/repository/test_tables.py checks the tables' columns against hubctl.models.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar

from pydantic import BaseModel

from hubctl import schemas

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

# A SQLAlchemy Connection, or a psycopg2 connection (untyped: psycopg2 ships no stubs).
AnyConnection: TypeAlias = "Connection | Any"
Row = dict[str, Any]
RecordT = TypeVar("RecordT", bound=BaseModel)
BOOKKEEPING = tuple(schemas.Bookkeeping.model_fields)
# Columns whose values psycopg2 cannot send as they are (a dict must be sent as jsonb).
JSON_COLUMNS = frozenset({"params"})


@dataclass(frozen=True)
class ControlTable(Generic[RecordT]):
    """One table of the control plane: its key, its spec (what users write) and its record."""

    name: str
    key: tuple[str, ...]
    spec: type[BaseModel]
    record: type[RecordT]
    noun: str

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.record.model_fields)

    @property
    def spec_fields(self) -> tuple[str, ...]:
        return tuple(self.spec.model_fields)

    @property
    def settable_fields(self) -> tuple[str, ...]:
        """The fields a user may change on an existing row (everything but the key)."""
        return tuple(name for name in self.spec_fields if name not in self.key)

    def key_of(self, row: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
        values = row.model_dump() if isinstance(row, BaseModel) else row
        return {column: values[column] for column in self.key}

    def label(self, key: Mapping[str, Any]) -> str:
        """The key as people write it: 'lse', 'data_collection_equities/us_markets'."""
        return "/".join(str(key[column]) for column in self.key)

    def as_dict(self, record: BaseModel) -> dict[str, Any]:
        """A record as scripts see it, JSON-ready: its spec fields, then the bookkeeping."""
        values = record.model_dump(mode="json")
        return {name: values[name] for name in (*self.spec_fields, *BOOKKEEPING) if name in values}


GROUPS: ControlTable[schemas.ExchangeGroupRecord] = ControlTable(
    "exchange_groups",
    ("group_name",),
    schemas.ExchangeGroupSpec,
    schemas.ExchangeGroupRecord,
    "exchange group",
)
JOBS: ControlTable[schemas.DagConfigRecord] = ControlTable(
    "dag_configuration",
    ("dag_name", "job_name"),
    schemas.DagConfigSpec,
    schemas.DagConfigRecord,
    "job",
)
TICKERS: ControlTable[schemas.TickerRecord] = ControlTable(
    "tickers", ("ticker",), schemas.TickerSpec, schemas.TickerRecord, "ticker"
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
