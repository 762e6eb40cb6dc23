"""One evaluation of the alert rules: what the hub_monitor job runs, and `hubctl alerts evaluate`.

    read Airflow (incrementally) -> store the finished runs -> evaluate the four rules
    -> services.alerts.reconcile (open, touch, resolve; queue deliveries) -> deliver

The statements and API calls of a run do not grow with the number of jobs: each rule's inputs
are one query for all jobs or groups (hubctl.repository.monitoring), the API reads are capped
(hubctl.monitoring.airflow_reader), deliveries are capped per run. When Airflow's API cannot be
read, the rules that need it (failure_rate, task_duration) are left as they are, neither opened
nor resolved, and the error is kept in hub.monitor_state; the other two are still evaluated.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from hubctl.airflow_api import AirflowApi, AirflowApiError
from hubctl.db import Connection, Database
from hubctl.errors import ConflictError
from hubctl.monitoring import rules
from hubctl.monitoring.airflow_reader import AirflowReader, Reading
from hubctl.monitoring.delivery import Delivered, Send, deliver_pending, smtp_sender
from hubctl.repository import monitoring
from hubctl.repository.rows import Row
from hubctl.services.alerts import Finding, Transitions, reconcile
from hubctl.settings import Settings

AIRFLOW_RULES = frozenset({"failure_rate", "task_duration"})
DATA_RULES = frozenset({"data_late", "source_unreachable"})


@dataclass(frozen=True)
class Evaluation:
    evaluated_at: dt.datetime
    findings: list[Finding]
    transitions: Transitions
    runs_read: int = 0
    api_calls: int = 0
    airflow_error: str | None = None
    delivered: Delivered | None = None  # None: no recipients (HUB_ALERT_TO) set

    def summary(self) -> dict[str, Any]:
        """What the run did, as JSON-able values (the task's XCom, `alerts evaluate -o json`)."""
        return {
            "evaluated_at": self.evaluated_at.isoformat(),
            "findings": [f"{item.rule} {item.subject}" for item in self.findings],
            "opened": [f"{item.rule} {item.subject}" for item in self.transitions.opened],
            "resolved": [f"{item.rule} {item.subject}" for item in self.transitions.resolved],
            "silenced": [f"{item.rule} {item.subject}" for item in self.transitions.silenced],
            "runs_read": self.runs_read,
            "api_calls": self.api_calls,
            "airflow_error": self.airflow_error,
            "notifications_sent": self.delivered.sent if self.delivered else None,
            "delivery_errors": self.delivered.failed if self.delivered else [],
        }


def evaluate_now(settings: Settings, now: dt.datetime) -> Evaluation:
    """Evaluate with the hub's settings: its database, Airflow's API as hubctl reaches it, and
    delivery through HUB_ALERT_CONNECTION to HUB_ALERT_TO (none sent when that is unset)."""
    return evaluate(
        Database.from_settings(settings),
        AirflowApi.from_settings(settings),
        now=now,
        send=smtp_sender(settings) if settings.alert_to else None,
    )


def evaluate(
    database: Database, api: AirflowApi | None, *, now: dt.datetime, send: Send | None
) -> Evaluation:
    """One evaluation; ConflictError while another one runs (they would race to open alerts)."""
    with database.connect() as guard, monitoring.evaluation_lock(guard) as taken:
        if not taken:
            raise ConflictError(
                "another evaluation is running (the hub_monitor job or hubctl alerts evaluate);"
                " try again when it has finished"
            )
        return _evaluate(database, api, now=now, send=send)


def _evaluate(
    database: Database, api: AirflowApi | None, *, now: dt.datetime, send: Send | None
) -> Evaluation:
    calls_before = api.requests if api else 0
    with database.connect() as conn:
        state = monitoring.state(conn) or {}
        jobs = {row["dag_id"]: rules.JobThresholds(**row) for row in monitoring.jobs(conn)}
    reading, airflow_error = _read_airflow(api, state, jobs, now)
    api_calls = api.requests - calls_before if api else 0
    with database.transaction() as conn:
        findings = _findings(conn, reading, jobs, now)
        monitoring.save_state(
            conn,
            runs_cursor=reading.runs_cursor if reading else state.get("runs_cursor"),
            tasks_cursor=reading.tasks_cursor if reading else state.get("tasks_cursor"),
            evaluated_at=now,
            api_calls=api_calls,
            last_error=airflow_error,
        )
    evaluated = DATA_RULES | (AIRFLOW_RULES if reading else frozenset())
    transitions = reconcile(database, rules=evaluated, findings=findings, now=now)
    return Evaluation(
        evaluated_at=now,
        findings=findings,
        transitions=transitions,
        runs_read=len(reading.runs) if reading else 0,
        api_calls=api_calls,
        airflow_error=airflow_error,
        delivered=deliver_pending(database, send) if send else None,
    )


def _read_airflow(
    api: AirflowApi | None, state: Row, jobs: dict[str, rules.JobThresholds], now: dt.datetime
) -> tuple[Reading | None, str | None]:
    if api is None:
        return None, "Airflow's API is not configured (HUB_AIRFLOW_API_URL, or hubctl up)"
    try:
        reading = AirflowReader(api).read(
            runs_cursor=state.get("runs_cursor"),
            tasks_cursor=state.get("tasks_cursor"),
            smallest_task_minutes=min((job.task_minutes for job in jobs.values()), default=30),
            now=now,
        )
    except AirflowApiError as error:
        return None, str(error)
    return reading, None


def _findings(
    conn: Connection, reading: Reading | None, jobs: dict[str, rules.JobThresholds],
    now: dt.datetime,
) -> list[Finding]:  # fmt: skip
    """Store what was read, then every rule's findings from the stored state."""
    findings: list[Finding] = []
    if reading is not None:
        monitoring.store_runs(conn, runs=[
            (run.dag_id, run.run_id, run.state, run.start_date, run.end_date,
             run.duration_seconds, None)  # Airflow's run responses carry no updated_at
            for run in reading.runs
        ])  # fmt: skip
        outcomes = [rules.RunOutcomes(**row) for row in monitoring.run_outcomes(conn)]
        findings += rules.failure_rate(outcomes, jobs)
        findings += rules.task_duration(reading.tasks, jobs)
    freshness = [rules.GroupFreshness(**row) for row in monitoring.group_freshness(conn)]
    fetches = [rules.GroupFetches(**row) for row in monitoring.group_fetches(conn)]
    return findings + rules.data_late(freshness, now) + rules.source_unreachable(fetches)
