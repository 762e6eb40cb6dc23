"""Job configuration (hub.dag_configuration): list, get, add, set, enable/disable, remove."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from hubctl.db import audited_transaction
from hubctl.repository.tables import JOBS
from hubctl.schemas import DagConfigSpec
from hubctl.services import rows
from hubctl.services.reads import require_group
from hubctl.services.validation import normalized_params, parse_assignments

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine


def prepare_job(
    conn: Connection, spec: DagConfigSpec, before: DagConfigSpec | None
) -> DagConfigSpec:
    """A known pipeline with valid params (normalised) and an existing group."""
    if before is None or spec.params != before.params:
        spec = spec.model_copy(update={"params": normalized_params(spec.dag_name, spec.params)})
    changed_group = before is None or spec.exchange_group != before.exchange_group
    if changed_group and spec.exchange_group is not None:
        require_group(conn, spec.exchange_group)
    return spec


def _key(dag_name: str, job_name: str) -> dict[str, str]:
    return {"dag_name": dag_name, "job_name": job_name}


def add_job(
    engine: Engine,
    *,
    dag_name: str,
    job_name: str,
    assignments: Sequence[str] = (),
    actor: str,
    reason: str | None = None,
) -> rows.RowChange:
    """Create a job; fields not given take the database defaults."""
    parsed = parse_assignments(assignments, model=JOBS.spec, settable=JOBS.settable_fields)
    values = parsed.apply_to(_key(dag_name, job_name))
    with audited_transaction(engine, actor=actor, reason=reason) as conn:
        return rows.create_row(conn, table=JOBS, values=values, prepare=prepare_job)


def set_job(
    engine: Engine,
    *,
    dag_name: str,
    job_name: str,
    assignments: Sequence[str],
    expect_version: int | None = None,
    dry_run: bool = False,
    actor: str,
    reason: str | None = None,
) -> rows.RowChange:
    """Change fields and params keys: `batch_size=750 params.years_back=5 params.pool=null`."""
    return rows.edit_row(
        engine,
        table=JOBS,
        key=_key(dag_name, job_name),
        assignments=assignments,
        expect_version=expect_version,
        dry_run=dry_run,
        prepare=prepare_job,
        actor=actor,
        reason=reason,
    )


def set_job_enabled(
    engine: Engine,
    *,
    dag_name: str,
    job_name: str,
    enabled: bool,
    actor: str,
    reason: str | None = None,
) -> rows.RowChange:
    field = f"enabled={str(enabled).lower()}"
    return set_job(
        engine,
        dag_name=dag_name,
        job_name=job_name,
        assignments=[field],
        actor=actor,
        reason=reason,
    )


def remove_job(
    engine: Engine, *, dag_name: str, job_name: str, actor: str, reason: str | None = None
) -> rows.RowChange:
    with audited_transaction(engine, actor=actor, reason=reason) as conn:
        return rows.delete_row(conn, table=JOBS, key=_key(dag_name, job_name))
