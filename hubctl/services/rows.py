"""Create, change and remove one control row inside the caller's audited transaction.

Each operation validates the whole resulting row with the table's spec before writing, runs the
table's own write rules (hubctl.services.rules) and reports what changed as a ``RowChange``.
Services take typed changes: a mapping of field to value (``FieldChanges`` for an edit).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from hubctl.author import Author
from hubctl.db import Connection, Database
from hubctl.errors import ConflictError
from hubctl.repository import rows as row_sql
from hubctl.services import reads
from hubctl.services.changes import audited_change
from hubctl.services.row_change import RowChange
from hubctl.services.rules import rules_for
from hubctl.tables import CONTROL_TABLES, ControlTable
from hubctl.validation import validate_model

Edit = Callable[[dict[str, Any]], dict[str, Any]]
PARAMS = "params"


@dataclass(frozen=True)
class FieldChanges:
    """An edit of one row: new field values, and ``params`` keys to set (None removes a key)."""

    fields: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)

    def apply_to(self, current: Mapping[str, Any]) -> dict[str, Any]:
        """``current`` (a row's spec values) with these changes made."""
        edited = {**current, **self.fields}
        if self.params:
            merged = {**edited.get(PARAMS, {}), **self.params}
            edited[PARAMS] = {key: value for key, value in merged.items() if value is not None}
        return edited


def spec_values(table: ControlTable, row: BaseModel) -> dict[str, Any]:
    """A record's or spec's user-facing fields, JSON-ready (times as text)."""
    return row.model_dump(mode="json", include=set(table.spec_fields))


def _python_values(table: ControlTable, spec: BaseModel, names: Any) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in names if name in table.spec_fields}


def select_records(
    conn: Connection, *, table: ControlTable, where: Mapping[str, Any] | None = None
) -> list[Any]:
    """The rows as the table's record model (spec fields and bookkeeping, validated)."""
    return [
        table.record.model_validate(row)
        for row in row_sql.select_rows(conn, table=table, where=where)
    ]


def require_record(
    conn: Connection, *, table: ControlTable, key: Mapping[str, Any], lock: bool = False
) -> Any:
    """The row with ``key`` as its table's record; NotFoundError naming the known keys."""
    return table.record.model_validate(reads.require_row(conn, table=table, key=key, lock=lock))


def check_version(table: ControlTable, record: Any, expect_version: int | None) -> None:
    if expect_version is not None and record.version != expect_version:
        raise ConflictError(
            f"version: {table.noun} {table.label(table.key_of(record))!r} is at version"
            f" {record.version}, not {expect_version}; read it again and retry"
        )


def update_row(
    conn: Connection,
    *,
    table: ControlTable,
    key: Mapping[str, Any],
    edit: Edit,
    expect_version: int | None = None,
    dry_run: bool = False,
) -> RowChange:
    """Lock the row, check its version, validate ``edit(current)`` and write the fields that differ."""
    current = require_record(conn, table=table, key=key, lock=True)
    check_version(table, current, expect_version)
    before = table.spec.model_validate(spec_values(table, current))
    spec = validate_model(table.spec, edit(spec_values(table, current)))
    prepare = rules_for(table).prepare
    if prepare is not None:
        spec = prepare(conn, spec, before)
    change = RowChange(
        table.name,
        dict(key),
        "update",
        spec_values(table, before),
        spec_values(table, spec),
        current.version,
        current.version,
    )
    if not change.changed:
        return dataclasses.replace(change, action="none")
    if dry_run:
        return change
    written = row_sql.update_row(
        conn, table=table, key=key, values=_python_values(table, spec, change.changed)
    )
    return dataclasses.replace(change, version_after=written["version"] if written else None)


def edit_row(
    database: Database,
    *,
    table: ControlTable,
    key: Mapping[str, Any],
    changes: FieldChanges,
    expect_version: int | None = None,
    dry_run: bool = False,
    author: Author,
) -> RowChange:
    """Make ``changes`` to one row, in one audited transaction."""
    with audited_change(database, author) as conn:
        return update_row(
            conn,
            table=table,
            key=key,
            edit=changes.apply_to,
            expect_version=expect_version,
            dry_run=dry_run,
        )


def create_row(conn: Connection, *, table: ControlTable, values: Mapping[str, Any]) -> RowChange:
    """Validate and insert a new row; refuse when its key already exists."""
    spec = validate_model(table.spec, values)
    key = table.key_of(spec)
    existing = row_sql.select_rows(conn, table=table, where=key)
    if existing:
        raise ConflictError(
            f"{table.key[-1]}: {table.noun} {table.label(key)!r} already exists"
            f" (version {existing[0]['version']})"
        )
    return _insert(conn, table, spec)


def _insert(conn: Connection, table: ControlTable, spec: Any) -> RowChange:
    """Insert a validated spec after the table's prepare rule (the caller knows the key is free)."""
    prepare = rules_for(table).prepare
    if prepare is not None:
        spec = prepare(conn, spec, None)
    written = row_sql.insert_row(
        conn, table=table, values=_python_values(table, spec, table.spec_fields)
    )
    key = table.key_of(spec)
    return RowChange(
        table.name, key, "create", None, spec_values(table, spec), None, written["version"]
    )


def delete_row(conn: Connection, *, table: ControlTable, key: Mapping[str, Any]) -> RowChange:
    """Remove the row after the table's guard agreed (e.g. no job still uses a group)."""
    current = require_record(conn, table=table, key=key, lock=True)
    guard = rules_for(table).guard
    if guard is not None:
        guard(conn, key)
    row_sql.delete_row(conn, table=table, key=key)
    return RowChange(
        table.name, dict(key), "delete", spec_values(table, current), None, current.version, None
    )


def apply_change(conn: Connection, change: RowChange) -> RowChange:
    """Write a planned change through the same operations (and rules) as every other write."""
    table = CONTROL_TABLES[change.table]
    if change.action == "delete":
        return delete_row(conn, table=table, key=change.key)
    if change.action == "create":  # the plan found the key free, under the apply's table lock
        return _insert(conn, table, validate_model(table.spec, change.after or {}))
    after = change.after or {}
    return update_row(conn, table=table, key=change.key, edit=lambda _current: dict(after))
