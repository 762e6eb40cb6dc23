"""Job configuration (hub.dag_configuration): add, set, enable/disable, remove."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hubctl.author import Author
from hubctl.db import Database
from hubctl.services import rows
from hubctl.services.changes import audited_change
from hubctl.services.rows import FieldChanges, RowChange
from hubctl.tables import JOBS


def _key(dag_name: str, job_name: str) -> dict[str, str]:
    return {"dag_name": dag_name, "job_name": job_name}


def add_job(
    database: Database,
    *,
    dag_name: str,
    job_name: str,
    values: Mapping[str, Any] | None = None,
    author: Author,
) -> RowChange:
    """Create a job; fields not given take the database defaults."""
    with audited_change(database, author) as conn:
        return rows.create_row(
            conn, table=JOBS, values={**(values or {}), **_key(dag_name, job_name)}
        )


def set_job(
    database: Database,
    *,
    dag_name: str,
    job_name: str,
    changes: FieldChanges,
    expect_version: int | None = None,
    dry_run: bool = False,
    author: Author,
) -> RowChange:
    """Change fields and params keys of one job."""
    return rows.edit_row(
        database,
        table=JOBS,
        key=_key(dag_name, job_name),
        changes=changes,
        expect_version=expect_version,
        dry_run=dry_run,
        author=author,
    )


def set_job_enabled(
    database: Database,
    *,
    dag_name: str,
    job_name: str,
    enabled: bool,
    author: Author,
) -> RowChange:
    return set_job(
        database,
        dag_name=dag_name,
        job_name=job_name,
        changes=FieldChanges({"enabled": enabled}),
        author=author,
    )


def remove_job(database: Database, *, dag_name: str, job_name: str, author: Author) -> RowChange:
    with audited_change(database, author) as conn:
        return rows.delete_row(conn, table=JOBS, key=_key(dag_name, job_name))
