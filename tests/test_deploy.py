"""docker-compose.yml and the Dockerfile, checked statically (no Docker engine runs here)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
    "airflow-worker-eu": "celery worker --queues default,eu_workers",
}
SHARED_ENV = {
    "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
    "HUB_DATABASE_URL",
    "HUB_READER_DATABASE_URL",
    "HUB_SNAPSHOT_PATH",
    "HUB_AIRFLOW_API_URL",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def test_services_and_commands(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {
        *("postgres", "redis", "airflow-init", "hub-listener", "hub-metrics"),
        *AIRFLOW_SERVICES,
    }
    for name, command in AIRFLOW_SERVICES.items():
        assert services[name]["command"] == command
    assert services["airflow-init"]["command"] == ["/opt/airflow-hub/deploy/init.sh"]
    assert services["redis"]["profiles"] == ["celery"]
    assert services["airflow-worker"]["profiles"] == ["celery"]
    assert services["airflow-worker-eu"]["profiles"] == ["celery"]


def test_every_airflow_service_shares_the_same_environment(compose: dict[str, Any]) -> None:
    environments = [
        compose["services"][name]["environment"] for name in [*AIRFLOW_SERVICES, "airflow-init"]
    ]
    for environment in environments:
        assert set(environment) >= SHARED_ENV
        assert environment["HUB_DATABASE_URL"] == environments[0]["HUB_DATABASE_URL"]
        assert (
            environment["AIRFLOW__API_AUTH__JWT_SECRET"]
            == environments[0]["AIRFLOW__API_AUTH__JWT_SECRET"]
        )
    assert environments[0]["AIRFLOW__CORE__EXECUTOR"] == "${AIRFLOW_EXECUTOR:-LocalExecutor}"
    assert "hub_generator" in environments[0]["HUB_READER_DATABASE_URL"]


def test_the_listener_runs_hubctl_listen_once_the_api_answers(compose: dict[str, Any]) -> None:
    listener = compose["services"]["hub-listener"]
    assert (listener["entrypoint"], listener["command"]) == ("hubctl", "listen")
    assert set(listener["environment"]) >= SHARED_ENV
    assert listener["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"
    assert listener["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_the_metrics_service_serves_what_the_scrape_config_scrapes(compose: dict[str, Any]) -> None:
    metrics = compose["services"]["hub-metrics"]
    assert metrics["entrypoint"] == "hubctl"
    command = metrics["command"].split()
    assert command[0] == "metrics" and command[command.index("--host") + 1] == "0.0.0.0"
    port = command[command.index("--port") + 1]
    assert metrics["ports"] == [f"{port}:{port}"]
    assert port in " ".join(metrics["healthcheck"]["test"])
    assert set(metrics["environment"]) >= SHARED_ENV
    assert metrics["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    scrape = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    [job] = scrape["scrape_configs"]
    assert job["static_configs"] == [{"targets": [f"hub-metrics:{port}"]}]
    assert scrape["rule_files"] == ["rules.yml"]


def test_long_running_services_have_healthchecks_and_wait_for_init(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ["postgres", "redis", "hub-metrics", *AIRFLOW_SERVICES]:
        assert services[name]["healthcheck"]["test"], name
    for name in AIRFLOW_SERVICES:
        depends_on = services[name]["depends_on"]
        assert depends_on["postgres"]["condition"] == "service_healthy"
        assert depends_on["airflow-init"]["condition"] == "service_completed_successfully"
    for worker in ("airflow-worker", "airflow-worker-eu"):
        assert services[worker]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["airflow-init"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_every_image_is_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service["image"]
        assert re.fullmatch(r"[\w./-]+:\d+(\.\d+)+[\w.-]*", image), f"{name}: {image} is not pinned"
    dockerfile = (ROOT / "Dockerfile").read_text()
    (base,) = re.findall(r"^FROM (\S+)", dockerfile, flags=re.MULTILINE)
    pinned_airflow = next(
        dependency.split("==")[1]
        for dependency in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
            "dependencies"
        ]
        if dependency.startswith("apache-airflow==")
    )
    assert base.startswith(f"apache/airflow:{pinned_airflow}-python3.11")


def test_init_script_and_database_bootstrap_exist(compose: dict[str, Any]) -> None:
    init = (ROOT / "deploy" / "init.sh").read_text()
    for step in (
        "airflow db migrate",
        "hubctl db upgrade",
        "hubctl apply --defaults",
        "GRANT hub_reader",
    ):
        assert step in init
    mounted = compose["services"]["postgres"]["volumes"][1].split(":")[0]
    bootstrap = (ROOT / mounted).read_text()
    assert "CREATE DATABASE airflow" in bootstrap and "CREATE DATABASE hub" in bootstrap


def _dockerfile_instructions() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined and comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [i.strip() for i in "\n".join(lines).replace("\\\n", " ").splitlines() if i.strip()]


def test_the_image_installs_the_package_not_an_editable_checkout() -> None:
    run = " ".join(i for i in _dockerfile_instructions() if i.startswith("RUN "))
    installs = [arguments.split() for arguments in re.findall(r"pip install ([^&;]+)", run)]
    assert installs == [["--no-cache-dir", "/opt/airflow-hub"]]
    env = next(i for i in _dockerfile_instructions() if i.startswith("ENV "))
    (dags_folder,) = re.findall(r"AIRFLOW__CORE__DAGS_FOLDER=(\S+)", env)
    # Airflow parses the installed package's DAG folder, not the source copy's.
    assert re.search(rf"ln -s \"\$\(python -c '[^']*DAGS_FOLDER[^']*'\)\" {dags_folder}$", run)


def test_only_init_migrates_and_everything_else_runs_as_a_login_that_owns_nothing(
    compose: dict[str, Any],
) -> None:
    """Issue 17 item 14: the runtime login (hub_app) is not the schema's owner."""
    services = compose["services"]
    assert "hub_app:" in services["airflow-init"]["environment"]["HUB_DATABASE_URL"]
    assert "postgres:" in services["airflow-init"]["environment"]["HUB_MIGRATION_DATABASE_URL"]
    for name in AIRFLOW_SERVICES:
        assert "HUB_MIGRATION_DATABASE_URL" not in services[name]["environment"], name
    init = (ROOT / "deploy" / "init.sh").read_text()
    assert 'grant_runtime_role(resolve_migration_url(), "hub_app")' in init
