"""What read commands show: control rows as JSON-ready dicts (spec fields, then bookkeeping).

Kept apart from the writes so that a read imports no pydantic: rows go from the database to
the output as they are, shaped by the tables' descriptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hubctl.db import Connection, Database
from hubctl.errors import NotFoundError, unknown
from hubctl.repository import config as job_rows
from hubctl.repository import groups as group_rows
from hubctl.repository import tickers as ticker_rows
from hubctl.repository.config import JobPage
from hubctl.repository.rows import Row, select_rows
from hubctl.services import history
from hubctl.tables import GROUPS, JOBS, TICKERS, ControlTable

_LISTED_KEYS = 20


def not_found(conn: Connection, *, table: ControlTable, key: Mapping[str, Any]) -> NotFoundError:
    """'no job 'a/b'; known: ...' (the known keys when they are few enough to read)."""
    labels = [table.label(row) for row in select_rows(conn, table=table)]
    known = ", ".join(labels) if len(labels) <= _LISTED_KEYS else f"{len(labels)} rows"
    return NotFoundError(
        f"{table.key[-1]}: no {table.noun} {table.label(key)!r}; known: {known or '(none)'}"
    )


def require_row(
    conn: Connection, *, table: ControlTable, key: Mapping[str, Any], lock: bool = False
) -> Row:
    """The row with ``key`` (as the database returns it), or NotFoundError naming the known keys."""
    found = select_rows(conn, table=table, where=table.key_of(key), lock=lock)
    if not found:
        raise not_found(conn, table=table, key=key)
    return found[0]


def require_group(conn: Connection, group_name: str, *, field: str = "exchange_group") -> None:
    """Refuse a group name that does not exist, listing the ones that do."""
    names = group_rows.group_names(conn)
    if group_name not in names:
        raise unknown(field, "group", group_name, names)


def list_jobs(
    database: Database,
    *,
    dag_name: str | None = None,
    group: str | None = None,
    enabled: bool | None = None,
    at: str | None = None,
) -> list[Row]:
    """Jobs matching the filters, now or (``at``: a time) as they were then."""
    with history.connect_at(database, at) as conn:
        if group is not None:
            require_group(conn, group, field="group")
        found = job_rows.list_jobs(conn, dag_name=dag_name, group=group, enabled=enabled)
        return [JOBS.as_dict(row) for row in found]


def job_page(database: Database, *, text: str = "", limit: int, offset: int = 0) -> JobPage:
    """One page of the jobs whose "dag/job group" contains ``text``, and how many match in all."""
    with database.connect() as conn:
        found = job_rows.job_page(conn, text=text, limit=limit, offset=offset)
    return JobPage([JOBS.as_dict(row) for row in found.rows], found.total)


def get_job(database: Database, *, dag_name: str, job_name: str, at: str | None = None) -> Row:
    key = {"dag_name": dag_name, "job_name": job_name}
    with history.connect_at(database, at) as conn:
        return JOBS.as_dict(require_row(conn, table=JOBS, key=key))


def list_groups(
    database: Database, *, enabled: bool | None = None, at: str | None = None
) -> list[Row]:
    """Exchange groups, now or (``at``: a time) as they were then."""
    with history.connect_at(database, at) as conn:
        return [GROUPS.as_dict(row) for row in group_rows.list_groups(conn, enabled=enabled)]


def configuration_at(database: Database, *, at: str) -> dict[str, list[Row]]:
    """Every group and job as they were at ``at`` (one replay of the audit log for both)."""
    with history.connect_at(database, at) as conn:
        return {
            "groups": [GROUPS.as_dict(row) for row in group_rows.list_groups(conn, enabled=None)],
            "jobs": [JOBS.as_dict(row) for row in job_rows.list_jobs(conn)],
        }


def show_group(database: Database, *, group_name: str) -> Row:
    """The group's row, the jobs that use it and the tickers listed on its exchanges."""
    with database.connect() as conn:
        group = require_row(conn, table=GROUPS, key={"group_name": group_name})
        jobs = group_rows.jobs_using(conn, group_name=group_name)
        tickers = ticker_rows.list_tickers(conn, exchanges=group["exchanges"])
    return {**GROUPS.as_dict(group), "jobs": jobs, "tickers": [row["ticker"] for row in tickers]}


def list_tickers(database: Database, *, group: str | None = None) -> list[Row]:
    """Every ticker, or those listed on one of the group's exchanges."""
    with database.connect() as conn:
        exchanges = None
        if group is not None:
            exchanges = require_row(conn, table=GROUPS, key={"group_name": group})["exchanges"]
        return [TICKERS.as_dict(row) for row in ticker_rows.list_tickers(conn, exchanges=exchanges)]
