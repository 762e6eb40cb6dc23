"""The Kubernetes path with the real cncf-kubernetes provider and kubernetes client (no fakes).

The KubernetesExecutor builds each worker pod with ``PodGenerator.construct_pod``: the pod
template, then its own pod, then the task's ``executor_config["pod_override"]``. These tests run
that same function on our generated tasks, after Airflow's DAG serialisation round trip (what the
scheduler holds), and check the ``base`` container's resources. They run with a Kubernetes
executor configured (``kubernetes_executor``): only then does the generator build pod overrides.
Without one, no parse imports the kubernetes client.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import models as k8s
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from hubctl.cli import app
from hubctl.dag_builder import kubernetes_executor_configured
from hubctl.paths import DAGS_FOLDER
from hubctl.settings import get_settings
from tests.support.configuration import DEFAULT_DAG_IDS

POD_TEMPLATE = Path(__file__).parents[2] / "deploy" / "kubernetes" / "pod-template.yaml"
LSE = "data_collection_equities__lse"
DEFAULT_RESOURCES = {
    "requests": {"cpu": "500m", "memory": "1Gi"},
    "limits": {"cpu": "2000m", "memory": "2Gi"},
}


def _scheduler_copy(dag: Any) -> Any:
    """The DAG as the scheduler sees it: serialised and read back."""
    from airflow.serialization.serialized_objects import DagSerialization

    return DagSerialization.from_dict(DagSerialization.to_dict(dag))


def _worker_pod(task: Any) -> k8s.V1Pod:
    """The pod the KubernetesExecutor would launch for ``task``, built by the provider's code."""
    from airflow.providers.cncf.kubernetes.pod_generator import PodGenerator

    return PodGenerator.construct_pod(
        dag_id=task.dag_id,
        task_id=task.task_id,
        pod_id="hub-test-pod",
        try_number=1,
        kube_image="airflow-hub:latest",
        date=None,
        args=["airflow", "tasks", "run", task.dag_id, task.task_id],
        pod_override_object=PodGenerator.from_obj(task.executor_config),
        base_worker_pod=PodGenerator.deserialize_model_file(str(POD_TEMPLATE)),
        namespace="airflow",
        scheduler_job_id="1",
    )


def _base_resources(pod: k8s.V1Pod) -> dict[str, Any]:
    [base] = [container for container in pod.spec.containers if container.name == "base"]
    return {"requests": base.resources.requests, "limits": base.resources.limits}


def test_executor_config_survives_the_serialisation_round_trip(
    parse: Callable[[], Any], kubernetes_executor: str
) -> None:
    dag = _scheduler_copy(parse().dags[LSE])
    for task in dag.tasks:
        pod = task.executor_config["pod_override"]
        assert isinstance(pod, k8s.V1Pod), task.task_id
        assert _base_resources(pod) == DEFAULT_RESOURCES


def test_the_executors_worker_pod_has_exactly_the_configured_resources(
    parse: Callable[[], Any], kubernetes_executor: str
) -> None:
    dag = _scheduler_copy(parse().dags[LSE])
    template = _base_resources(_worker_pod_from_template_only())
    assert template != DEFAULT_RESOURCES  # the override, not the template, decides
    for task in dag.tasks:
        pod = _worker_pod(task)
        assert _base_resources(pod) == DEFAULT_RESOURCES, task.task_id
        [base] = pod.spec.containers
        assert base.image == "airflow-hub:latest"  # the rest of the template is kept
        assert [env.name for env in base.env][:2] == ["AIRFLOW__CORE__EXECUTOR", "HUB_DATABASE_URL"]


def _worker_pod_from_template_only() -> k8s.V1Pod:
    from airflow.providers.cncf.kubernetes.pod_generator import PodGenerator

    return PodGenerator.deserialize_model_file(str(POD_TEMPLATE))


def test_config_set_cpu_limit_changes_the_worker_pod_on_the_next_parse(
    configured_hub: Engine, parse: Callable[[], Any], kubernetes_executor: str
) -> None:
    change = ["config", "set", "data_collection_equities", "lse", "cpu_limit=3000m"]
    result = CliRunner().invoke(app, [*change, "-m", "bigger pods for lse", "--actor", "ops"])
    assert result.exit_code == 0, result.output
    dag = _scheduler_copy(parse().dags[LSE])
    for task in dag.tasks:
        assert _base_resources(_worker_pod(task)) == {
            "requests": DEFAULT_RESOURCES["requests"],
            "limits": {"cpu": "3000m", "memory": "2Gi"},
        }


@pytest.mark.parametrize(
    ("executors", "kubernetes"),
    [
        ("LocalExecutor", False),
        ("CeleryExecutor", False),
        ("KubernetesExecutor", True),
        ("CeleryExecutor, KubernetesExecutor", True),
        (
            "k8s:airflow.providers.cncf.kubernetes.executors.kubernetes_executor.KubernetesExecutor",
            True,
        ),
        ("LocalExecutor;team_a=KubernetesExecutor", True),
    ],
)
def test_a_kubernetes_executor_is_recognised_in_every_form_airflow_accepts(
    monkeypatch: pytest.MonkeyPatch, executors: str, kubernetes: bool
) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", executors)
    kubernetes_executor_configured.cache_clear()
    try:
        assert kubernetes_executor_configured() is kubernetes
    finally:
        kubernetes_executor_configured.cache_clear()


def _parse_in_fresh_process(executors: str, hide_kubernetes: bool) -> list[str]:
    """Parse the DAG folder in a fresh interpreter under ``executors``; the output lines.

    Absence of the kubernetes client is simulated the Python way: a None entry in sys.modules
    makes the import fail.
    """
    script = textwrap.dedent(
        f"""
        import sys
        if {hide_kubernetes!r}:
            for name in ("kubernetes", "kubernetes.client", "kubernetes.client.models"):
                sys.modules[name] = None
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder={str(DAGS_FOLDER)!r})
        assert not bag.import_errors, bag.import_errors
        configs = {{repr(task.executor_config) for dag in bag.dags.values() for task in dag.tasks}}
        loaded = sorted(name for name in sys.modules if name.split(".")[0] == "kubernetes")
        print("PARSED", len(bag.dags), sorted(configs), loaded)
        """
    )
    get_settings.cache_clear()
    env = {**os.environ, "AIRFLOW__CORE__EXECUTOR": executors}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.splitlines() + done.stderr.splitlines()


def test_without_a_kubernetes_executor_the_parse_imports_no_kubernetes_client(
    configured_hub: Engine,
) -> None:
    """What a worker pays at every task start: the client took ~0.3 s to import."""
    lines = _parse_in_fresh_process("LocalExecutor,CeleryExecutor", hide_kubernetes=False)
    [parsed] = [line for line in lines if line.startswith("PARSED")]
    assert parsed == f"PARSED {len(DEFAULT_DAG_IDS)} ['{{}}'] []"


def test_a_kubernetes_executor_without_the_client_names_the_missing_extra(
    configured_hub: Engine,
) -> None:
    """A pod override the executor could not use is never built: each DAG is refused, saying why."""
    lines = _parse_in_fresh_process("KubernetesExecutor", hide_kubernetes=True)
    [parsed] = [line for line in lines if line.startswith("PARSED")]
    assert parsed.startswith("PARSED 0 ")
    refused = [line for line in lines if "skipping DAG" in line]
    assert len(refused) == len(DEFAULT_DAG_IDS)
    assert all("pip install 'airflow-hub[kubernetes]'" in line for line in refused)
