"""Change requests, their approvals and break-glass acknowledgements (migration 0013).

The database sets who asks and who approves (the session's hub.actor) and guards the state
moves; these functions only read and write the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg2.extras import Json

from hubctl.db import Connection
from hubctl.repository.rows import Row, fetch, fetch_value

_REQUEST = (
    "SELECT r.id, r.command, r.changes, r.groups, r.requester, r.reason, r.state, r.created_at,"
    " r.decided_by, r.decided_at, hub.approvals_needed(r.groups, r.approvals_required)"
    " AS approvals_required, coalesce((SELECT array_agg(a.approver ORDER BY a.approved_at)"
    " FROM hub.change_request_approvals a WHERE a.request_id = r.id), '{}') AS approvers"
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


def set_change_set(conn: Connection, *, change_set: str) -> None:
    """The change-set id the audit records for the rest of this transaction."""
    fetch(conn, "SELECT set_config('hub.change_set', %(value)s, true)", {"value": change_set})


def next_request_id(conn: Connection) -> int:
    return int(fetch_value(conn, "SELECT nextval('hub.change_requests_id_seq')"))


def insert_request(
    conn: Connection,
    *,
    request_id: int,
    command: str,
    changes: Sequence[dict[str, Any]],
    groups: Sequence[str],
    reason: str | None,
) -> None:
    fetch(
        conn,
        "INSERT INTO hub.change_requests (id, command, changes, groups, approvals_required,"
        " requester, reason) VALUES (%(id)s, %(command)s, %(changes)s, %(groups)s, 1,"
        " hub.current_actor(), %(reason)s)",
        {
            "id": request_id,
            "command": command,
            "changes": Json(list(changes)),
            "groups": list(groups),
            "reason": reason,
        },
    )


def select_requests(
    conn: Connection, *, request_id: int | None = None, state: str | None = None, lock: bool = False
) -> list[Row]:
    return fetch(
        conn,
        f"{_REQUEST} WHERE (%(id)s::bigint IS NULL OR r.id = %(id)s)"
        " AND (%(state)s::text IS NULL OR r.state = %(state)s) ORDER BY r.id"
        + (" FOR UPDATE OF r" if lock else ""),
        {"id": request_id, "state": state},
    )


def insert_approval(conn: Connection, *, request_id: int) -> None:
    """The approver and the requester are filled in by the database."""
    fetch(
        conn,
        "INSERT INTO hub.change_request_approvals (request_id, requester, approver)"
        " VALUES (%(id)s, '', '')",
        {"id": request_id},
    )


def set_state(conn: Connection, *, request_id: int, state: str) -> None:
    fetch(
        conn,
        "UPDATE hub.change_requests SET state = %(state)s WHERE id = %(id)s",
        {"id": request_id, "state": state},
    )


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
    fetch(
        conn,
        "INSERT INTO hub.break_glass_acks (change_set, acknowledged_by, note)"
        " VALUES (%(change_set)s, hub.current_actor(), %(note)s)",
        {"change_set": change_set, "note": note},
    )
