"""Job configuration (hub.dag_configuration): add, set, enable/disable, remove."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hubctl.db import Database, Via
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
    actor: str,
    reason: str | None = None,
) -> RowChange:
    """Create a job; fields not given take the database defaults."""
    with audited_change(database, actor=actor, reason=reason) as conn:
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
    actor: str,
    reason: str | None = None,
    via: Via = "hubctl",
) -> RowChange:
    """Change fields and params keys of one job."""
    return rows.edit_row(
        database,
        table=JOBS,
        key=_key(dag_name, job_name),
        changes=changes,
        expect_version=expect_version,
        dry_run=dry_run,
        actor=actor,
        reason=reason,
        via=via,
    )


def set_job_enabled(
    database: Database,
    *,
    dag_name: str,
    job_name: str,
    enabled: bool,
    actor: str,
    reason: str | None = None,
    via: Via = "hubctl",
) -> RowChange:
    return set_job(
        database,
        dag_name=dag_name,
        job_name=job_name,
        changes=FieldChanges({"enabled": enabled}),
        actor=actor,
        reason=reason,
        via=via,
    )


def remove_job(
    database: Database, *, dag_name: str, job_name: str, actor: str, reason: str | None = None
) -> RowChange:
    with audited_change(database, actor=actor, reason=reason) as conn:
        return rows.delete_row(conn, table=JOBS, key=_key(dag_name, job_name))
