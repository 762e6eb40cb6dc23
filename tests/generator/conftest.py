"""Fixtures for the generator: a hub database with the default configuration, and a DagBag parse."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl.paths import DAGS_FOLDER
from hubctl.settings import get_settings

CLOSED_PORT_URL = "postgresql+psycopg2://nobody@127.0.0.1:1/hub"
GROUPS = ("us_markets", "lse", "german_markets", "european_markets")
DEFAULT_DAG_IDS = frozenset(
    {f"{dag}__{group}" for dag in ("data_collection_equities", "historical_load_equities")
     for group in GROUPS} | {"calculate_indicators__all", "audit_anchor__hub", "hub_scheduler__hub"}
)  # fmt: skip


@pytest.fixture
def hub(hub_env: Path, default_config: Engine) -> Engine:
    """The default configuration in this test's database, with HUB_* pointing at it."""
    return default_config


@pytest.fixture
def parse(hub: Engine) -> Callable[[], Any]:
    """Parse the packaged DAG folder with a real DagBag, as the dag-processor does (settings re-read each time)."""
    from airflow.dag_processing.dagbag import DagBag

    def run() -> DagBag:
        get_settings.cache_clear()
        return DagBag(dag_folder=str(DAGS_FOLDER))

    return run


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


def execute(engine: Engine, statement: str, **binds: Any) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(statement), binds)
