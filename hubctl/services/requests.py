"""Four-eyes approval: change requests for protected groups, approvals, application, break-glass.

A write that touches a group with approvals_required >= 1 (its row, a job of it, a ticker of its
exchanges) is recorded by hubctl.services.changes, rolled back and stored as a request
(hubctl.services.change_requests). Other people approve it; once it has enough approvals it is
applied in one audited transaction, on the row versions it was made against, or refused as
stale. Every step's audit entries share the change_set ``request:<id>``. The database (migration
0015) counts only approvals of authenticated people (the login: hub.authenticated_person()),
refuses the requester's, and refuses any write to a protected row that is not exactly an approved
request's application or a single-use break-glass.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from contextlib import AbstractContextManager
from dataclasses import dataclass

from hubctl.author import Author
from hubctl.db import Connection, Database
from hubctl.errors import NotFoundError, StaleChangeError, ValidationError
from hubctl.repository import requests as request_rows
from hubctl.services import deferred
from hubctl.services.change_requests import REQUEST, ChangeRequest, require_request
from hubctl.services.changes import audited_change
from hubctl.services.rows import RowChange

STATES = ("open", "approved", "rejected", "applied", "stale")


def list_requests(database: Database, *, state: str | None = None) -> list[ChangeRequest]:
    if state is not None and state not in STATES:
        raise ValidationError(f"state: must be one of {', '.join(STATES)}, not {state!r}")
    with database.connect() as conn:
        return [
            ChangeRequest.from_row(row) for row in request_rows.select_requests(conn, state=state)
        ]


def show_request(database: Database, *, request_id: int) -> ChangeRequest:
    with database.connect() as conn:
        return require_request(conn, request_id)


def _decide(
    database: Database, request_id: int, author: Author
) -> AbstractContextManager[Connection]:
    """The audited transaction of a decision on request ``request_id`` (change_set request:<id>)."""
    return audited_change(database, author, change_set=f"{REQUEST}{request_id}")


def approve(
    database: Database,
    *,
    request_id: int,
    author: Author,
) -> ChangeRequest:
    """Add the approval of the person ``database``'s login proves to be (a per-person approver
    login, or the Markets page's login vouching for its user); ``author.actor`` never counts.

    With enough approvals the request becomes approved. The database refuses a shared login, the
    requester (by login or claimed name) and a second approval by the same person.
    """
    with _decide(database, request_id, author) as conn:
        request = require_request(conn, request_id)
        if request.state not in ("open", "approved"):
            raise ValidationError(
                f"request: #{request_id} is {request.state}; it takes no approvals"
            )
        person = request_rows.authenticated_person(conn)
        if person is None:
            raise ValidationError(
                f"approver: this login is shared, so it cannot approve #{request_id} (a claimed"
                " --actor is not a person); approve with your own login (`hubctl requests approve"
                f" {request_id} --login NAME`, created by `hubctl db add-login NAME --approver`)"
                " or on the Markets page"
            )
        if person in request.approvers:
            raise ValidationError(f"approver: {person} already approved #{request_id}")
        request_rows.insert_approval(conn, request_id=request_id)
        return require_request(conn, request_id)


def reject(
    database: Database,
    *,
    request_id: int,
    author: Author,
) -> ChangeRequest:
    """Close an open or approved request without applying it (the requester may withdraw it)."""
    with _decide(database, request_id, author) as conn:
        request = require_request(conn, request_id)
        if request.state not in ("open", "approved"):
            raise ValidationError(f"request: #{request_id} is {request.state} already")
        request_rows.set_state(conn, request_id=request_id, state="rejected")
        return require_request(conn, request_id)


def apply(
    database: Database,
    *,
    request_id: int,
    author: Author,
) -> list[RowChange]:
    """Write an approved request's changes in one audited transaction, on their base versions.

    StaleChangeError (and the request marked stale) when a target row changed since.
    """
    try:
        with _decide(database, request_id, author) as conn:
            request = require_request(conn, request_id)
            if request.state != "approved" or len(request.approvers) < request.approvals_required:
                have = f"{len(request.approvers)} of {request.approvals_required} approvals"
                raise ValidationError(
                    f"request: #{request_id} is {request.state} ({have}); not applied"
                )
            request_rows.set_state(conn, request_id=request_id, state="applied")
            return deferred.apply_captured(conn, request.changes)
    except StaleChangeError as error:
        with _decide(database, request_id, dataclasses.replace(author, reason=str(error))) as conn:
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


def acknowledge_break_glass(database: Database, *, change_set: str, author: Author) -> BreakGlass:
    """Record that someone reviewed a break-glass change (doctor stops reporting it)."""
    if not (author.reason or "").strip():
        raise ValidationError("reason: say what was reviewed (-m)")
    with audited_change(database, author) as conn:
        pending = {item.change_set: item for item in _unacknowledged(conn)}
        if change_set not in pending:
            known = ", ".join(pending) or "(none)"
            raise NotFoundError(
                f"change_set: {change_set!r} is no unacknowledged break-glass change; open: {known}"
            )
        request_rows.insert_ack(conn, change_set=change_set, note=author.reason or "")
        return pending[change_set]
