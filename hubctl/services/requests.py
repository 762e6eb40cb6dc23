"""Four-eyes approval: change requests for protected groups, approvals, application, break-glass.

A write that touches a group with approvals_required >= 1 (its row, a job of it, a ticker of its
exchanges) is captured by hubctl.services.changes (through hubctl.services.deferred), rolled
back and stored here as a request. Other people approve it; once it has enough approvals it is
applied in one audited transaction, on the row versions it was made against, or refused as
stale. Every step's audit entries share the change_set ``request:<id>``; the database refuses
self-approval and any write to a protected row that is not such an application or break-glass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from hubctl import origin
from hubctl.db import Connection, Database, Via, audited_transaction
from hubctl.errors import ChangeRequested, NotFoundError, StaleChangeError, ValidationError
from hubctl.repository import requests as request_rows
from hubctl.services import deferred
from hubctl.services.changes import REQUEST, audited_change
from hubctl.services.rows import RowChange

STATES = ("open", "approved", "rejected", "applied", "stale")


@dataclass(frozen=True)
class ChangeRequest:
    id: int
    command: str
    changes: list[RowChange]
    groups: list[str]
    requester: str
    reason: str | None
    state: str
    created_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    approvals_required: int
    approvers: list[str]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ChangeRequest:
        return cls(**{**row, "changes": deferred.from_json(row["changes"])})

    @property
    def change_set(self) -> str:
        return f"{REQUEST}{self.id}"

    def created(self) -> ChangeRequested:
        """What the writer is told instead of 'updated': who must do what next."""
        need = self.approvals_required
        return ChangeRequested(
            f"{', '.join(self.groups)} requires {need} approval{'s' if need > 1 else ''}:"
            f" request #{self.id} created, nothing written yet; another person runs"
            f" `hubctl requests approve {self.id}`",
            self.id,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            **{name: getattr(self, name) for name in self.__dataclass_fields__},
            "changes": deferred.to_json(self.changes),
        }


def describe(changes: Sequence[RowChange]) -> str:
    """What a request changes when no command line asked for it (the Markets page): one line per
    change, e.g. 'update job data_collection_equities/lse: batch_size 500 -> 750'."""
    lines = []
    for change in changes:
        fields = ", ".join(
            f"{name} {old!r} -> {new!r}" for name, (old, new) in change.changed.items()
        )
        detail = f": {fields}" if change.action == "update" else ""
        lines.append(f"{change.action} {change.noun} {change.label}{detail}")
    return "\n".join(lines)


def open_request(
    database: Database,
    *,
    changes: Sequence[RowChange],
    groups: Sequence[str],
    actor: str,
    reason: str | None,
    via: Via = "hubctl",
) -> ChangeRequest:
    """Store captured ``changes`` as an open request by ``actor`` (change_set request:<id>)."""
    with audited_transaction(database, actor=actor, reason=reason, via=via) as conn:
        request_id = request_rows.next_request_id(conn)
        request_rows.set_change_set(conn, change_set=f"{REQUEST}{request_id}")
        request_rows.insert_request(
            conn,
            request_id=request_id,
            command=(origin.command_line.get() or describe(changes))[:4000],
            changes=deferred.to_json(changes),
            groups=groups,
            reason=reason,
        )
        return _require(conn, request_id)


def _require(conn: Connection, request_id: int, *, lock: bool = False) -> ChangeRequest:
    found = request_rows.select_requests(conn, request_id=request_id, lock=lock)
    if not found:
        raise NotFoundError(f"request: no change request #{request_id}")
    return ChangeRequest.from_row(found[0])


def list_requests(database: Database, *, state: str | None = None) -> list[ChangeRequest]:
    if state is not None and state not in STATES:
        raise ValidationError(f"state: must be one of {', '.join(STATES)}, not {state!r}")
    with database.connect() as conn:
        return [
            ChangeRequest.from_row(row) for row in request_rows.select_requests(conn, state=state)
        ]


def show_request(database: Database, *, request_id: int) -> ChangeRequest:
    with database.connect() as conn:
        return _require(conn, request_id)


def _decide(
    database: Database, request_id: int, *, actor: str, reason: str | None, via: Via
) -> AbstractContextManager[Connection]:
    """The audited transaction of a decision on request ``request_id`` (change_set request:<id>)."""
    return audited_change(
        database, actor=actor, reason=reason, change_set=f"{REQUEST}{request_id}", via=via
    )


def approve(
    database: Database,
    *,
    request_id: int,
    actor: str,
    reason: str | None = None,
    via: Via = "hubctl",
) -> ChangeRequest:
    """Add ``actor``'s approval; with enough approvals the request becomes approved."""
    with _decide(database, request_id, actor=actor, reason=reason, via=via) as conn:
        request = _require(conn, request_id, lock=True)
        if request.requester == actor:
            raise ValidationError(
                f"approver: {actor} requested #{request_id} and cannot approve it; another person must"
            )
        if request.state not in ("open", "approved"):
            raise ValidationError(
                f"request: #{request_id} is {request.state}; it takes no approvals"
            )
        if actor in request.approvers:
            raise ValidationError(f"approver: {actor} already approved #{request_id}")
        request_rows.insert_approval(conn, request_id=request_id)
        if request.state == "open" and len(request.approvers) + 1 >= request.approvals_required:
            request_rows.set_state(conn, request_id=request_id, state="approved")
        return _require(conn, request_id)


def reject(
    database: Database,
    *,
    request_id: int,
    actor: str,
    reason: str | None = None,
    via: Via = "hubctl",
) -> ChangeRequest:
    """Close an open or approved request without applying it (the requester may withdraw it)."""
    with _decide(database, request_id, actor=actor, reason=reason, via=via) as conn:
        request = _require(conn, request_id, lock=True)
        if request.state not in ("open", "approved"):
            raise ValidationError(f"request: #{request_id} is {request.state} already")
        request_rows.set_state(conn, request_id=request_id, state="rejected")
        return _require(conn, request_id)


def apply(
    database: Database,
    *,
    request_id: int,
    actor: str,
    reason: str | None = None,
    via: Via = "hubctl",
) -> list[RowChange]:
    """Write an approved request's changes in one audited transaction, on their base versions.

    StaleChangeError (and the request marked stale) when a target row changed since.
    """
    try:
        with _decide(database, request_id, actor=actor, reason=reason, via=via) as conn:
            request = _require(conn, request_id, lock=True)
            if request.state != "approved" or len(request.approvers) < request.approvals_required:
                have = f"{len(request.approvers)} of {request.approvals_required} approvals"
                raise ValidationError(
                    f"request: #{request_id} is {request.state} ({have}); not applied"
                )
            request_rows.set_state(conn, request_id=request_id, state="applied")
            return deferred.apply_captured(conn, request.changes)
    except StaleChangeError as error:
        with _decide(database, request_id, actor=actor, reason=str(error), via=via) as conn:
            request_rows.set_state(conn, request_id=request_id, state="stale")
        raise StaleChangeError(
            f"request: #{request_id} is stale and was not applied: {error}; make the change again"
        ) from None


@dataclass(frozen=True)
class BreakGlass:
    change_set: str
    occurred_at: dt.datetime
    actor: str
    reason: str | None
    entries: int


def _unacknowledged(conn: Connection) -> list[BreakGlass]:
    return [BreakGlass(**row) for row in request_rows.unacknowledged_break_glass(conn)]


def unacknowledged_break_glass(database: Database) -> list[BreakGlass]:
    """Break-glass changes nobody has acknowledged yet, oldest first (doctor reports them)."""
    with database.connect() as conn:
        return _unacknowledged(conn)


def acknowledge_break_glass(
    database: Database, *, change_set: str, actor: str, reason: str | None
) -> BreakGlass:
    """Record that someone reviewed a break-glass change (doctor stops reporting it)."""
    if not (reason or "").strip():
        raise ValidationError("reason: say what was reviewed (-m)")
    with audited_change(database, actor=actor, reason=reason) as conn:
        pending = {item.change_set: item for item in _unacknowledged(conn)}
        if change_set not in pending:
            known = ", ".join(pending) or "(none)"
            raise NotFoundError(
                f"change_set: {change_set!r} is no unacknowledged break-glass change; open: {known}"
            )
        request_rows.insert_ack(conn, change_set=change_set, note=reason or "")
        return pending[change_set]
