"""Exchange groups: queries beyond the shared row operations of hubctl.repository.tables."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from hubctl.repository.tables import GROUPS, JOBS, select_records
from hubctl.schemas import ExchangeGroupRecord


def list_groups(conn: Connection, *, enabled: bool | None = None) -> list[ExchangeGroupRecord]:
    where = [] if enabled is None else [GROUPS.table.c.enabled.is_(enabled)]
    return select_records(conn, table=GROUPS, where=where)


def group_names(conn: Connection) -> list[str]:
    query = sa.select(GROUPS.table.c.group_name).order_by(GROUPS.table.c.group_name)
    return list(conn.scalars(query))


def jobs_using(conn: Connection, *, group_name: str) -> list[str]:
    """'dag_name/job_name' of every job that belongs to the group."""
    columns = JOBS.table.c
    query = (
        sa.select(columns.dag_name, columns.job_name)
        .where(columns.exchange_group == group_name)
        .order_by(columns.dag_name, columns.job_name)
    )
    return [f"{row.dag_name}/{row.job_name}" for row in conn.execute(query)]
