"""The SQL of the alerts' operational tables (migration 0017): alerts, deliveries, source fetches.

Not audited: an alert's ``last_seen`` moves every evaluation. Each write is one statement over
arrays (``unnest``), so an evaluation makes the same few queries whatever the number of jobs.
The caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from hubctl.db import Connection
from hubctl.repository.rows import Row, fetch

ALERT_COLUMNS = (
    "id, rule, subject, exchange_group, dag_id, value, threshold, detail, first_seen, last_seen,"
    " resolved_at"
)
_OPEN = f"""
SELECT {ALERT_COLUMNS} FROM hub.alerts
WHERE resolved_at IS NULL AND rule = ANY(%(rules)s) ORDER BY id FOR UPDATE
"""
# ON CONFLICT: a second evaluation racing this one opened it first; nothing more to do.
_INSERT = f"""
INSERT INTO hub.alerts (rule, subject, exchange_group, dag_id, value, threshold, detail,
                        first_seen, last_seen)
SELECT r, s, g, d, v, t, x, %(now)s, %(now)s
FROM unnest(%(rule)s::text[], %(subject)s::text[], %(exchange_group)s::text[], %(dag_id)s::text[],
            %(value)s::float8[], %(threshold)s::float8[], %(detail)s::text[]) AS f(r, s, g, d, v, t, x)
ON CONFLICT (rule, subject) WHERE resolved_at IS NULL DO NOTHING
RETURNING {ALERT_COLUMNS}
"""
_TOUCH = f"""
UPDATE hub.alerts a SET last_seen = %(now)s, value = f.v, threshold = f.t, detail = f.x
FROM unnest(%(id)s::bigint[], %(value)s::float8[], %(threshold)s::float8[], %(detail)s::text[])
     AS f(i, v, t, x)
WHERE a.id = f.i
RETURNING {", ".join(f"a.{column.strip()}" for column in ALERT_COLUMNS.split(","))}
"""
_RESOLVE = f"""
UPDATE hub.alerts SET resolved_at = %(now)s, last_seen = %(now)s
WHERE id = ANY(%(ids)s) AND resolved_at IS NULL
RETURNING {ALERT_COLUMNS}
"""
_QUEUE = """
INSERT INTO hub.alert_deliveries (alert_id, event, created_at)
SELECT unnest(%(ids)s::bigint[]), %(event)s, %(now)s
ON CONFLICT (alert_id, event) DO NOTHING
"""
_SILENCES = """
SELECT 'job' AS kind, dag_name, job_name, NULL AS group_name, silences
FROM hub.dag_configuration WHERE silences <> '{}'::jsonb
UNION ALL
SELECT 'group', NULL, NULL, group_name, silences
FROM hub.exchange_groups WHERE silences <> '{}'::jsonb
"""
_LIST = f"""
SELECT {ALERT_COLUMNS} FROM hub.alerts
WHERE (NOT %(open_only)s OR resolved_at IS NULL)
  AND (%(group)s::text IS NULL OR exchange_group = %(group)s)
ORDER BY resolved_at IS NOT NULL, first_seen DESC, id DESC
LIMIT %(limit)s
"""
_OPEN_COUNTS = """
SELECT coalesce(exchange_group, '') AS exchange_group, rule, count(*)::int AS open
FROM hub.alerts WHERE resolved_at IS NULL
GROUP BY 1, 2 ORDER BY 1, 2
"""
_RECORD_FETCH = """
INSERT INTO hub.source_fetches (exchange_group, dag_id, run_id, fetched_at, ok, error)
VALUES (%(exchange_group)s, %(dag_id)s, %(run_id)s, coalesce(%(fetched_at)s, now()), %(ok)s,
        %(error)s)
RETURNING id
"""


def open_alerts(conn: Connection, *, rules: Iterable[str]) -> list[Row]:
    """The open alerts of ``rules``, locked until the caller's transaction ends."""
    return fetch(conn, _OPEN, {"rules": sorted(rules)})


def insert_alerts(conn: Connection, *, findings: Sequence[Any], now: dt.datetime) -> list[Row]:
    """Open one alert per finding (objects with the alert's fields); the rows opened."""
    if not findings:
        return []
    columns = ("rule", "subject", "exchange_group", "dag_id", "value", "threshold", "detail")
    params = {name: [getattr(item, name) for item in findings] for name in columns}
    return fetch(conn, _INSERT, {**params, "now": now})


def touch_alerts(
    conn: Connection, *, ids: Sequence[int], findings: Sequence[Any], now: dt.datetime
) -> list[Row]:
    """The alerts ``ids`` still hold: last seen now, with their finding's value, threshold, detail."""
    if not ids:
        return []
    params = {name: [getattr(item, name) for item in findings] for name in ("value", "threshold")}
    details = [item.detail for item in findings]
    return fetch(conn, _TOUCH, {"id": list(ids), **params, "detail": details, "now": now})


def resolve_alerts(conn: Connection, *, ids: Sequence[int], now: dt.datetime) -> list[Row]:
    if not ids:
        return []
    return fetch(conn, _RESOLVE, {"ids": list(ids), "now": now})


def queue_deliveries(
    conn: Connection, *, alert_ids: Sequence[int], event: str, now: dt.datetime
) -> None:
    """One delivery of ``event`` ('opened' or 'resolved') per alert, once."""
    if alert_ids:
        fetch(conn, _QUEUE, {"ids": list(alert_ids), "event": event, "now": now})


def silences(conn: Connection) -> list[Row]:
    """Every job and group with a silence: kind ('job'/'group'), its key, its silences."""
    return fetch(conn, _SILENCES)


def list_alerts(conn: Connection, *, open_only: bool, group: str | None, limit: int) -> list[Row]:
    """Open alerts first, then the most recent; of one group's when ``group`` is given."""
    return fetch(conn, _LIST, {"open_only": open_only, "group": group, "limit": limit})


def open_counts(conn: Connection) -> list[Row]:
    """Open alerts per (exchange_group, rule); '' for alerts of no group."""
    return fetch(conn, _OPEN_COUNTS)


def record_fetch(
    conn: Connection,
    *,
    exchange_group: str,
    dag_id: str | None,
    run_id: str | None,
    ok: bool,
    error: str | None,
    fetched_at: dt.datetime | None = None,
) -> int:
    """One source call of a collection batch; its id (fetched_at: the database's clock)."""
    rows = fetch(
        conn,
        _RECORD_FETCH,
        {"exchange_group": exchange_group, "dag_id": dag_id, "run_id": run_id,
         "fetched_at": fetched_at, "ok": ok, "error": error},
    )  # fmt: skip
    return int(rows[0]["id"])
