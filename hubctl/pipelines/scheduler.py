"""hub_scheduler (job ``hub``): applies the scheduled changes that are due, every minute.

    load_config → apply_due

The task runs `hubctl schedule`'s service: each due change is applied in its own audited
transaction as the actor who scheduled it, with `via = 'schedule'`; one whose target row moved on
since it was scheduled is suspended instead (`hubctl schedule list`, `hubctl doctor`). A due
change is locked while it is applied, so two runs never apply it twice. Disable it like any job:
`hubctl config disable hub_scheduler hub` (due changes then wait).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import DAG, task

from hubctl.dag_builder import new_dag
from hubctl.db import Database
from hubctl.pipelines.runtime import load_config
from hubctl.services import schedule
from hubctl.specs import DagSpec


@task
def apply_due(config: dict[str, Any]) -> list[dict[str, Any]]:
    """Apply what is due now (XCom: id, state and note of each change it settled)."""

    settled = schedule.apply_due(Database.from_settings(), now=dt.datetime.now(dt.UTC))
    return [{"id": change.id, "state": change.state, "note": change.note} for change in settled]


def build(spec: DagSpec) -> DAG:
    with new_dag(spec) as dag:
        config: Any = load_config(spec.dag_name, spec.job_name)
        apply_due(config)
    return dag
