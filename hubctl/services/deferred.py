"""Changes captured now and written later: scheduled changes, change requests.

``capturing()`` lets a command's audited change run as usual, through the same services and
rules, then reads what its transaction's audit entries recorded and rolls it back. The captured
``RowChange``s are exactly what the command would have written, each with the version of the row
it started from (its base). ``apply_captured`` writes them later, in the caller's audited
transaction, through ``rows.apply_change``, after checking that every row is still at its base.
``to_json``/``from_json`` store them (a jsonb column).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hubctl.db import Connection
from hubctl.errors import StaleChangeError, ValidationError
from hubctl.repository import audit as audit_rows
from hubctl.repository import rows as row_sql
from hubctl.repository.rows import Row
from hubctl.services.changes import change_wrapper
from hubctl.services.rows import Action, RowChange, apply_change
from hubctl.tables import CONTROL_TABLES, ControlTable

Prepare = Callable[[Connection], None]
_ACTIONS: dict[str, Action] = {"INSERT": "create", "UPDATE": "update", "DELETE": "delete"}


@dataclass
class Capture:
    """What a captured command would have written, and the actor and reason it gave."""

    changes: list[RowChange] = field(default_factory=list)
    actor: str | None = None
    reason: str | None = None


class _Captured(BaseException):
    """Ends the command once its transaction is recorded and rolled back.

    A BaseException, so that no ``except Exception`` on the way lets the command carry on.
    """


@contextmanager
def capturing(*, prepare: Prepare | None = None) -> Iterator[Capture]:
    """Within the block, the first audited change is recorded into the capture, not written.

    The command stops at the end of that transaction (its report does not run); a command that
    makes no audited change leaves the capture empty. ``prepare`` runs first in the transaction,
    e.g. to make the changes scheduled before this one, so the command sees the rows as they will
    be (its writes roll back with the rest).
    """
    capture = Capture()
    token = change_wrapper.set(lambda conn: _recording(conn, capture, prepare))
    try:
        yield capture
    except _Captured:
        pass
    finally:
        change_wrapper.reset(token)


@contextmanager
def _recording(conn: Connection, capture: Capture, prepare: Prepare | None) -> Iterator[None]:
    if prepare is not None:
        prepare(conn)
    head = audit_rows.chain_head(conn)
    yield
    entries = audit_rows.transaction_entries(conn, after_id=head["last_id"] if head else None)
    capture.changes = [_row_change(entry) for entry in entries]
    if entries:
        capture.actor, capture.reason = entries[0]["actor"], entries[0]["reason"]
    raise _Captured


def recorded_changes(conn: Connection, *, after_id: int | None) -> list[RowChange]:
    """What this transaction wrote to the control tables after audit entry ``after_id``, as
    RowChanges with bases (other audited rows, such as a scheduled change marked applied, are
    bookkeeping of the transaction, not part of the change)."""
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


def apply_captured(conn: Connection, changes: Sequence[RowChange]) -> list[RowChange]:
    """Write ``changes`` in order in the caller's transaction, each only if its row is at its base.

    StaleChangeError when one is not (the caller's transaction then writes nothing).
    """
    written = []
    for change in changes:
        require_base(conn, change)
        written.append(apply_change(conn, change))
    return written


def require_base(conn: Connection, change: RowChange) -> None:
    """Lock the change's row and check it is at the recorded version (absent, for a create)."""
    table = CONTROL_TABLES[change.table]
    found = row_sql.select_rows(conn, table=table, where=change.key, lock=True)
    version = found[0]["version"] if found else None
    if version == change.version_before:
        return
    what = f"{change.noun} {change.label!r}"
    if change.version_before is None:
        raise StaleChangeError(f"{what} was created since (now at version {version})")
    if version is None:
        raise StaleChangeError(
            f"{what} was removed since (it was at version {change.version_before})"
        )
    raise StaleChangeError(
        f"{what} changed since: it was at version {change.version_before}, now {version}"
    )


def to_json(changes: Sequence[RowChange]) -> list[dict[str, Any]]:
    return [dataclasses.asdict(change) for change in changes]


def from_json(stored: Sequence[dict[str, Any]]) -> list[RowChange]:
    return [RowChange(**change) for change in stored]
