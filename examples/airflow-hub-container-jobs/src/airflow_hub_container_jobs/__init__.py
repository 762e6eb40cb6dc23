"""Example families that run a container per job; registered through the entry point only.

Importing this module imports no Airflow: hubctl reads the registry on every command, and the
builders are named as "module:function", loaded when a DAG is built.
"""

from airflow_hub_container_jobs.params import DockerJobParams, KubernetesJobParams
from hubctl.families import PipelineFamily

KUBERNETES_JOB = PipelineFamily(
    name="kubernetes_job",
    params_model=KubernetesJobParams,
    builder="airflow_hub_container_jobs.kubernetes:build",
    provider="kubernetes",
    asset="containers",
    domain="jobs",
    description="Runs the job's image as a Kubernetes pod sized by its cpu/memory knobs.",
)

DOCKER_JOB = PipelineFamily(
    name="docker_job",
    params_model=DockerJobParams,
    builder="airflow_hub_container_jobs.docker:build",
    provider="docker",
    asset="containers",
    domain="jobs",
    description="Runs the job's image as a Docker container limited by its cpu/memory knobs.",
)
