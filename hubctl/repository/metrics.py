"""What `hubctl metrics` counts per scrape beyond the other modules' reads: one query each,
whatever the number of jobs, groups or requests."""

from __future__ import annotations

from hubctl.db import Connection
from hubctl.repository.rows import Row, fetch

# Pending: a request waiting for approvals, or approved and not yet applied.
_COUNTS = """
SELECT (SELECT count(*) FROM hub.change_requests WHERE state IN ('open', 'approved'))
         AS requests_pending,
       (SELECT count(*) FROM hub.scheduled_changes WHERE state = 'suspended')
         AS scheduled_suspended
"""
# One open alert per (rule, subject) at most (migration 0017's partial unique index); jobs of no
# group count under the empty group.
_OPEN_ALERTS = """
SELECT rule, coalesce(exchange_group, '') AS exchange_group, count(*) AS open
  FROM hub.alerts WHERE resolved_at IS NULL
 GROUP BY 1, 2
"""


def governance_counts(conn: Connection) -> Row:
    """requests_pending (open or approved change requests) and scheduled_suspended."""
    return fetch(conn, _COUNTS)[0]


def open_alerts(conn: Connection) -> dict[tuple[str, str], int]:
    """Open alerts counted by (rule, exchange group); '' for jobs that belong to no group."""
    return {(row["rule"], row["exchange_group"]): row["open"] for row in fetch(conn, _OPEN_ALERTS)}
