"""hub.scheduled_changes: write commands captured to apply at a later time (migration 0012)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from psycopg2.extras import Json

from hubctl.author import TEXT_LIMIT
from hubctl.db import Connection
from hubctl.repository.rows import Row, fetch

COLUMNS = (
    "id", "run_at", "command", "changes", "actor", "reason", "state", "note", "applied_at",
    "version", "created_at", "updated_at", "updated_by",
)  # fmt: skip
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM hub.scheduled_changes"
_RETURNING = f"RETURNING {', '.join(COLUMNS)}"
_DUE = "state = 'scheduled' AND run_at <= %(until)s"


def _one(rows: list[Row]) -> Row | None:
    return rows[0] if rows else None


def insert_change(
    conn: Connection,
    *,
    run_at: dt.datetime,
    command: str,
    changes: Sequence[dict[str, Any]],
    actor: str,
    reason: str | None,
) -> Row:
    sql = (
        "INSERT INTO hub.scheduled_changes (run_at, command, changes, actor, reason)"
        f" VALUES (%(run_at)s, %(command)s, %(changes)s, %(actor)s, %(reason)s) {_RETURNING}"
    )
    values = {"run_at": run_at, "command": command, "changes": Json(list(changes))}
    return fetch(conn, sql, {**values, "actor": actor, "reason": reason})[0]


def list_changes(conn: Connection, *, states: Sequence[str] | None = None) -> list[Row]:
    """Scheduled changes by time (``states``: only those in these states)."""
    where = " WHERE state = ANY(%(states)s)" if states else ""
    return fetch(conn, f"{_SELECT}{where} ORDER BY run_at, id", {"states": list(states or [])})


def due_changes(conn: Connection, *, until: dt.datetime) -> list[Row]:
    """Changes still to apply whose time came by ``until``, in the order they are to apply."""
    return fetch(conn, f"{_SELECT} WHERE {_DUE} ORDER BY run_at, id", {"until": until})


def lock_due_change(conn: Connection, *, change_id: int, until: dt.datetime) -> Row | None:
    """The change, locked, if it is still due; None once another runner holds or settled it."""
    sql = f"{_SELECT} WHERE id = %(id)s AND {_DUE} FOR UPDATE SKIP LOCKED"
    return _one(fetch(conn, sql, {"id": change_id, "until": until}))


def lock_change(conn: Connection, *, change_id: int) -> Row | None:
    return _one(fetch(conn, f"{_SELECT} WHERE id = %(id)s FOR UPDATE", {"id": change_id}))


def set_state(conn: Connection, *, change_id: int, state: str, note: str | None) -> Row:
    """Settle a change: applied (with the time), suspended, failed or cancelled (with why)."""
    sql = (
        "UPDATE hub.scheduled_changes SET state = %(state)s, note = %(note)s,"
        " applied_at = CASE WHEN %(state)s = 'applied' THEN now() END"
        f" WHERE id = %(id)s {_RETURNING}"
    )
    # an error's message can be longer than the column takes; its start says what went wrong
    note = note[:TEXT_LIMIT] if note else note
    return fetch(conn, sql, {"id": change_id, "state": state, "note": note})[0]


@contextmanager
def savepoint(conn: Connection) -> Iterator[None]:
    """Within the block, a failure undoes only the block's writes (the transaction goes on)."""
    fetch(conn, "SAVEPOINT hub_step")
    try:
        yield
    except BaseException:
        fetch(conn, "ROLLBACK TO SAVEPOINT hub_step")
        raise
    fetch(conn, "RELEASE SAVEPOINT hub_step")
