"""The generator's one read: enabled jobs joined with their exchange group, in a read-only transaction.

This module sits on the DAG-parse path, so it is plain SQL text (no ORM models to configure) and
one round trip for the rows. The statement timeout is transaction-local (SET LOCAL), so nothing
leaks to a pooled connection, and READ ONLY makes the intent explicit even for a role that could
write. Group columns come back prefixed ``group_``; a job without a group has them all NULL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.engine import Engine

GROUP_PREFIX = "group_"

_SELECT = """
SELECT c.dag_name, c.job_name, c.exchange_group, c.schedule, c.cpu_request, c.cpu_limit,
       c.memory_request, c.memory_limit, c.batch_size, c.timeout_seconds, c.max_retries,
       c.retry_delay_minutes, c.max_active_tasks, c.enabled, c.priority, c.params, c.version,
       c.created_at, c.updated_at, c.updated_by,
       g.group_name AS group_group_name, g.display_name AS group_display_name,
       g.exchanges AS group_exchanges, g.primary_timezone AS group_primary_timezone,
       g.market_open AS group_market_open, g.market_close AS group_market_close,
       g.enabled AS group_enabled, g.priority AS group_priority, g.version AS group_version,
       g.created_at AS group_created_at, g.updated_at AS group_updated_at,
       g.updated_by AS group_updated_by
  FROM hub.dag_configuration c
  LEFT JOIN hub.exchange_groups g ON g.group_name = c.exchange_group
 WHERE c.enabled AND (c.exchange_group IS NULL OR g.enabled)
"""
_ORDER = " ORDER BY c.dag_name, c.job_name"
_ALL_ENABLED = text(_SELECT + _ORDER)


def read_enabled_jobs(
    engine: Engine,
    *,
    statement_timeout_ms: int,
    only: Sequence[tuple[str, str]] | None = None,
) -> list[dict[str, Any]]:
    """Every enabled job whose group is enabled (or that has none), or just the ``only`` pairs.

    ``only`` keeps a worker's parse independent of the number of jobs: the primary key finds the
    one (dag_name, job_name) pair, so nothing else is read, validated or built.
    """
    if only is not None and not only:
        return []
    with engine.connect() as conn, conn.begin():
        conn.exec_driver_sql(
            f"SET TRANSACTION READ ONLY; SET LOCAL statement_timeout = {int(statement_timeout_ms)}"
        )
        statement, binds = (_ALL_ENABLED, {}) if only is None else _select_pairs(only)
        return [dict(row) for row in conn.execute(statement, binds).mappings()]


def _select_pairs(pairs: Sequence[tuple[str, str]]) -> tuple[TextClause, dict[str, str]]:
    """The enabled-jobs query narrowed to a few primary keys (placeholders only, no values inlined)."""
    conditions = " OR ".join(
        f"(c.dag_name = :d{i} AND c.job_name = :j{i})" for i in range(len(pairs))
    )
    binds: dict[str, str] = {}
    for i, (dag_name, job_name) in enumerate(pairs):
        binds[f"d{i}"], binds[f"j{i}"] = dag_name, job_name
    return text(f"{_SELECT} AND ({conditions}){_ORDER}"), binds
