"""The example family package (examples/airflow-hub-container-jobs), as installed: loaded through
its `airflow_hub.pipelines` entry point, like any family package a user writes.

kubernetes_job: the pod request KubernetesPodOperator would send (built by the operator's own
code, no cluster). docker_job: the DAG and its DockerOperator (no Docker engine here).
"""

from __future__ import annotations

import datetime as dt
from importlib.metadata import entry_points
from typing import Any

import pytest

from hubctl.dag_builder import build_dag
from hubctl.errors import ValidationError
from hubctl.registry import ENTRY_POINT_GROUP, get_family, validate_params
from hubctl.specs import DagSpec

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
PARAMS = {
    "image": "ghcr.io/acme/report:1.4",
    "command": ["python", "-m", "report"],
    "arguments": ["--fast"],
    "env": {"REPORT_FORMAT": "parquet"},
}


def _spec(dag_name: str, **params: Any) -> DagSpec:
    return DagSpec.model_validate(
        {
            "dag_name": dag_name, "job_name": "nightly_report", "exchange_group": "us_markets",
            "schedule": None, "version": 2, "created_at": NOW, "updated_at": NOW,
            "updated_by": "pytest", "cpu_request": "250m", "cpu_limit": "1500m",
            "memory_request": "256Mi", "memory_limit": "768Mi", "params": {**PARAMS, **params},
        }
    )  # fmt: skip


def test_the_families_come_from_the_installed_example_package() -> None:
    registered = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    for name in ("kubernetes_job", "docker_job"):
        assert registered[name].dist is not None
        assert registered[name].dist.name == "airflow-hub-container-jobs"
        assert get_family(name).builder.startswith("airflow_hub_container_jobs.")


def test_the_pod_request_has_the_params_image_command_and_the_knobs_resources() -> None:
    secret = {"name": "REPORT_DB_URL", "secret": "report-db", "key": "url"}
    dag = build_dag(_spec("kubernetes_job", secret_env=[secret], connection_id="warehouse"))
    pod = dag.get_task("run").build_pod_request_obj(dry_run=True)
    [container] = pod.spec.containers
    assert container.image == "ghcr.io/acme/report:1.4"
    assert (container.command, container.args) == (["python", "-m", "report"], ["--fast"])
    assert container.resources.requests == {"cpu": "250m", "memory": "256Mi"}
    assert container.resources.limits == {"cpu": "1500m", "memory": "768Mi"}
    env = {var.name: var for var in container.env}
    assert env["REPORT_FORMAT"].value == "parquet"
    # The secret is a reference to a Kubernetes Secret, and the Connection a run-time template.
    reference = env["REPORT_DB_URL"].value_from.secret_key_ref
    assert (reference.name, reference.key, env["REPORT_DB_URL"].value) == ("report-db", "url", None)
    assert env["AIRFLOW_CONN_WAREHOUSE"].value == "{{ conn.warehouse.get_uri() }}"


def test_secret_looking_env_is_refused_at_write_time() -> None:
    with pytest.raises(ValidationError, match=r"params\.env: .*'DB_PASSWORD' looks like a secret"):
        validate_params("kubernetes_job", {**PARAMS, "env": {"DB_PASSWORD": "hunter2"}})


def test_the_docker_family_builds_a_docker_operator_limited_by_the_knobs() -> None:
    from airflow.providers.docker.operators.docker import DockerOperator

    task = build_dag(_spec("docker_job")).get_task("run")
    assert isinstance(task, DockerOperator)
    assert task.image == "ghcr.io/acme/report:1.4"
    assert task.command == ["python", "-m", "report", "--fast"]
    assert (task.cpus, task.mem_limit) == (1.5, "768m")
    assert task.environment == {"REPORT_FORMAT": "parquet"}
