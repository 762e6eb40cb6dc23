"""Job configuration rows (hub.dag_configuration): the listing operators filter."""

from __future__ import annotations

from hubctl.db import Connection
from hubctl.repository.rows import Row, select_rows
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
