"""The generator's own fixture: the hub database out of reach."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hubctl.settings import get_settings
from tests.support.configuration import CLOSED_PORT_URL


@pytest.fixture
def kubernetes_executor(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A Kubernetes executor among Airflow's configured executors (not the default one), so the
    generator builds each task's pod_override; the configuration, as Airflow reads it."""
    from hubctl.dag_builder import kubernetes_executor_configured  # deferred: imports Airflow

    configured = "LocalExecutor,KubernetesExecutor"
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", configured)
    kubernetes_executor_configured.cache_clear()
    yield configured
    kubernetes_executor_configured.cache_clear()


@pytest.fixture
def database_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the hub at a closed port: every connection is refused at once."""
    monkeypatch.setenv("HUB_DATABASE_URL", CLOSED_PORT_URL)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
