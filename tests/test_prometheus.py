"""deploy/prometheus with a real Prometheus (Debian's `prometheus` package, which .ci/run installs):
promtool checks and unit-tests the rules, and a Prometheus server scrapes `hubctl metrics`.

Without the binaries these tests skip, unless HUB_REQUIRE_PROMETHEUS=1 (CI sets it), which makes
a missing Prometheus a failure. No Airflow runs here: the endpoint reads a test database.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from hubctl.db import Database
from hubctl.services import groups
from hubctl.stack import free_port
from tests.support.configuration import PYTEST
from tests.support.stacks import HUBCTL

DEPLOY = Path(__file__).parents[1] / "deploy" / "prometheus"
WAIT_SECONDS = 30.0


def _require(binary: str) -> str:
    found = shutil.which(binary)
    if found:
        return found
    message = f"{binary} not found (apt-get install prometheus; .ci/run does)"
    if os.environ.get("HUB_REQUIRE_PROMETHEUS") == "1":
        pytest.fail(message + "; HUB_REQUIRE_PROMETHEUS=1 makes this a failure")
    pytest.skip(message)


def promtool(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_require("promtool"), *arguments], cwd=DEPLOY, capture_output=True, text=True, timeout=60
    )


def test_promtool_accepts_the_rules_and_the_scrape_config() -> None:
    rules = promtool("check", "rules", "rules.yml")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    config = promtool("check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


def test_the_rules_pass_their_unit_tests() -> None:
    tested = promtool("test", "rules", "rules_test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


@pytest.fixture
def metrics_endpoint(
    default_config: Engine, db_url: str, tmp_path: Path
) -> Iterator[tuple[int, Database]]:
    """`hubctl metrics` on a free port, reading this test's database with the defaults."""
    port = free_port()
    env = {**os.environ, "HUB_DATABASE_URL": db_url, "HUB_HOME": str(tmp_path / "home")}
    log = (tmp_path / "metrics.log").open("wb")
    process = subprocess.Popen(
        [HUBCTL, "metrics", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    try:
        yield port, Database(db_url)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def query(port: int, expression: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    with urllib.request.urlopen(url, timeout=5) as reply:
        answer = json.load(reply)
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


@pytest.fixture
def prometheus(metrics_endpoint: tuple[int, Database], tmp_path: Path) -> Iterator[int]:
    """A Prometheus server scraping the endpoint every second; its HTTP API's port."""
    binary = _require("prometheus")
    target, _ = metrics_endpoint
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"scrape_configs: [{{job_name: hub, static_configs: [{{targets: ['127.0.0.1:{target}']}}]}}]\n"
    )
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=log,
    )
    try:
        yield port
    finally:
        process.kill()  # its data is thrown away: a graceful stop (seconds of flushing) buys nothing
        process.wait(timeout=30)
        log.close()


def wait_for(port: int, expression: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            found = query(port, expression)
        except OSError:  # not listening yet
            found = []
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"Prometheus had no {expression!r} after {WAIT_SECONDS:.0f} s")


def test_a_real_prometheus_scrapes_the_hub_metrics(
    metrics_endpoint: tuple[int, Database], prometheus: int
) -> None:
    _, database = metrics_endpoint
    groups.set_group_enabled(database, group_name="german_markets", enabled=False, author=PYTEST)

    [disabled] = wait_for(prometheus, 'hub_group_enabled{group="german_markets"} == 0')
    assert disabled["metric"]["job"] == "hub"
    [enabled] = query(prometheus, "sum(hub_group_enabled)")
    assert float(enabled["value"][1]) == 3.0
    [up] = query(prometheus, 'up{job="hub"}')
    assert up["value"][1] == "1"
