"""The control tables and the SQL they all share: select, insert, update, delete, lock.

Every function takes a Connection and keyword arguments; the caller owns the transaction.
Rows come back as the pydantic record of their table (spec fields plus bookkeeping).

The tables are lightweight Core table clauses named after the records' fields, not the ORM
models: importing the ORM costs every command (and every DAG parse) a fifth of a second.
tests/repository/test_tables.py checks that they match hubctl.models.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection

from hubctl import schemas

RecordT = TypeVar("RecordT", bound=BaseModel)
BOOKKEEPING = tuple(schemas.Bookkeeping.model_fields)


@dataclass(frozen=True)
class ControlTable(Generic[RecordT]):
    """One table of the control plane: its key, its spec (what users write) and its record."""

    name: str
    table: sa.TableClause
    key: tuple[str, ...]
    spec: type[BaseModel]
    record: type[RecordT]
    noun: str

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

    def matches(self, key: Mapping[str, Any]) -> sa.ColumnElement[bool]:
        if any(isinstance(key[column], str) and "\x00" in key[column] for column in self.key):
            return sa.false()  # PostgreSQL text cannot hold NUL: no row has such a key
        return sa.and_(*(self.table.c[column] == key[column] for column in self.key))


# Columns whose values psycopg2 cannot send without a type (a dict must be sent as jsonb).
COLUMN_TYPES: dict[str, sa.types.TypeEngine[Any]] = {"params": JSONB()}


def control_table(name: str, record: type[BaseModel]) -> sa.TableClause:
    """hub.<name> with one column per field of its record."""
    columns = (sa.column(field, COLUMN_TYPES.get(field)) for field in record.model_fields)
    return sa.table(name, *columns, schema="hub")


GROUPS: ControlTable[schemas.ExchangeGroupRecord] = ControlTable(
    "exchange_groups",
    control_table("exchange_groups", schemas.ExchangeGroupRecord),
    ("group_name",),
    schemas.ExchangeGroupSpec,
    schemas.ExchangeGroupRecord,
    "exchange group",
)
JOBS: ControlTable[schemas.DagConfigRecord] = ControlTable(
    "dag_configuration",
    control_table("dag_configuration", schemas.DagConfigRecord),
    ("dag_name", "job_name"),
    schemas.DagConfigSpec,
    schemas.DagConfigRecord,
    "job",
)
TICKERS: ControlTable[schemas.TickerRecord] = ControlTable(
    "tickers",
    control_table("tickers", schemas.TickerRecord),
    ("ticker",),
    schemas.TickerSpec,
    schemas.TickerRecord,
    "ticker",
)
CONTROL_TABLES: dict[str, ControlTable[Any]] = {t.name: t for t in (GROUPS, JOBS, TICKERS)}


def _records(table: ControlTable[RecordT], result: sa.CursorResult[Any]) -> list[RecordT]:
    return [table.record.model_validate(dict(row)) for row in result.mappings()]


def select_records(
    conn: Connection,
    *,
    table: ControlTable[RecordT],
    where: Iterable[sa.ColumnElement[bool]] = (),
    lock: bool = False,
) -> list[RecordT]:
    """Rows matching every condition in ``where``, in key order; ``lock`` takes row locks."""
    query = sa.select(table.table).where(*where).order_by(*(table.table.c[k] for k in table.key))
    if lock:
        query = query.with_for_update()
    return _records(table, conn.execute(query))


def select_record(
    conn: Connection, *, table: ControlTable[RecordT], key: Mapping[str, Any], lock: bool = False
) -> RecordT | None:
    found = select_records(conn, table=table, where=[table.matches(key)], lock=lock)
    return found[0] if found else None


def insert_record(
    conn: Connection, *, table: ControlTable[RecordT], values: Mapping[str, Any]
) -> RecordT:
    query = sa.insert(table.table).values(**values).returning(*table.table.c)
    return _records(table, conn.execute(query))[0]


def update_record(
    conn: Connection,
    *,
    table: ControlTable[RecordT],
    key: Mapping[str, Any],
    values: Mapping[str, Any],
) -> RecordT | None:
    """Set ``values`` on the row; None when there is no such row. A no-op keeps the version."""
    if not values:
        return select_record(conn, table=table, key=key)
    query = (
        sa.update(table.table).where(table.matches(key)).values(**values).returning(*table.table.c)
    )
    found = _records(table, conn.execute(query))
    return found[0] if found else None


def delete_record(conn: Connection, *, table: ControlTable[Any], key: Mapping[str, Any]) -> bool:
    result = conn.execute(sa.delete(table.table).where(table.matches(key)))
    return bool(result.rowcount)


def lock_tables(conn: Connection, *, tables: Iterable[ControlTable[Any]]) -> None:
    """Block other writers of ``tables`` until this transaction ends (readers carry on)."""
    names = ", ".join(f"hub.{table.name}" for table in tables)
    if names:
        conn.execute(sa.text(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE"))
