"""The generator's one read: enabled jobs joined with their exchange group, in a read-only transaction.

This module sits on the DAG-parse path: one round trip for the rows, columns derived from the
tables' descriptions. The statement timeout is transaction-local (SET LOCAL), so nothing leaks
to a pooled connection, and READ ONLY makes the intent explicit even for a role that could
write. Group columns come back prefixed ``group_``; a job without a group has them all NULL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hubctl.db import Connection
from hubctl.repository.rows import fetch
from hubctl.tables import GROUPS, JOBS

GROUP_PREFIX = "group_"

_SELECT = (
    "SELECT "
    + ", ".join(
        [f"c.{column}" for column in JOBS.columns]
        + [f"g.{column} AS {GROUP_PREFIX}{column}" for column in GROUPS.columns]
    )
    + f" FROM {JOBS.qualified_name} c"
    + f" LEFT JOIN {GROUPS.qualified_name} g ON g.group_name = c.exchange_group"
    + " WHERE c.enabled AND (c.exchange_group IS NULL OR g.enabled)"
)
_ORDER = " ORDER BY c.dag_name, c.job_name"
# Must equal hubctl.shards.shard_of_group: the first 8 hex digits of md5 as an unsigned number,
# modulo the shard count; jobs without a group are in shard 0.
_SHARD_FILTER = (
    " AND CASE WHEN c.exchange_group IS NULL THEN 0"
    " ELSE ('x' || substr(md5(c.exchange_group), 1, 8))::bit(32)::bigint %% %(shards)s"
    " END = %(shard)s"
)


def read_enabled_jobs(
    conn: Connection,
    *,
    statement_timeout_ms: int,
    only: Sequence[tuple[str, str]] | None = None,
    shard: tuple[int, int] | None = None,
) -> list[dict[str, Any]]:
    """Every enabled job whose group is enabled (or that has none), or just the ``only`` pairs.

    ``shard`` (index, count) keeps the jobs of that parse unit only (see hubctl.shards).

    ``only`` keeps a worker's parse independent of the number of jobs: the primary key finds the
    one (dag_name, job_name) pair, so nothing else is read, validated or built.
    """
    if only is not None and not only:
        return []
    fetch(
        conn,
        "SET TRANSACTION READ ONLY; SET LOCAL statement_timeout = %(ms)s",
        {"ms": int(statement_timeout_ms)},
    )
    if only is None and shard is None:
        return fetch(conn, _SELECT + _ORDER)
    if only is None:
        index, count = shard or (0, 1)
        return fetch(conn, _SELECT + _SHARD_FILTER + _ORDER, {"shard": index, "shards": count})
    conditions = " OR ".join(
        f"(c.dag_name = %(d{i})s AND c.job_name = %(j{i})s)" for i in range(len(only))
    )
    binds: dict[str, str] = {}
    for i, (dag_name, job_name) in enumerate(only):
        binds[f"d{i}"], binds[f"j{i}"] = dag_name, job_name
    return fetch(conn, f"{_SELECT} AND ({conditions}){_ORDER}", binds)
