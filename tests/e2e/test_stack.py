"""End to end: the stack `make up` runs, driven through Airflow's REST API and hubctl.

Starts `hubctl up` on a free port with its own HUB_HOME, runs a real data collection through the
real scheduler, switches a market off and on, reads the audit, then stops the stack and checks
that no process it started is left.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psutil
import pytest
import sqlalchemy as sa

from hubctl.airflow_api import AirflowApi, AirflowApiError
from hubctl.stack import client_environment, free_port, launched
from tests.support.stacks import HUBCTL, prepared_home

pytestmark = pytest.mark.e2e

DEFAULT_DAGS = {
    f"{dag}__{job}"
    for dag in ("data_collection_equities", "historical_load_equities")
    for job in ("us_markets", "lse", "german_markets", "european_markets")
} | {"calculate_indicators__all", "audit_anchor__hub", "hub_scheduler__hub", "hub_monitor__hub"}


@dataclass
class RunningStack:
    home: Path
    env: dict[str, str]
    api: AirflowApi
    process: subprocess.Popen[bytes]

    def hubctl(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [HUBCTL, *arguments],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )

    def hubctl_status(self, *arguments: str) -> int:
        """Exit code only: for commands whose failure is the finding (e.g. doctor)."""
        return subprocess.run(
            [HUBCTL, *arguments], env=self.env, capture_output=True, timeout=60
        ).returncode

    def sql(self, query: str) -> Any:
        with self._engine().connect() as conn:
            return conn.execute(sa.text(query)).scalar()

    def sql_write(self, statement: str) -> None:
        """Raw SQL as a psql user would run it (audited as via = sql)."""
        with self._engine().begin() as conn:
            conn.execute(sa.text(statement))

    def _engine(self) -> sa.Engine:
        from hubctl.db import embedded_server_url

        return sa.create_engine(embedded_server_url(self.home), poolclass=sa.NullPool)


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def started_processes(stack_pid: int, home: Path) -> set[int]:
    pids = {child.pid for child in psutil.Process(stack_pid).children(recursive=True)}
    postmaster = home / "pgdata" / "postmaster.pid"
    if postmaster.exists():
        pids.add(int(postmaster.read_text().split()[0]))
    return pids


# Below the 9 default DAGs, so every list hubctl reads from Airflow takes several pages.
PAGE_LIMIT = 5


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    home = prepared_home("hube2e")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW__API__MAXIMUM_PAGE_LIMIT", str(PAGE_LIMIT))
        yield from _running(home, {"HUB_METRICS_PORT": str(free_port())})


def _running(home: Path, environment: dict[str, str] | None = None) -> Iterator[RunningStack]:
    with launched(home, environment=environment) as (process, api_config):
        env = client_environment(home, **(environment or {}))
        yield RunningStack(home, env, AirflowApi(api_config), process)
        started = started_processes(process.pid, home)
    alive = [
        pid
        for pid in started
        if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"
    ]
    assert started and alive == [], f"processes left after Ctrl-C: {alive}"


def dag_states(api: AirflowApi) -> dict[str, bool]:
    return {dag["dag_id"]: dag["is_stale"] for dag in api.dags(include_stale=True)}


def run_state(api: AirflowApi, dag_id: str, run_id: str) -> str:
    return str(api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"])


def test_up_serves_the_hub_metrics(stack: RunningStack) -> None:
    """`hubctl up` runs `hubctl metrics` on HUB_METRICS_PORT (the fixture's teardown proves it
    stops with the stack)."""
    url = f"http://127.0.0.1:{stack.env['HUB_METRICS_PORT']}/metrics"

    def scraped() -> str | None:
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                return str(reply.read().decode())
        except OSError:
            return None

    text = wait_for(scraped, 60, "hubctl metrics")
    assert "hub_database_up 1.0" in text
    assert 'hub_group_enabled{group="lse"} 1.0' in text


def test_default_dags_appear(stack: RunningStack) -> None:
    wait_for(lambda: {d for d, stale in dag_states(stack.api).items() if not stale} >= DEFAULT_DAGS,
             120, "the 10 default DAGs")  # fmt: skip


def session_closes(calendar: str, around: dt.datetime) -> list[dt.datetime]:
    """The library's session closes (UTC) from two weeks before ``around`` to two weeks after."""
    import exchange_calendars

    days = [(around + dt.timedelta(days=n)).date().isoformat() for n in (-14, 14)]
    closes = exchange_calendars.get_calendar(calendar).schedule.loc[days[0] : days[1], "close"]
    return [close.to_pydatetime() for close in closes]


@pytest.mark.parametrize(
    ("dag_id", "calendar", "delay"),
    [("data_collection_equities__us_markets", "XNYS", 90),
     ("data_collection_equities__lse", "XLON", 30)],
)  # fmt: skip
def test_the_scheduler_plans_collection_runs_after_each_session_close(
    stack: RunningStack, dag_id: str, calendar: str, delay: int
) -> None:
    """The real scheduler, through the plugin's timetable: it ran the latest session that had
    closed (catchup is off) and reports the next session's close + the delay as the next run,
    weekends, holidays and early closes as the library has them."""
    assert_runs_planned_after_closes(stack.api, dag_id, calendar, delay, dt.datetime.now(dt.UTC))


def assert_runs_planned_after_closes(
    api: AirflowApi, dag_id: str, calendar: str, delay: int, now: dt.datetime
) -> None:
    """Airflow's API, as its UI shows it: the run of the latest closed session was created, and
    the next run is the library's next session close (+ delay). ``now``: the scheduler's clock."""
    closes = session_closes(calendar, now)
    latest = [close for close in closes if close + dt.timedelta(minutes=delay) <= now][-1]
    following = next(close for close in closes if close > latest)

    def planned() -> dict[str, Any] | None:
        dag = answer(api, f"/api/v2/dags/{dag_id}")
        after = dag and dag["next_dagrun_run_after"]
        return dag if after and dt.datetime.fromisoformat(after) > now else None

    dag = wait_for(planned, 120, f"{dag_id}'s run of the latest session to be created", 1)
    assert dt.datetime.fromisoformat(dag["next_dagrun_logical_date"]) == following
    assert dt.datetime.fromisoformat(dag["next_dagrun_run_after"]) == following + dt.timedelta(
        minutes=delay
    )
    path = f"/api/v2/dags/{dag_id}/dagRuns?run_type=scheduled"
    runs = wait_for(lambda: answer(api, path), 60, f"{dag_id}'s runs", 1)["dag_runs"]
    assert [dt.datetime.fromisoformat(run["logical_date"]) for run in runs] == [latest]
    assert "trading session" in dag["timetable_description"]


def answer(api: AirflowApi, path: str) -> Any:
    """GET ``path``; None from an api-server too busy to answer on a loaded machine."""
    try:
        return api.call("GET", path)
    except AirflowApiError:
        return None


_MANUAL_RUNS = itertools.count()


def session_logical_date(calendar: str, zone: str) -> str:
    """A manual run's logical date on the latest session that has closed: a trading day (a run
    for a weekend or a holiday rightly collects nothing), midday plus a second per call so that
    no two runs (nor a scheduled one, at the close) share it."""
    now = dt.datetime.now(dt.UTC)
    day = [close for close in session_closes(calendar, now) if close <= now][-1].date()
    noon = dt.datetime.combine(day, dt.time(12), ZoneInfo(zone))
    return (noon + dt.timedelta(seconds=next(_MANUAL_RUNS))).isoformat()


def test_collection_run_loads_prices_and_triggers_indicators(stack: RunningStack) -> None:
    dag_id = "data_collection_equities__us_markets"
    logical_date = session_logical_date("XNYS", "America/New_York")
    run = stack.api.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": logical_date})
    state = wait_for(
        lambda: (
            (s := run_state(stack.api, dag_id, run["dag_run_id"])) in {"success", "failed"} and s
        ),
        300,
        "the data collection run",
        interval=2,
    )
    assert state == "success"
    rows = stack.sql(
        "SELECT count(*) FROM market.ohlcv o JOIN market.securities s USING (security_id)"
        " WHERE s.exchange IN ('NYSE', 'NASDAQ')"
    )
    assert rows > 0
    indicator_runs = wait_for(
        lambda: [r for r in stack.api.call("GET", "/api/v2/dags/calculate_indicators__all/dagRuns")["dag_runs"]
                 if r["state"] == "success"],
        300,
        "calculate_indicators__all to succeed",
        interval=2,
    )  # fmt: skip
    assert indicator_runs


def test_disabling_a_market_makes_its_dags_stale_within_seconds(stack: RunningStack) -> None:
    lse = {"data_collection_equities__lse", "historical_load_equities__lse"}
    started = time.monotonic()
    stack.hubctl("groups", "disable", "lse", "--actor", "e2e-analyst", "-m", "lse holiday")
    wait_for(lambda: all(dag_states(stack.api)[d] for d in lse), 10, "lse DAGs to go stale", 0.2)
    disabled_after = time.monotonic() - started
    stack.hubctl("groups", "enable", "lse", "--actor", "e2e-analyst", "-m", "lse back")
    wait_for(lambda: not any(dag_states(stack.api)[d] for d in lse), 10, "lse DAGs to return", 0.2)
    assert disabled_after <= 10

    entries = json.loads(stack.hubctl("audit", "log", "--group", "lse", "-o", "json").stdout)
    changes = [
        (e["actor"], e["changes"]["enabled"]["new"])
        for e in entries
        if "enabled" in (e["changes"] or {})
    ]
    assert ("e2e-analyst", False) in changes and ("e2e-analyst", True) in changes


def test_the_airflow_client_pages_past_the_servers_page_limit(stack: RunningStack) -> None:
    one_page = stack.api.call("GET", "/api/v2/dags?limit=100&exclude_stale=false")
    assert len(one_page["dags"]) == PAGE_LIMIT < one_page["total_entries"]
    every = [dag["dag_id"] for dag in stack.api.dags(include_stale=True)]
    assert len(every) == len(set(every)) == one_page["total_entries"] >= len(DEFAULT_DAGS)


def test_doctor_and_status_see_a_healthy_stack(stack: RunningStack) -> None:
    wait_for(lambda: stack.hubctl_status("doctor") == 0, 60, "hubctl doctor to pass", interval=2)
    stack.sql_write(
        "INSERT INTO hub.dag_configuration (dag_name, job_name, params)"
        """ VALUES ('calculate_indicators', 'odd', '{"colour": "blue"}')"""
    )
    doctor = subprocess.run(
        [HUBCTL, "doctor", "-o", "json"], env=stack.env, capture_output=True, text=True, timeout=60
    )
    stack.sql_write("DELETE FROM hub.dag_configuration WHERE job_name = 'odd'")
    checks = {row["check"]: row for row in json.loads(doctor.stdout)}
    assert doctor.returncode == 1 and checks["dags"]["ok"] is True  # 9 served, over 2 pages
    assert "colour" in checks["job calculate_indicators__odd"]["detail"]
    rows = json.loads(stack.hubctl("status", "-o", "json").stdout)
    us = next(row for row in rows if row["group"] == "us_markets")
    assert us["enabled"] and "data_collection_equities__us_markets" in us["dags"]
    assert us["last_run"] != "(Airflow API not configured)"


def finished_run(stack: RunningStack, dag_id: str) -> str:
    run_id = str(
        stack.api.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None})[
            "dag_run_id"
        ]
    )
    state = wait_for(lambda: (s := run_state(stack.api, dag_id, run_id)) in {"success", "failed"} and s,
                     300, f"run {run_id}", interval=2)  # fmt: skip
    assert state == "success"
    return run_id


def newest_dag_version(stack: RunningStack, dag_id: str) -> int:
    found = stack.api.call("GET", f"/api/v2/dags/{dag_id}/dagVersions?order_by=-version_number")
    return max(version["version_number"] for version in found["dag_versions"])


def test_runs_show_reports_what_each_run_ran_with(stack: RunningStack) -> None:
    """A run before and a run after a config change: each reports the version it used."""
    dag_id = "calculate_indicators__all"

    def shown(run_id: str) -> dict[str, Any]:
        return dict(json.loads(stack.hubctl("runs", "show", dag_id, run_id, "-o", "json").stdout))

    config = ("config", "get", "calculate_indicators", "all", "-o", "json")
    version_before = json.loads(stack.hubctl(*config).stdout)["version"]
    before = finished_run(stack, dag_id)
    dag_version_before = newest_dag_version(stack, dag_id)
    stack.hubctl("config", "set", "calculate_indicators", "all", "batch_size=900",
                 "--actor", "e2e-auditor", "-m", "bigger batches")  # fmt: skip
    # doc_md carries the configuration version, so the re-parse makes a new DAG version.
    wait_for(
        lambda: newest_dag_version(stack, dag_id) > dag_version_before, 60, "a new DAG version"
    )
    after = finished_run(stack, dag_id)

    first, second = shown(before), shown(after)
    assert first["configuration_version"] == version_before
    assert second["configuration_version"] == version_before + 1
    assert second["audit_id"] > first["audit_id"]
    assert first["dag_versions"][-1]["version_number"] == dag_version_before
    assert second["dag_versions"][-1]["version_number"] > dag_version_before
    changes = [(e["actor"], e["changes"]) for e in first["changes_since"]]
    assert ("e2e-auditor", {"batch_size": {"old": 1000, "new": 900}}) in changes
    assert second["changes_since"] == []
    table = stack.hubctl("runs", "show", dag_id, before).stdout
    assert "hub configuration version" in table and "bigger batches" in table


def test_the_hub_scheduler_applies_a_scheduled_change_on_time(stack: RunningStack) -> None:
    """The every-minute hub_scheduler job of the running stack applies a change once it is due."""
    import datetime as dt

    at = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)).isoformat()
    added = stack.hubctl(
        "schedule", "add", "--at", at, "groups", "set", "german_markets", "priority=2",
        "--actor", "e2e-planner", "-m", "maintenance window",
    )  # fmt: skip
    assert added.stdout.startswith("scheduled #")

    def state() -> str:
        return str(json.loads(stack.hubctl("schedule", "list", "-o", "json").stdout)[-1]["state"])

    assert (
        wait_for(lambda: state() != "scheduled" and state(), 240, "hub_scheduler", 2) == "applied"
    )
    assert (
        stack.sql("SELECT priority FROM hub.exchange_groups WHERE group_name = 'german_markets'")
        == 2
    )
    assert (
        stack.sql(
            "SELECT actor || ' ' || via FROM hub.audit_log WHERE table_name = 'exchange_groups'"
            " AND changed_fields ? 'priority' ORDER BY id DESC LIMIT 1"
        )
        == "e2e-planner schedule"
    )
