"""The SQL every control table shares: select, insert, update, delete, lock.

Every function takes a psycopg2 connection and keyword arguments; the caller owns the
transaction (hubctl.db.audited_transaction for writes). Column lists come from the table's
description (hubctl.tables); rows come back as dicts, as the database returns them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from psycopg2.extras import Json

from hubctl.db import BoundedConnection, Connection
from hubctl.tables import ControlTable

Row = dict[str, Any]


@contextmanager
def reading_as_of(conn: BoundedConnection, tables: Mapping[str, list[Row]]) -> Iterator[None]:
    """Within the block, select_rows on ``conn`` reads ``tables`` (table name -> rows as JSON
    objects) instead of the live tables: each read answers `--at` with its own query (filters,
    order, types) instead of a second, historical copy of it (hubctl.services.history)."""
    conn.as_of = tables
    try:
        yield
    finally:
        conn.as_of = None


def _source(conn: Connection, table: ControlTable) -> tuple[str, dict[str, Any]]:
    """FROM clause and its parameters: the live table, or the rows of the moment being read (a
    plain psycopg2 connection, which hubctl.db never hands out, always reads the live table)."""
    tables = conn.as_of if isinstance(conn, BoundedConnection) else None
    if tables is None:
        return table.qualified_name, {}
    sql = f"jsonb_populate_recordset(NULL::{table.qualified_name}, %(as_of)s) AS {table.name}"
    return sql, {"as_of": Json(tables.get(table.name, []))}


def fetch(conn: Connection, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
    """Run one statement (``%(name)s`` placeholders) in the caller's transaction; rows as dicts."""
    with conn.cursor() as cursor:
        cursor.execute(sql, dict(params or {}))
        if cursor.description is None:
            return []
        names = [column.name for column in cursor.description]
        return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def fetch_value(conn: Connection, sql: str, params: Mapping[str, Any] | None = None) -> Any:
    """The first column of the first row, or None when there is no row."""
    rows = fetch(conn, sql, params)
    return next(iter(rows[0].values())) if rows else None


def _bound(table: ControlTable, values: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {
        f"{prefix}{name}": Json(value)
        if name in table.json_columns and value is not None
        else value
        for name, value in values.items()
    }


def _where(table: ControlTable, where: Mapping[str, Any]) -> str:
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
    conn: Connection,
    *,
    table: ControlTable,
    where: Mapping[str, Any] | None = None,
    lock: bool = False,
) -> list[Row]:
    """Rows whose columns equal ``where``'s values, in key order; ``lock`` takes row locks."""
    where = where or {}
    if _holds_nul(where):
        return []
    source, params = _source(conn, table)
    sql = (
        f"SELECT {', '.join(table.columns)} FROM {source}{_where(table, where)}"
        f" ORDER BY {', '.join(table.key)}{' FOR UPDATE' if lock else ''}"
    )
    return fetch(conn, sql, {**_bound(table, where, "w_"), **params})


def insert_row(conn: Connection, *, table: ControlTable, values: Mapping[str, Any]) -> Row:
    names = list(values)
    sql = (
        f"INSERT INTO {table.qualified_name} ({', '.join(names)})"
        f" VALUES ({', '.join(f'%(v_{name})s' for name in names)})"
        f" RETURNING {', '.join(table.columns)}"
    )
    return fetch(conn, sql, _bound(table, values, "v_"))[0]


def update_row(
    conn: Connection, *, table: ControlTable, key: Mapping[str, Any], values: Mapping[str, Any]
) -> Row | None:
    """Set ``values`` on the row; None when there is no such row. A no-op keeps the version."""
    key = table.key_of(key)
    if _holds_nul(key):
        return None
    if not values:
        found = select_rows(conn, table=table, where=key)
        return found[0] if found else None
    assignments = ", ".join(f"{name} = %(v_{name})s" for name in values)
    sql = (
        f"UPDATE {table.qualified_name} SET {assignments}{_where(table, key)}"
        f" RETURNING {', '.join(table.columns)}"
    )
    found = fetch(conn, sql, {**_bound(table, values, "v_"), **_bound(table, key, "w_")})
    return found[0] if found else None


def delete_row(conn: Connection, *, table: ControlTable, key: Mapping[str, Any]) -> bool:
    key = table.key_of(key)
    if _holds_nul(key):
        return False
    sql = f"DELETE FROM {table.qualified_name}{_where(table, key)} RETURNING {', '.join(table.key)}"
    return bool(fetch(conn, sql, _bound(table, key, "w_")))


def lock_tables(conn: Connection, *, tables: Iterable[ControlTable]) -> None:
    """Block other writers of ``tables`` until this transaction ends (readers carry on)."""
    names = ", ".join(table.qualified_name for table in tables)
    if names:
        fetch(conn, f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE")
