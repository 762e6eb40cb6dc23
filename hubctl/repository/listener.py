"""hub.listener_state: each change listener's position in the audit log and its heartbeat.

The listener writes its row (hubctl.listener); `hubctl doctor` reads every row. Times come from
the database's clock on both sides, so a skewed clock on either machine changes nothing.
"""

from __future__ import annotations

from hubctl.db import Connection
from hubctl.repository.rows import Row, fetch, fetch_value

_UPSERT = """
INSERT INTO hub.listener_state (name, last_audit_id, host, pid)
VALUES (%(name)s, %(last_audit_id)s, %(host)s, %(pid)s)
ON CONFLICT (name) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid, heartbeat_at = now()
"""
# The entry the listener should have handled first, and since when it could have: a listener
# that just started gets the grace period from its start, and one whose position is ahead of
# the head (a restored database) has everything to re-parse since its start.
_STATES = """
SELECT s.name, s.host, s.pid, s.last_audit_id, coalesce(h.last_id, 0) AS head_id,
       extract(epoch FROM now() - s.heartbeat_at)::float AS silent_seconds,
       extract(epoch FROM CASE
         WHEN s.last_audit_id > coalesce(h.last_id, 0) THEN now() - s.started_at
         WHEN pending.occurred_at IS NOT NULL THEN now() - greatest(s.started_at, pending.occurred_at)
       END)::float AS behind_seconds
FROM hub.listener_state s
LEFT JOIN hub.audit_chain_head h ON h.id = 1
LEFT JOIN LATERAL (
  SELECT a.occurred_at FROM hub.audit_log a
  WHERE a.id > coalesce(s.last_audit_id, 0) ORDER BY a.id LIMIT 1
) pending ON true
ORDER BY s.heartbeat_at DESC, s.name
"""


def start(conn: Connection, *, name: str, host: str, pid: int) -> int | None:
    """Record that listener ``name`` started; its stored position (None: no row, or none yet)."""
    found = fetch_value(
        conn,
        _UPSERT + ", started_at = now() RETURNING last_audit_id",
        {"name": name, "last_audit_id": None, "host": host, "pid": pid},
    )
    return None if found is None else int(found)


def beat(conn: Connection, *, name: str, host: str, pid: int, last_audit_id: int | None) -> None:
    """The listener is alive at ``last_audit_id`` (None: re-parsing everything, no position)."""
    fetch(
        conn,
        _UPSERT + ", last_audit_id = EXCLUDED.last_audit_id",
        {"name": name, "last_audit_id": last_audit_id, "host": host, "pid": pid},
    )


def states(conn: Connection) -> list[Row]:
    """Every listener: name, host, pid, last_audit_id, the audit head's id, seconds since its
    heartbeat, and seconds it has been behind the head (None: it has handled every entry)."""
    return fetch(conn, _STATES)
