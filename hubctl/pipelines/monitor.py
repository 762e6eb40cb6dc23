"""hub_monitor (job ``hub``): evaluates the alert thresholds every five minutes.

    load_config → evaluate

The task runs `hubctl alerts evaluate`'s evaluation (hubctl.monitoring.evaluate): read what
changed in Airflow since the last run through its REST API (hubctl's own credentials), evaluate
the four rules, open, touch and resolve alert records, and send the queued notifications through
the Airflow Connection HUB_ALERT_CONNECTION to HUB_ALERT_TO. Disable it like any job:
`hubctl config disable hub_monitor hub` (alerts then stay as they are).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import DAG, task

from hubctl.dag_builder import new_dag
from hubctl.pipelines.runtime import load_config
from hubctl.settings import get_settings
from hubctl.specs import DagSpec


@task
def evaluate(config: dict[str, Any]) -> dict[str, Any]:
    """Evaluate now (XCom: findings, alerts opened/resolved, notifications sent, API calls)."""
    # deferred: ~17 ms (the rules, the alert services) at every parse; only the running task needs it
    from hubctl.monitoring.evaluate import evaluate_now

    done = evaluate_now(get_settings(), dt.datetime.now(dt.UTC))
    return done.summary()


def build(spec: DagSpec) -> DAG:
    with new_dag(spec) as dag:
        config: Any = load_config(spec.dag_name, spec.job_name)
        evaluate(config)
    return dag
