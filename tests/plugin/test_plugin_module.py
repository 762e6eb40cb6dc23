"""The plugin as Airflow loads it: registered by entry point, light to import, its page's bundle
built, shipped and served."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hubctl.plugin import URL_PREFIX, MarketsPlugin
from hubctl.plugin.app import FORM_FIELDS, CanRead, create_app, problems_by_field
from hubctl.plugin.bundle import BUNDLE, bundle_hash

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("fastapi", "pydantic", "pandas", "sqlalchemy", "psycopg2", "hubctl.plugin.app",
         "exchange_calendars")  # fmt: skip


def test_registered_as_an_airflow_plugin_with_its_page_shipped() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["airflow.plugins"] == {
        "airflow_hub": "hubctl.plugin:MarketsPlugin"
    }
    assert "plugin/static/*.js" in project["tool"]["setuptools"]["package-data"]["hubctl"]
    assert "hubctl.plugin.ui*" in project["tool"]["setuptools"]["packages"]["find"]["exclude"]
    # No iframe view: it would take the `markets` route and Airflow would drop the React app.
    assert not MarketsPlugin.external_views
    [app] = MarketsPlugin().react_apps
    assert (app["name"], app["destination"], app["url_route"]) == ("Markets", "nav", "markets")
    # Relative, so Airflow resolves it against document.baseURI (a base_url subpath works).
    assert app["bundle_url"] == f"hub/static/markets.js?v={bundle_hash()}"
    assert MarketsPlugin.fastapi_apps[0]["url_prefix"] == URL_PREFIX


@pytest.fixture(scope="module")
def built_bundle() -> bytes:
    if not BUNDLE.is_file():
        pytest.fail(f"{BUNDLE} missing: run `make install` (it builds the Markets page)")
    return BUNDLE.read_bytes()


def test_the_bundle_is_small_and_takes_react_and_chakra_from_airflow(built_bundle: bytes) -> None:
    """A lost external would bundle React or Chakra again: the header names Airflow's globals."""
    assert len(gzip.compress(built_bundle)) <= 150_000
    # UMD: `<global>.AirflowPlugin=<factory>(<global>.React, ...)`.
    found = re.search(rb"\.AirflowPlugin=\w+\(([^)]*)\)", built_bundle[:1000])
    assert found is not None
    taken = {name.split(".")[-1] for name in found.group(1).decode().split(",")}
    assert taken == {"ReactJSXRuntime", "ChakraUI", "React", "ReactRouterDOM"}
    assert b"react.transitional.element" not in built_bundle  # React's own code


def test_the_bundle_is_served_as_javascript_immutable_at_its_hashed_url(
    built_bundle: bytes,
) -> None:
    app = create_app()
    app.dependency_overrides[CanRead.dependency] = lambda: None  # Airflow's auth: e2e tests
    client = TestClient(app)
    fresh = client.get(f"/static/markets.js?v={bundle_hash()}")
    assert fresh.status_code == 200 and fresh.content == built_bundle
    assert fresh.headers["content-type"].startswith("text/javascript")
    assert "immutable" in fresh.headers["cache-control"]
    stale = client.get("/static/markets.js?v=0000")
    assert stale.headers["cache-control"] == "no-cache"


def test_importing_the_plugin_pulls_nothing_heavy_into_the_parse_path() -> None:
    """The dag-processor loads plugins too: the page's app is built on its first request only."""
    code = (
        "import sys, json, airflow.plugins_manager; before = set(sys.modules);"
        "import hubctl.plugin; print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    added = json.loads(done.stdout.strip().splitlines()[-1])
    assert [name for name in added if name.startswith(HEAVY)] == []


def test_the_trading_sessions_timetable_is_registered_for_the_scheduler_and_the_ui() -> None:
    """Airflow rebuilds a serialised custom timetable only when a plugin lists it."""
    code = (
        "from airflow import plugins_manager;"
        "print(sorted(plugins_manager.get_timetables_plugins()))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "hubctl.timetables.TradingSessionsTimetable" in done.stdout.strip().splitlines()[-1]


def test_validation_messages_land_next_to_their_fields() -> None:
    message = "batch_size: Input should be greater than 0 (got '-1'); cpu_request (9) must not exceed cpu_limit (2)"
    assert problems_by_field(message) == {
        "batch_size": "Input should be greater than 0 (got '-1')",
        "": "cpu_request (9) must not exceed cpu_limit (2)",
    }
    assert {field.name for field in FORM_FIELDS} >= {"batch_size", "cpu_limit", "schedule"}
    assert not {"dag_name", "job_name", "params", "enabled"} & {f.name for f in FORM_FIELDS}
