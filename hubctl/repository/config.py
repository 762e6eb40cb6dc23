"""Job configuration rows (hub.dag_configuration): the listing operators filter."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from hubctl.repository.tables import JOBS, select_records
from hubctl.schemas import DagConfigRecord


def list_jobs(
    conn: Connection,
    *,
    dag_name: str | None = None,
    group: str | None = None,
    enabled: bool | None = None,
) -> list[DagConfigRecord]:
    columns = JOBS.table.c
    where = []
    if dag_name is not None:
        where.append(columns.dag_name == dag_name)
    if group is not None:
        where.append(columns.exchange_group == group)
    if enabled is not None:
        where.append(columns.enabled.is_(enabled))
    return select_records(conn, table=JOBS, where=where)
