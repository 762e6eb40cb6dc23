"""What a transaction wrote, read back from its audit entries as ``RowChange``s.

A captured change (``hubctl schedule add``) and a change to a protected group (four-eyes) both run
as usual, through the same services and rules; these functions then read what the transaction's
audit entries recorded, before it rolls back. Each ``RowChange`` carries the version of the row it
started from (its base). ``to_json``/``from_json`` store them (a jsonb column); ``read_changes``
reads a stored list that may not have that shape (a row written before migration 0016).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from hubctl.db import Connection
from hubctl.errors import ValidationError
from hubctl.repository import audit as audit_rows
from hubctl.repository.rows import Row
from hubctl.services.row_change import Action, RowChange
from hubctl.tables import CONTROL_TABLES, ControlTable

_ACTIONS: dict[str, Action] = {"INSERT": "create", "UPDATE": "update", "DELETE": "delete"}


def last_entry_id(conn: Connection) -> int | None:
    """The audit log's newest entry: what a transaction writes from now on comes after it."""
    head = audit_rows.chain_head(conn)
    return head["last_id"] if head else None


def captured_changes(conn: Connection, *, after_id: int | None) -> list[RowChange]:
    """Everything this transaction wrote after audit entry ``after_id``, as RowChanges; a
    ValidationError when it wrote anything but control rows (only those can be written later)."""
    return [_row_change(entry) for entry in audit_rows.transaction_entries(conn, after_id=after_id)]


def recorded_changes(conn: Connection, *, after_id: int | None) -> list[RowChange]:
    """What this transaction wrote to the control tables after audit entry ``after_id`` (other
    audited rows, such as a scheduled change marked applied, are bookkeeping of the transaction,
    not part of the change)."""
    entries = audit_rows.transaction_entries(conn, after_id=after_id)
    return [_row_change(e) for e in entries if e["table_name"] in CONTROL_TABLES]


def _row_change(entry: Row) -> RowChange:
    """An audit entry as the change it records (spec fields before and after, and versions)."""
    table = CONTROL_TABLES.get(entry["table_name"])
    if table is None or entry["action"] not in _ACTIONS:
        tables = ", ".join(CONTROL_TABLES)
        raise ValidationError(
            f"command: it would {entry['action']} hub.{entry['table_name']}; only row changes"
            f" of {tables} can be captured"
        )
    old, new = entry["old_row"], entry["new_row"]
    return RowChange(
        table.name,
        table.key_of(old or new),
        _ACTIONS[entry["action"]],
        _spec(table, old),
        _spec(table, new),
        old["version"] if old else None,
        new["version"] if new else None,
    )


def _spec(table: ControlTable, row: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if row is None else {name: row[name] for name in table.spec_fields}


def to_json(changes: Sequence[RowChange]) -> list[dict[str, Any]]:
    return [dataclasses.asdict(change) for change in changes]


def from_json(stored: Sequence[dict[str, Any]]) -> list[RowChange]:
    return [RowChange(**change) for change in stored]


def read_changes(stored: Any) -> tuple[list[RowChange], str | None]:
    """Stored changes as RowChanges, or ``([], why)`` when they are not in the shape hubctl
    stores (a row written before migration 0016 refused such shapes): readers report and skip it."""
    try:
        changes = from_json(stored)
        for change in changes:
            _ = change.label, change.changed  # the table is known, key and values are mappings
    except (TypeError, KeyError, ValueError, AttributeError) as error:
        return [], f"unreadable changes: {type(error).__name__}: {error}"
    if not changes:
        return [], "unreadable changes: the list is empty"
    return changes, None
