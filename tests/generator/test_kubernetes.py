"""The Kubernetes path with the real cncf-kubernetes provider and kubernetes client (no fakes).

The KubernetesExecutor builds each worker pod with ``PodGenerator.construct_pod``: the pod
template, then its own pod, then the task's ``executor_config["pod_override"]``. These tests run
that same function on our generated tasks, after Airflow's DAG serialisation round trip (what the
scheduler holds), and check the ``base`` container's resources.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubernetes.client import models as k8s
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from hubctl.cli import app
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


def test_executor_config_survives_the_serialisation_round_trip(parse: Callable[[], Any]) -> None:
    dag = _scheduler_copy(parse().dags[LSE])
    for task in dag.tasks:
        pod = task.executor_config["pod_override"]
        assert isinstance(pod, k8s.V1Pod), task.task_id
        assert _base_resources(pod) == DEFAULT_RESOURCES


def test_the_executors_worker_pod_has_exactly_the_configured_resources(
    parse: Callable[[], Any],
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
    configured_hub: Engine, parse: Callable[[], Any]
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


def test_a_plain_install_without_the_kubernetes_client_still_parses(configured_hub: Engine) -> None:
    """Absence simulated the Python way: a None entry in sys.modules makes the import fail.

    The kubernetes client is what the generator imports; without it the provider cannot work
    either, so hiding the client is a plain install as far as the DAG file can tell.
    """
    script = textwrap.dedent(
        f"""
        import sys
        for name in ("kubernetes", "kubernetes.client", "kubernetes.client.models"):
            sys.modules[name] = None
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder={str(DAGS_FOLDER)!r})
        assert not bag.import_errors, bag.import_errors
        pod = bag.dags[{LSE!r}].tasks[0].executor_config["pod_override"]
        print("PARSED", len(bag.dags), type(pod).__name__, pod["spec"]["containers"][0]["resources"])
        """
    )
    get_settings.cache_clear()
    done = subprocess.run(
        [sys.executable, "-c", script], env=dict(os.environ), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [parsed] = [line for line in done.stdout.splitlines() if line.startswith("PARSED")]
    assert parsed.split(" ", 3)[1:3] == [str(len(DEFAULT_DAG_IDS)), "dict"]
    assert "'limits': {'cpu': '2000m', 'memory': '2Gi'}" in parsed
