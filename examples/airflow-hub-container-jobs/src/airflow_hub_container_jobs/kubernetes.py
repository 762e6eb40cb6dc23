"""kubernetes_job: one KubernetesPodOperator task whose pod is sized by the job's knobs."""

from __future__ import annotations

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.cncf.kubernetes.secret import Secret
from airflow.sdk import DAG
from kubernetes.client import models as k8s

from airflow_hub_container_jobs.params import KubernetesJobParams
from airflow_hub_container_jobs.runtime import connection_env
from hubctl.families import DagSpec, new_dag


def build(spec: DagSpec) -> DAG:
    params = KubernetesJobParams.model_validate(spec.params)
    with new_dag(spec) as dag:
        KubernetesPodOperator(
            task_id="run",
            name=spec.dag_id.replace("_", "-"),
            namespace=params.namespace,
            image=params.image,
            cmds=params.command,
            arguments=params.arguments,
            env_vars={**params.env, **connection_env(params.connection_id)},
            secrets=[Secret("env", ref.name, ref.secret, ref.key) for ref in params.secret_env],
            container_resources=resources(spec),
            get_logs=True,
            on_finish_action="delete_pod",
        )
    return dag


def resources(spec: DagSpec) -> k8s.V1ResourceRequirements:
    return k8s.V1ResourceRequirements(
        requests={"cpu": spec.cpu_request, "memory": spec.memory_request},
        limits={"cpu": spec.cpu_limit, "memory": spec.memory_limit},
    )
