"""A change request as stored: what a write to a protected group becomes instead of being written.

``hubctl.services.changes.audited_change`` stores one here when a change touches a group with
approvals_required >= 1; ``hubctl.services.requests`` lists, approves and applies them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hubctl.author import Author
from hubctl.db import Connection, Database, audited_transaction
from hubctl.errors import ChangeRequested, NotFoundError
from hubctl.repository import requests as request_rows
from hubctl.services import recorded
from hubctl.services.row_change import RowChange

# The change_set of every audit entry of a request's steps: request:<id>.
REQUEST = "request:"


@dataclass(frozen=True)
class ChangeRequest:
    id: int
    command: str
    changes: list[RowChange]
    # Why the stored changes cannot be read (then ``changes`` is empty): shown, never applied.
    problem: str | None
    groups: list[str]
    requester: str
    reason: str | None
    state: str
    created_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    approvals_required: int
    approvers: list[str]
    # The authenticated person who asked; None when asked on a shared login (one more approval).
    requested_by: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ChangeRequest:
        changes, problem = recorded.read_changes(row["changes"])
        return cls(**{**row, "changes": changes, "problem": problem})

    @property
    def change_set(self) -> str:
        return f"{REQUEST}{self.id}"

    def created(self) -> ChangeRequested:
        """What the writer is told instead of 'updated': who must do what next."""
        need = self.approvals_required
        why = (
            f" ({need - 1} + 1: the shared login cannot tell who asked; ask with your own login"
            f" to need {need - 1})"
            if self.requested_by is None
            else ""
        )
        return ChangeRequested(
            f"{', '.join(self.groups)} requires {need} approval{'s' if need > 1 else ''}{why}:"
            f" request #{self.id} created, nothing written yet; another person runs"
            f" `hubctl requests approve {self.id} --login THEIR_LOGIN` or approves it on the"
            " Markets page",
            self.id,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **{name: getattr(self, name) for name in self.__dataclass_fields__},
            "changes": recorded.to_json(self.changes),
        }


def describe(changes: Sequence[RowChange]) -> str:
    """What a request changes when no command line asked for it (the Markets page): one line per
    change, e.g. 'update job data_collection_equities/lse: enabled true -> false' (values as
    JSON, as the command line and the audit show them)."""
    lines = []
    for change in changes:
        fields = ", ".join(
            f"{name} {json.dumps(old, default=str)} -> {json.dumps(new, default=str)}"
            for name, (old, new) in change.changed.items()
        )
        detail = f": {fields}" if change.action == "update" else ""
        lines.append(f"{change.action} {change.noun} {change.label}{detail}")
    return "\n".join(lines)


def open_request(
    database: Database, *, changes: Sequence[RowChange], author: Author
) -> ChangeRequest:
    """Store captured ``changes`` as an open request by ``author`` (change_set request:<id>).

    The database derives its groups and approvals from the rows the changes touch.
    """
    with audited_transaction(database, author) as conn:
        request_id = request_rows.insert_request(
            conn,
            command=(author.command_line or describe(changes))[:4000],
            changes=recorded.to_json(changes),
            reason=author.reason,
        )
        return require_request(conn, request_id)


def require_request(conn: Connection, request_id: int) -> ChangeRequest:
    """The request as stored (its moves are serialised by the database's functions)."""
    found = request_rows.select_requests(conn, request_id=request_id)
    if not found:
        raise NotFoundError(f"request: no change request #{request_id}")
    return ChangeRequest.from_row(found[0])
