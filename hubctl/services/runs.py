"""What a DAG run ran with: the hub configuration version and audit id its `load_config` task
recorded, the Airflow DAG version it ran on, and the audit entries made since.

Airflow is reached through its REST API only (hubctl.airflow_api): the run and its DAG versions,
and `load_config`'s XComs (the configuration as JSON with its ``version``, and ``hub_audit_id``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hubctl.airflow_api import AirflowApi, AirflowApiError
from hubctl.db import Database
from hubctl.errors import NotFoundError, ValidationError
from hubctl.services.audit import AuditEntry, AuditQuery, stream_audit_log

LOAD_CONFIG_TASK = "load_config"
AUDIT_ID_XCOM = "hub_audit_id"  # hubctl.pipelines.runtime pushes it; kept here without Airflow


@dataclass(frozen=True)
class RunProvenance:
    dag_id: str
    run_id: str
    state: str | None
    start_date: str | None
    configuration_version: int
    audit_id: int | None
    dag_versions: list[dict[str, Any]]
    changes_since: list[AuditEntry]

    def to_dict(self) -> dict[str, Any]:
        return {
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "state": self.state,
            "start_date": self.start_date,
            "configuration_version": self.configuration_version,
            "audit_id": self.audit_id,
            "dag_versions": self.dag_versions,
            "changes_since": [entry.to_dict() for entry in self.changes_since],
        }


def _api(api: AirflowApi | None) -> AirflowApi:
    if api is not None:
        return api
    known = AirflowApi.from_settings()
    if known is None:
        raise ValidationError(
            "airflow: no Airflow API known; set HUB_AIRFLOW_API_URL or run `hubctl up`"
        )
    return known


def _recorded(api: AirflowApi, dag_id: str, run_id: str) -> tuple[dict[str, Any], int | None]:
    """load_config's return value (the configuration) and the audit id it recorded."""
    try:
        config = api.xcom(dag_id, run_id, LOAD_CONFIG_TASK, "return_value")
    except AirflowApiError as error:
        raise NotFoundError(
            f"run: {dag_id} {run_id} has no recorded configuration (load_config did not finish): "
            f"{error}"
        ) from None
    try:
        audit_id = api.xcom(dag_id, run_id, LOAD_CONFIG_TASK, AUDIT_ID_XCOM)
    except AirflowApiError:
        audit_id = None  # a run from before hub_audit_id was recorded
    return config, audit_id


def _since(database: Database, config: dict[str, Any], audit_id: int | None) -> list[AuditEntry]:
    """Entries after ``audit_id`` about the job, or (a grouped job) its group, jobs and tickers."""
    group = (config.get("group") or {}).get("group_name")
    after = audit_id or 0
    if group:
        query = AuditQuery(group=group, after_id=after)
    else:
        query = AuditQuery(dag_name=config["dag_name"], job_name=config["job_name"], after_id=after)
    return list(stream_audit_log(database, query))


def run_provenance(
    database: Database, *, dag_id: str, run_id: str, api: AirflowApi | None = None
) -> RunProvenance:
    """What the run ran with, and what changed in its job's configuration since."""
    api = _api(api)
    try:
        run = api.dag_run(dag_id, run_id)
    except AirflowApiError as error:
        raise NotFoundError(f"run: no run {run_id!r} of {dag_id} ({error})") from None
    config, audit_id = _recorded(api, dag_id, run_id)
    versions = [
        {key: version.get(key) for key in ("version_number", "bundle_version", "created_at")}
        for version in run.get("dag_versions") or []
    ]
    return RunProvenance(
        dag_id,
        run_id,
        run.get("state"),
        run.get("start_date"),
        int(config["version"]),
        audit_id,
        versions,
        _since(database, config, audit_id),
    )
