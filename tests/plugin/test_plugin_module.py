"""The plugin as Airflow loads it: registered by entry point, light to import, its page shipped."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from hubctl.plugin import URL_PREFIX, MarketsPlugin
from hubctl.plugin.app import FORM_FIELDS, PAGE, problems_by_field

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("fastapi", "pydantic", "pandas", "sqlalchemy", "psycopg2", "hubctl.plugin.app",
         "exchange_calendars")  # fmt: skip


def test_registered_as_an_airflow_plugin_with_its_page_shipped() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["airflow.plugins"] == {
        "airflow_hub": "hubctl.plugin:MarketsPlugin"
    }
    assert "plugin/markets.html" in project["tool"]["setuptools"]["package-data"]["hubctl"]
    assert PAGE.exists()
    [view] = MarketsPlugin.external_views
    assert (view["name"], view["destination"], view["href"]) == ("Markets", "nav", f"{URL_PREFIX}/")
    assert MarketsPlugin.fastapi_apps[0]["url_prefix"] == URL_PREFIX


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
