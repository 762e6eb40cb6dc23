"""Change requests, their approvals and break-glass acknowledgements (migrations 0013, 0015).

The runtime login writes them only through the database's SECURITY DEFINER functions, which take
who asks and who approves from the login (hub.authenticated_person()), bind what an applied
request writes and guard the state moves; these functions only call them and read the rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg2 import errors as pg_errors
from psycopg2.extras import Json

from hubctl.db import Connection
from hubctl.errors import ValidationError
from hubctl.repository.rows import Row, fetch, fetch_value

# What the governance functions raise when they refuse a move (self-approval, a shared login,
# a repeated state): the database's own sentence is the message every interface shows.
_REFUSALS = (pg_errors.CheckViolation, pg_errors.InsufficientPrivilege, pg_errors.RaiseException)


def _governance_call(conn: Connection, sql: str, params: Mapping[str, Any]) -> None:
    try:
        fetch(conn, sql, params)
    except _REFUSALS as refusal:
        raise ValidationError(str(refusal).strip().splitlines()[0]) from None


_REQUEST = (
    "SELECT r.id, r.command, r.changes, r.groups, r.requester, r.reason, r.state, r.created_at,"
    " r.decided_by, r.decided_at, r.requested_by, hub.request_needs(r) AS approvals_required,"
    " coalesce((SELECT array_agg(a.approver ORDER BY a.approved_at)"
    " FROM hub.change_request_approvals a WHERE a.request_id = r.id AND a.authenticated), '{}')"
    " AS approvers"
    " FROM hub.change_requests r"
)


def protected_groups(conn: Connection, *, after_id: int | None) -> list[str]:
    """The protected groups this transaction's audit entries after ``after_id`` touch."""
    return list(
        fetch_value(
            conn,
            "SELECT coalesce(array_agg(DISTINCT g ORDER BY g), '{}') FROM hub.audit_log a,"
            " unnest(hub.protected_groups(a.table_name, a.old_row, a.new_row)) AS g"
            " WHERE a.id > %(after)s AND a.txid = txid_current()",
            {"after": after_id or 0},
        )
    )


def insert_request(
    conn: Connection, *, command: str, changes: Sequence[dict[str, Any]], reason: str | None
) -> int:
    """A new open request; the database fills in who asked, its groups and approvals, and sets
    this transaction's change_set to request:<id>."""
    return int(
        fetch_value(
            conn,
            "SELECT hub.request_open(%(command)s, %(changes)s, %(reason)s)",
            {"command": command, "changes": Json(list(changes)), "reason": reason},
        )
    )


def select_requests(
    conn: Connection, *, request_id: int | None = None, state: str | None = None
) -> list[Row]:
    return fetch(
        conn,
        f"{_REQUEST} WHERE (%(id)s::bigint IS NULL OR r.id = %(id)s)"
        " AND (%(state)s::text IS NULL OR r.state = %(state)s) ORDER BY r.id",
        {"id": request_id, "state": state},
    )


def insert_approval(conn: Connection, *, request_id: int) -> None:
    """The login's person approves; with enough approvals the request becomes approved."""
    _governance_call(conn, "SELECT hub.request_approve(%(id)s)", {"id": request_id})


def set_state(conn: Connection, *, request_id: int, state: str) -> None:
    """applied, rejected or stale (the database checks the move)."""
    _governance_call(
        conn,
        "SELECT hub.request_set_state(%(id)s, %(state)s)",
        {"id": request_id, "state": state},
    )


def authenticated_person(conn: Connection) -> str | None:
    """Who this connection's login proves to be (None: a shared login, the owner, a superuser)."""
    person = fetch_value(conn, "SELECT hub.authenticated_person()")
    return None if person is None else str(person)


def unacknowledged_break_glass(conn: Connection) -> list[Row]:
    """Break-glass change sets nobody has acknowledged yet, oldest first, with what they touched."""
    return fetch(
        conn,
        "SELECT a.change_set, min(a.occurred_at) AS occurred_at, min(a.actor) AS actor,"
        " min(a.reason) AS reason, count(*) AS entries FROM hub.audit_log a"
        " WHERE a.change_set LIKE 'break-glass:%%' AND a.table_name <> 'break_glass_acks'"
        " AND NOT EXISTS (SELECT 1 FROM hub.break_glass_acks k WHERE k.change_set = a.change_set)"
        " GROUP BY a.change_set ORDER BY min(a.id)",
    )


def insert_ack(conn: Connection, *, change_set: str, note: str) -> None:
    """The acknowledger is the login's person; the database refuses whoever broke the glass."""
    _governance_call(
        conn,
        "SELECT hub.acknowledge_break_glass(%(change_set)s, %(note)s)",
        {"change_set": change_set, "note": note},
    )
