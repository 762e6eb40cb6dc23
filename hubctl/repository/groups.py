"""Exchange groups: queries beyond the shared row operations of hubctl.repository.rows."""

from __future__ import annotations

from hubctl.db import Connection
from hubctl.repository.rows import Row, fetch_value, select_rows
from hubctl.tables import GROUPS, JOBS


def list_groups(conn: Connection, *, enabled: bool | None = None) -> list[Row]:
    where = {} if enabled is None else {"enabled": enabled}
    return select_rows(conn, table=GROUPS, where=where)


def group_names(conn: Connection) -> list[str]:
    return [row["group_name"] for row in select_rows(conn, table=GROUPS)]


def jobs_using(conn: Connection, *, group_name: str) -> list[str]:
    """'dag_name/job_name' of every job that belongs to the group."""
    rows = select_rows(conn, table=JOBS, where={"exchange_group": group_name})
    return [JOBS.label(row) for row in rows]


def database_knows_timezone(conn: Connection, *, name: str) -> bool:
    """Whether the server's own timezone database has ``name`` (the CHECK on primary_timezone)."""
    return bool(fetch_value(conn, "SELECT hub.is_valid_timezone(%(name)s)", {"name": name}))
