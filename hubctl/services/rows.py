"""Create, change and remove one control row inside the caller's audited transaction.

Each operation validates the whole resulting row with the table's spec before writing, runs the
table's own checks (``Prepare``/``Guard``) and reports what changed as a ``RowChange``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from hubctl.db import audited_transaction
from hubctl.errors import ConflictError
from hubctl.repository import tables
from hubctl.repository.tables import AnyConnection, ControlTable
from hubctl.services import reads
from hubctl.services.validation import parse_assignments, validate_model

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

Action = Literal["create", "update", "delete", "none"]
# Table-specific checks and normalisation of a validated spec (before is None on create).
Prepare = Callable[[AnyConnection, Any, Any], Any]
Guard = Callable[[AnyConnection, Mapping[str, Any]], None]
Edit = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class RowChange:
    """One row's change: its values before and after (spec fields, JSON-ready), and versions."""

    table: str
    key: dict[str, Any]
    action: Action
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    version_before: int | None = None
    version_after: int | None = None

    @property
    def label(self) -> str:
        return tables.CONTROL_TABLES[self.table].label(self.key)

    @property
    def noun(self) -> str:
        return tables.CONTROL_TABLES[self.table].noun

    @property
    def changed(self) -> dict[str, tuple[Any, Any]]:
        """Fields whose value differs: {field: (old, new)}."""
        before, after = self.before or {}, self.after or {}
        return {
            name: (before.get(name), after.get(name))
            for name in dict.fromkeys([*before, *after])
            if before.get(name) != after.get(name)
        }


def spec_values(table: ControlTable[Any], row: BaseModel) -> dict[str, Any]:
    """A record's or spec's user-facing fields, JSON-ready (times as text)."""
    return row.model_dump(mode="json", include=set(table.spec_fields))


def _python_values(table: ControlTable[Any], spec: BaseModel, names: Any) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in names if name in table.spec_fields}


def require_row(
    conn: AnyConnection, *, table: ControlTable[Any], key: Mapping[str, Any], lock: bool = False
) -> Any:
    """The row with ``key`` as its table's record; NotFoundError naming the known keys."""
    return table.record.model_validate(reads.require_row(conn, table=table, key=key, lock=lock))


def check_version(table: ControlTable[Any], record: Any, expect_version: int | None) -> None:
    if expect_version is not None and record.version != expect_version:
        raise ConflictError(
            f"version: {table.noun} {table.label(table.key_of(record))!r} is at version"
            f" {record.version}, not {expect_version}; read it again and retry"
        )


def update_row(
    conn: Connection,
    *,
    table: ControlTable[Any],
    key: Mapping[str, Any],
    edit: Edit,
    expect_version: int | None = None,
    prepare: Prepare | None = None,
    dry_run: bool = False,
) -> RowChange:
    """Lock the row, check its version, validate ``edit(current)`` and write the fields that differ."""
    current = require_row(conn, table=table, key=key, lock=True)
    check_version(table, current, expect_version)
    before = table.spec.model_validate(spec_values(table, current))
    spec = validate_model(table.spec, edit(spec_values(table, current)))
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
    written = tables.update_record(
        conn, table=table, key=key, values=_python_values(table, spec, change.changed)
    )
    return dataclasses.replace(change, version_after=written.version if written else None)


def edit_row(
    engine: Engine,
    *,
    table: ControlTable[Any],
    key: Mapping[str, Any],
    assignments: Sequence[str],
    expect_version: int | None = None,
    dry_run: bool = False,
    prepare: Prepare | None = None,
    actor: str,
    reason: str | None = None,
) -> RowChange:
    """`config set` / `groups set`: KEY=VALUE assignments to one row, in one audited transaction."""
    parsed = parse_assignments(assignments, model=table.spec, settable=table.settable_fields)
    with audited_transaction(engine, actor=actor, reason=reason) as conn:
        return update_row(
            conn,
            table=table,
            key=key,
            edit=parsed.apply_to,
            expect_version=expect_version,
            prepare=prepare,
            dry_run=dry_run,
        )


def create_row(
    conn: Connection,
    *,
    table: ControlTable[Any],
    values: Mapping[str, Any],
    prepare: Prepare | None = None,
) -> RowChange:
    """Validate and insert a new row; refuse when its key already exists."""
    spec = validate_model(table.spec, values)
    key = table.key_of(spec)
    existing = tables.select_record(conn, table=table, key=key)
    if existing is not None:
        raise ConflictError(
            f"{table.key[-1]}: {table.noun} {table.label(key)!r} already exists"
            f" (version {existing.version})"
        )
    if prepare is not None:
        spec = prepare(conn, spec, None)
    written = tables.insert_record(
        conn, table=table, values=_python_values(table, spec, table.spec_fields)
    )
    return RowChange(
        table.name, key, "create", None, spec_values(table, spec), None, written.version
    )


def delete_row(
    conn: Connection,
    *,
    table: ControlTable[Any],
    key: Mapping[str, Any],
    guard: Guard | None = None,
) -> RowChange:
    """Remove the row after ``guard`` agreed (e.g. no job still uses a group)."""
    current = require_row(conn, table=table, key=key, lock=True)
    if guard is not None:
        guard(conn, key)
    tables.delete_record(conn, table=table, key=key)
    return RowChange(
        table.name, dict(key), "delete", spec_values(table, current), None, current.version, None
    )


def execute_change(conn: Connection, change: RowChange) -> None:
    """Write a planned change as planned (the plan validated it; the database checks again)."""
    table = tables.CONTROL_TABLES[change.table]
    if change.action == "delete":
        tables.delete_record(conn, table=table, key=change.key)
        return
    spec = table.spec.model_validate(change.after)
    if change.action == "create":
        tables.insert_record(
            conn, table=table, values=_python_values(table, spec, table.spec_fields)
        )
    elif change.action == "update":
        values = _python_values(table, spec, change.changed)
        tables.update_record(conn, table=table, key=change.key, values=values)
