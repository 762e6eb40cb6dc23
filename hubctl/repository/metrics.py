"""What `hubctl metrics` counts per scrape beyond the other modules' reads: one query, whatever
the number of requests or scheduled changes."""

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


def governance_counts(conn: Connection) -> Row:
    """requests_pending (open or approved change requests) and scheduled_suspended."""
    return fetch(conn, _COUNTS)[0]
