"""Job configuration rows (hub.dag_configuration): the listing operators filter, and the page of
it the Markets page's Jobs tab shows."""

from __future__ import annotations

from dataclasses import dataclass

from hubctl.db import Connection
from hubctl.repository.rows import Row, fetch, fetch_value, select_rows
from hubctl.tables import JOBS


def list_jobs(
    conn: Connection,
    *,
    dag_name: str | None = None,
    group: str | None = None,
    enabled: bool | None = None,
) -> list[Row]:
    filters = {"dag_name": dag_name, "exchange_group": group, "enabled": enabled}
    where = {column: value for column, value in filters.items() if value is not None}
    return select_rows(conn, table=JOBS, where=where)


@dataclass(frozen=True)
class JobPage:
    rows: list[Row]
    total: int  # jobs matching the text, on every page


# What the text filter reads: "dag/job group", as the page shows a job.
_MATCHED = "dag_name || '/' || job_name || ' ' || coalesce(exchange_group, '')"
_WHERE = f" FROM {JOBS.qualified_name} WHERE {_MATCHED} ILIKE %(pattern)s ESCAPE '\\'"


def like_pattern(text: str) -> str:
    """``text`` anywhere, taken literally (its own % and _ are not wildcards)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def job_page(conn: Connection, *, text: str, limit: int, offset: int) -> JobPage:
    """Jobs whose "dag/job group" contains ``text`` (any case), in key order: ``limit`` of them
    from ``offset``, and how many match in all. Offset, not a keyset: the page steps back as
    well as forward, and skipping even 10,000 rows costs milliseconds."""
    if "\x00" in text:  # PostgreSQL text cannot hold NUL: no job matches it
        return JobPage([], 0)
    params = {"pattern": like_pattern(text), "limit": limit, "offset": offset}
    rows = fetch(
        conn,
        f"SELECT {', '.join(JOBS.columns)}{_WHERE} ORDER BY {', '.join(JOBS.key)}"
        " LIMIT %(limit)s OFFSET %(offset)s",
        params,
    )
    return JobPage(rows, int(fetch_value(conn, f"SELECT count(*){_WHERE}", params)))
