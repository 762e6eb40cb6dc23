"""audit_anchor (job ``hub``): a signed anchor of the audit chain, outside the database, on a schedule.

    load_config → anchor

The task runs `hubctl audit anchor`'s service: verify the chain from the newest anchor on, then
append a signed anchor to the store. The key and the store come from the worker's environment
(HUB_AUDIT_KEY or HUB_AUDIT_KEY_FILE, HUB_ANCHOR_PATH), never from the hub database; without a
key the task fails with one clear line. Disable it like any job:
`hubctl config disable audit_anchor hub`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from airflow.sdk import DAG, task

from hubctl.dag_builder import new_dag
from hubctl.db import Database
from hubctl.pipelines.runtime import load_config
from hubctl.services import audit
from hubctl.specs import DagSpec


@task
def anchor(config: dict[str, Any]) -> dict[str, Any]:
    """Anchor the chain (XCom: last_id, last_hash, count, time, key id, signature; never the key)."""

    return dataclasses.asdict(audit.anchor(Database.from_settings()))


def build(spec: DagSpec) -> DAG:
    with new_dag(spec) as dag:
        config: Any = load_config(spec.dag_name, spec.job_name)
        anchor(config)
    return dag
