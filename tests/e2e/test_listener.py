"""End to end (issue #15): any writer reaches Airflow through the listener, one parse unit at a time.

One `hubctl up` stack with 8 parse units and Airflow's periodic re-parse pushed out to 10 minutes,
so every parse seen here was asked for by the listener:

* raw SQL (a plain psycopg2 connection, no hubctl) disabling lse makes its DAGs stale in <= 10 s;
* with 300 jobs in 60 more groups, a change to one group re-parses only its unit, and every DAG
  stays served;
* PostgreSQL restarted between changes: every change is applied in Airflow afterwards;
* `hubctl doctor` sees the stack's listener alive and current (its row in hub.listener_state).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import psutil
import psycopg2
import pytest

from hubctl.airflow_api import AirflowApi, AirflowApiError
from hubctl.db import connection_arguments, embedded_server_url
from hubctl.shards import shard_of_group
from hubctl.stack import client_environment, launched
from tests.e2e.test_stack import DEFAULT_DAGS, HUBCTL, RunningStack, started_processes, wait_for
from tests.support.stacks import prepared_home

pytestmark = pytest.mark.e2e

SHARDS = 8
SETTINGS = {
    "HUB_DAG_SHARDS": str(SHARDS),
    # No periodic parse during the test: a parse seen here was requested by the listener.
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
}
LSE_DAGS = {"data_collection_equities__lse", "historical_load_equities__lse"}


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    home = prepared_home("hubl")
    with launched(home, environment=SETTINGS) as (process, api_config):
        env = client_environment(home, **SETTINGS)
        running = RunningStack(home, env, AirflowApi(api_config), process)
        wait_for(lambda: serves(running.api, DEFAULT_DAGS), 300, "the default DAGs")
        yield running
        started = started_processes(process.pid, home)
    alive = [pid for pid in started if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]  # fmt: skip
    assert started and alive == [], f"processes left after Ctrl-C: {alive}"


def served(api: AirflowApi) -> set[str] | None:
    """The DAGs Airflow serves; None while the api-server does not answer (a loaded machine)."""
    try:
        return {dag["dag_id"] for dag in api.dags()}
    except AirflowApiError:
        return None


def lse_stale(api: AirflowApi) -> bool:
    dags = served(api)
    return dags is not None and not (dags & LSE_DAGS)


def serves(api: AirflowApi, dag_ids: set[str]) -> bool:
    dags = served(api)
    return dags is not None and dags >= dag_ids


def write(stack: RunningStack, *statements: str) -> None:
    """psql semantics: a plain psycopg2 connection to the hub database, one transaction."""
    conn = psycopg2.connect(**connection_arguments(embedded_server_url(stack.home)))
    with conn, conn.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    conn.close()


def doc_md(api: AirflowApi, dag_id: str) -> str:
    try:
        return str(api.call("GET", f"/api/v2/dags/{dag_id}/details").get("doc_md") or "")
    except AirflowApiError:
        return ""


def parsed_at(api: AirflowApi) -> dict[str, Any]:
    return {dag["dag_id"]: dag["last_parsed_time"] for dag in api.dags()}


def test_raw_sql_disable_of_lse_makes_its_dags_stale_within_10_s(stack: RunningStack) -> None:
    write(stack, "UPDATE hub.exchange_groups SET enabled = false WHERE group_name = 'lse'")
    wait_for(lambda: lse_stale(stack.api), 10, "the lse DAGs to go stale", 0.2)
    write(stack, "UPDATE hub.exchange_groups SET enabled = true WHERE group_name = 'lse'")
    wait_for(lambda: serves(stack.api, LSE_DAGS), 30, "the lse DAGs to come back", 0.2)


def test_changes_in_quick_succession_each_reach_airflow(stack: RunningStack) -> None:
    """A change committed right after the unit's previous parse is caught by the listener's
    second request (hubctl.listener.SETTLE_SECONDS), not the next periodic parse."""
    for _ in range(2):
        write(stack, "UPDATE hub.exchange_groups SET enabled = false WHERE group_name = 'lse'")
        wait_for(lambda: lse_stale(stack.api), 10, "the lse DAGs to go stale", 0.1)
        write(stack, "UPDATE hub.exchange_groups SET enabled = true WHERE group_name = 'lse'")
        wait_for(lambda: serves(stack.api, LSE_DAGS), 10, "the lse DAGs to come back", 0.1)
    write(stack, "SELECT hub.update_dag_config('data_collection_equities', 'lse', p_batch_size => 432)")  # fmt: skip
    changed = "data_collection_equities__lse"
    wait_for(lambda: "| batch_size | 432 |" in doc_md(stack.api, changed), 10, "the new batch size")


def test_a_change_to_one_group_reparses_only_its_unit(stack: RunningStack) -> None:
    groups = [f"syn{n:03d}" for n in range(1, 61)]
    write(
        stack,
        "INSERT INTO hub.exchange_groups (group_name, display_name, exchanges, primary_timezone,"
        " market_open, market_close) SELECT 'syn' || lpad(n::text, 3, '0'), 'Synthetic',"
        " ARRAY['LSE'], 'Europe/London', '08:00', '16:30' FROM generate_series(1, 60) n",
        "INSERT INTO hub.dag_configuration (dag_name, job_name, exchange_group, schedule, params)"
        " SELECT 'data_collection_equities', g.group_name || '_' || j, g.group_name,"
        " '0 17 * * 1-5', '{\"source\": \"sample\"}' FROM hub.exchange_groups g,"
        " generate_series(1, 5) j WHERE g.group_name LIKE 'syn%'",
    )
    every = DEFAULT_DAGS | {
        f"data_collection_equities__{g}_{j}" for g in groups for j in range(1, 6)
    }
    wait_for(lambda: served(stack.api) == every, 120, "every DAG, the 300 new ones too", 1)
    before = wait_for(lambda: quiet(stack.api), 60, "no parse for 3 s")

    group = groups[17]
    changed = f"data_collection_equities__{group}_1"
    write(stack, f"SELECT hub.update_dag_config('data_collection_equities', '{group}_1', p_batch_size => 321)")  # fmt: skip
    wait_for(lambda: "| batch_size | 321 |" in doc_md(stack.api, changed), 30, "the new batch size")
    after = parsed_at(stack.api)
    assert set(after) == every  # every DAG stays served
    unit = shard_of_group(group, SHARDS)
    moved = {dag_id for dag_id in every if after[dag_id] != before[dag_id]}
    group_of = groups_of_dags(stack)
    in_unit = {dag_id for dag_id in every if shard_of_group(group_of[dag_id], SHARDS) == unit}
    assert moved == in_unit and changed in moved and len(in_unit) < len(every) / 3


def quiet(api: AirflowApi) -> dict[str, Any] | None:
    """The per-DAG parse times, once they have not moved for 3 s."""
    try:
        first = parsed_at(api)
        time.sleep(3)
        return first if parsed_at(api) == first else None
    except AirflowApiError:
        return None


def groups_of_dags(stack: RunningStack) -> dict[str, str | None]:
    """Each job's DAG id -> its exchange group (None: a job of no group), read from the hub."""
    conn = psycopg2.connect(**connection_arguments(embedded_server_url(stack.home)))
    with conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT dag_name || '__' || job_name, exchange_group FROM hub.dag_configuration"
        )
        found = dict(cursor.fetchall())
    conn.close()
    return found


def test_every_change_reaches_airflow_across_a_postgres_restart(stack: RunningStack) -> None:
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]

    write(stack, "UPDATE hub.exchange_groups SET enabled = false WHERE group_name = 'syn001'")
    pg_ctl(["-w", "-m", "fast", "restart"], pgdata=stack.home / "pgdata", user="pgserver")
    write(stack, "UPDATE hub.exchange_groups SET enabled = false WHERE group_name = 'syn002'")
    write(stack, "SELECT hub.update_dag_config('data_collection_equities', 'syn003_1', p_batch_size => 654)")  # fmt: skip
    gone = {f"data_collection_equities__syn00{g}_{j}" for g in (1, 2) for j in range(1, 6)}
    wait_for(lambda: (s := served(stack.api)) is not None and not (s & gone), 60,
             "syn001 and syn002 to go stale", 1)  # fmt: skip
    wait_for(
        lambda: "| batch_size | 654 |" in doc_md(stack.api, "data_collection_equities__syn003_1"),
        60,
        "the new batch size after the restart",
    )
    assert stack.process.poll() is None  # the stack (every component) survived the restart


def test_doctor_sees_the_listener_alive_and_current(stack: RunningStack) -> None:
    """From the database alone, as from any machine: a heartbeat and a position at the head,
    after the restart above too."""
    wait_for(lambda: listener_check(stack)[0]["ok"], 60, "doctor's listener check to pass", 1)
    check, stderr = listener_check(stack)
    assert "heartbeat" in str(check["detail"]) and "Warning: listener" not in stderr


def listener_check(stack: RunningStack) -> tuple[dict[str, Any], str]:
    done = subprocess.run(
        [HUBCTL, "doctor", "-o", "json"], env=stack.env, capture_output=True, text=True, timeout=120
    )
    checks = {row["check"]: row for row in json.loads(done.stdout)}
    return checks["listener"], done.stderr
