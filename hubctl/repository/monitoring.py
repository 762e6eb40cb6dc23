"""hub_monitor's SQL: the runs it read, its cursors, the rules' inputs, and the delivery outbox.

Operational tables (migration 0017), not audited. Every statement here is one per evaluation (or
per delivery), whatever the number of jobs: the rules' inputs are read for all jobs and groups
at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from psycopg2.extras import execute_values

from hubctl.db import Connection
from hubctl.repository.rows import Row, fetch, fetch_value
from hubctl.repository.status import LATEST_TRADE_DATES

# How many finished runs each DAG keeps at least (the page's charts); a job counting its failure
# rate over more keeps that many.
KEPT_RUNS = 200

_STATE = """
SELECT runs_cursor, tasks_cursor, evaluated_at, api_calls, last_error
  FROM hub.monitor_state WHERE id
"""
_SAVE_STATE = """
INSERT INTO hub.monitor_state (id, runs_cursor, tasks_cursor, evaluated_at, api_calls, last_error)
VALUES (true, %(runs_cursor)s, %(tasks_cursor)s, %(evaluated_at)s, %(api_calls)s, %(last_error)s)
ON CONFLICT (id) DO UPDATE SET runs_cursor = EXCLUDED.runs_cursor,
  tasks_cursor = EXCLUDED.tasks_cursor, evaluated_at = EXCLUDED.evaluated_at,
  api_calls = EXCLUDED.api_calls, last_error = EXCLUDED.last_error
"""
_STORE_RUNS = """
INSERT INTO hub.monitored_runs
  (dag_id, run_id, state, start_date, end_date, duration_seconds, updated_at) VALUES %s
ON CONFLICT (dag_id, run_id) DO UPDATE SET state = EXCLUDED.state,
  start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date,
  duration_seconds = EXCLUDED.duration_seconds, updated_at = EXCLUDED.updated_at
"""
_PRUNE_RUNS = """
DELETE FROM hub.monitored_runs m USING (
  SELECT r.dag_id, r.run_id, row_number() OVER (PARTITION BY r.dag_id ORDER BY r.end_date DESC)
         AS newest
    FROM hub.monitored_runs r WHERE r.dag_id = ANY(%(dag_ids)s)
) ranked
LEFT JOIN hub.dag_configuration c ON c.dag_name || '__' || c.job_name = ranked.dag_id
 WHERE m.dag_id = ranked.dag_id AND m.run_id = ranked.run_id
   AND ranked.newest > greatest(%(kept)s, coalesce(c.failure_rate_runs, 0))
"""
_JOBS = """
SELECT dag_name || '__' || job_name AS dag_id, exchange_group, failure_rate_percent,
       failure_rate_runs, task_minutes
  FROM hub.dag_configuration WHERE enabled
"""
# Each enabled job's last failure_rate_runs finished runs, counted.
_RUN_OUTCOMES = """
SELECT ranked.dag_id, count(*) AS finished, count(*) FILTER (WHERE ranked.state = 'failed') AS failed
  FROM (SELECT m.dag_id, m.state, c.failure_rate_runs,
               row_number() OVER (PARTITION BY m.dag_id ORDER BY m.end_date DESC) AS newest
          FROM hub.monitored_runs m
          JOIN hub.dag_configuration c ON c.dag_name || '__' || c.job_name = m.dag_id
         WHERE c.enabled AND m.state IN ('success', 'failed')) ranked
 WHERE ranked.newest <= ranked.failure_rate_runs
 GROUP BY ranked.dag_id
"""
# The newest trade date per group is status's query (one index probe per security).
_GROUP_FRESHNESS = f"""
SELECT g.group_name, g.calendar, g.primary_timezone AS timezone, g.market_close,
       g.data_late_minutes, latest.latest_trade_date AS newest
  FROM hub.exchange_groups g JOIN ({LATEST_TRADE_DATES}) latest USING (group_name)
 WHERE g.enabled
"""
# Each enabled group's last unreachable_fetches fetches, newest first (the index on
# (exchange_group, id) read backwards).
_GROUP_FETCHES = """
SELECT g.group_name, g.unreachable_fetches,
       coalesce(array_agg(f.ok ORDER BY f.id DESC) FILTER (WHERE f.id IS NOT NULL), '{}') AS recent,
       (array_agg(f.error ORDER BY f.id DESC) FILTER (WHERE NOT f.ok))[1] AS last_error
  FROM hub.exchange_groups g
  LEFT JOIN LATERAL (
    SELECT s.id, s.ok, s.error FROM hub.source_fetches s
     WHERE s.exchange_group = g.group_name ORDER BY s.id DESC LIMIT g.unreachable_fetches
  ) f ON true
 WHERE g.enabled
 GROUP BY g.group_name, g.unreachable_fetches
"""
# The oldest delivery not yet sent that no other sender holds; locked until its transaction ends.
_CLAIM_DELIVERY = """
SELECT d.alert_id, d.event, d.attempts, a.rule, a.subject, a.exchange_group, a.dag_id, a.value,
       a.threshold, a.detail, a.first_seen, a.last_seen, a.resolved_at
  FROM hub.alert_deliveries d JOIN hub.alerts a ON a.id = d.alert_id
 WHERE d.delivered_at IS NULL
 ORDER BY d.created_at, d.alert_id, d.event
 LIMIT 1 FOR UPDATE OF d SKIP LOCKED
"""


@contextmanager
def evaluation_lock(conn: Connection) -> Iterator[bool]:
    """Whether this session took the evaluation's advisory lock: one evaluation at a time, whoever
    runs it (the hub_monitor job, `hubctl alerts evaluate`). Taken, it is released when the block
    ends, not left to the session's end: the server ends a closed session a moment after the
    client has gone, and an evaluation started in that moment was refused. A process that dies
    holding it loses it with its session."""
    taken = bool(fetch_value(conn, "SELECT pg_try_advisory_lock(hashtext('hub_monitor'))"))
    try:
        yield taken
    finally:
        if taken:
            fetch_value(conn, "SELECT pg_advisory_unlock(hashtext('hub_monitor'))")


def state(conn: Connection) -> Row | None:
    found = fetch(conn, _STATE)
    return found[0] if found else None


def save_state(conn: Connection, **values: Any) -> None:
    with conn.cursor() as cursor:
        cursor.execute(_SAVE_STATE, values)


def store_runs(conn: Connection, *, runs: Sequence[tuple[Any, ...]]) -> None:
    """Upsert (dag_id, run_id, state, start_date, end_date, duration_seconds, updated_at) rows,
    then drop each touched DAG's runs beyond what it keeps."""
    if not runs:
        return
    with conn.cursor() as cursor:
        execute_values(cursor, _STORE_RUNS, runs, page_size=1000)
        cursor.execute(_PRUNE_RUNS, {"dag_ids": sorted({run[0] for run in runs}),
                                     "kept": KEPT_RUNS})  # fmt: skip


def jobs(conn: Connection) -> list[Row]:
    return fetch(conn, _JOBS)


def run_outcomes(conn: Connection) -> list[Row]:
    return fetch(conn, _RUN_OUTCOMES)


def group_freshness(conn: Connection) -> list[Row]:
    return fetch(conn, _GROUP_FRESHNESS)


def group_fetches(conn: Connection) -> list[Row]:
    return fetch(conn, _GROUP_FETCHES)


def claim_delivery(conn: Connection) -> Row | None:
    found = fetch(conn, _CLAIM_DELIVERY)
    return found[0] if found else None


def mark_delivered(conn: Connection, *, alert_id: int, event: str) -> None:
    with conn.cursor() as cursor:
        cursor.execute(
            "UPDATE hub.alert_deliveries SET delivered_at = now(), attempts = attempts + 1,"
            " last_error = NULL WHERE alert_id = %(alert_id)s AND event = %(event)s",
            {"alert_id": alert_id, "event": event},
        )


def mark_failed(conn: Connection, *, alert_id: int, event: str, error: str) -> None:
    with conn.cursor() as cursor:
        cursor.execute(
            "UPDATE hub.alert_deliveries SET attempts = attempts + 1, last_error = %(error)s"
            " WHERE alert_id = %(alert_id)s AND event = %(event)s",
            {"alert_id": alert_id, "event": event, "error": error[:4000]},
        )


# The page's per-market charts: the newest finished runs of a market's DAGs. Each DAG's runs are
# a backward walk of the (dag_id, end_date) index, so the cost follows ``limit``, not the table.
_LAST_RUNS = """
SELECT r.dag_id, r.run_id, r.state, r.start_date, r.end_date, r.duration_seconds
FROM unnest(%(dag_ids)s::text[]) AS d(dag_id)
CROSS JOIN LATERAL (
  SELECT m.* FROM hub.monitored_runs m
  WHERE m.dag_id = d.dag_id AND m.end_date IS NOT NULL
  ORDER BY m.end_date DESC LIMIT %(limit)s
) r
ORDER BY r.end_date DESC, r.dag_id, r.run_id
LIMIT %(limit)s
"""


def last_runs(conn: Connection, *, dag_ids: Sequence[str], limit: int) -> list[Row]:
    """The ``limit`` newest finished runs of any of ``dag_ids`` (hub.monitored_runs), newest first:
    dag_id, run_id, state, start_date, end_date, duration_seconds."""
    if not dag_ids:
        return []
    return fetch(conn, _LAST_RUNS, {"dag_ids": list(dag_ids), "limit": limit})
