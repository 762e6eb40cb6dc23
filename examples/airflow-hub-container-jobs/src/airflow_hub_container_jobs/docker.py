"""docker_job: seed 003's DockerOperator, one container limited by the job's knobs."""

from __future__ import annotations

from airflow.providers.docker.operators.docker import DockerOperator
from airflow.sdk import DAG

from airflow_hub_container_jobs.params import DockerJobParams
from airflow_hub_container_jobs.runtime import connection_env
from hubctl.families import DagSpec, cpu_millicores, new_dag


def build(spec: DagSpec) -> DAG:
    params = DockerJobParams.model_validate(spec.params)
    with new_dag(spec) as dag:
        DockerOperator(
            task_id="run",
            image=params.image,
            command=[*params.command, *params.arguments],
            environment=params.env,
            # Templated and kept out of the logs: the Connection's URI is read at run time.
            private_environment=connection_env(params.connection_id),
            docker_url=params.docker_url,
            cpus=float(cpu_millicores(spec.cpu_limit) or 1000) / 1000,
            mem_limit=docker_memory(spec.memory_limit),
            auto_remove="success",
        )
    return dag


def docker_memory(quantity: str) -> str:
    """Kubernetes '512Mi'/'2Gi' → Docker's '512m'/'2g' (binary units in both)."""
    units = {"Ki": "k", "Mi": "m", "Gi": "g"}
    for suffix, docker_suffix in units.items():
        if quantity.endswith(suffix):
            return quantity[: -len(suffix)] + docker_suffix
    return quantity
