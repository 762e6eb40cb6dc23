"""End to end on the Celery stack: `hubctl up --executor celery`, real Redis, two real workers.

worker-1 serves `default`; worker-2 serves `default` and `eu_workers`. One stack start, then:
a collection run; lse routed to `eu_workers` (only worker-2 runs it) and back; a worker SIGKILLed
in the middle of a batch task (the task is retried on the other worker, the run succeeds, and
market.ohlcv has no duplicate or missing row); Redis frozen for 30 s during a run (the run
completes, nothing lost). The figures are printed (`pytest -s`) and recorded in docs/deploy.md.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
import sqlalchemy as sa

from hubctl.airflow_api import AirflowApi, AirflowApiError
from hubctl.stack import client_environment, launched
from tests.e2e.test_stack import RunningStack, session_logical_date, started_processes, wait_for
from tests.support.stacks import prepared_home

pytestmark = pytest.mark.e2e

WORKERS = {"worker-1": {"default"}, "worker-2": {"default", "eu_workers"}}
US = "data_collection_equities__us_markets"
LSE = "data_collection_equities__lse"
CALENDARS = {US: ("XNYS", "America/New_York"), LSE: ("XLON", "Europe/London")}
US_ROWS = (
    "SELECT count(*) FROM market.ohlcv o JOIN market.securities s USING (security_id)"
    " WHERE s.exchange IN ('NYSE', 'NASDAQ')"
)
# Every US ticker has a row for every date any of them has (the sample source's calendar).
US_GAPS = (
    "SELECT count(DISTINCT s.security_id) * count(DISTINCT o.trade_date) - count(*)"
    " FROM market.ohlcv o JOIN market.securities s USING (security_id)"
    " WHERE s.exchange IN ('NYSE', 'NASDAQ')"
)


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    home = prepared_home("hubcel")
    arguments = ("--executor", "celery", "--workers", "2")
    arguments += ("--worker-queues", "default", "--worker-queues", "default,eu_workers")
    environment = {
        # A task whose worker died while it ran is failed (then retried) once its heartbeat is
        # this old.
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
        # A task the dead worker had received but not yet started stays `queued` (nothing
        # heartbeats for it) until the scheduler requeues it: after 60 s here, not the default 600 s.
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "60",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "10",
    }
    with launched(home, arguments=arguments, environment=environment) as (process, api_config):
        yield RunningStack(home, client_environment(home), AirflowApi(api_config), process)
        started = started_processes(process.pid, home)
    alive = [p for p in started if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    assert started and alive == [], f"processes left after Ctrl-C: {alive}"


def trigger(stack: RunningStack, dag_id: str) -> str:
    wait_for(lambda: _dag_ready(stack.api, dag_id), 180, f"{dag_id} to be parsed", 1)
    logical_date = session_logical_date(*CALENDARS[dag_id])  # a trading day: prices to load
    run = stack.api.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": logical_date})
    return str(run["dag_run_id"])


def _dag_ready(api: AirflowApi, dag_id: str) -> bool:
    try:
        return not api.call("GET", f"/api/v2/dags/{dag_id}")["is_stale"]
    except Exception:
        return False


def finish(stack: RunningStack, dag_id: str, run_id: str, timeout: float = 300) -> str:
    path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}"

    def ended() -> str | None:
        try:
            state = str(stack.api.call("GET", path)["state"])
        except AirflowApiError:  # an api-server too busy to answer on a loaded machine
            return None
        return state if state in {"success", "failed"} else None

    return str(wait_for(ended, timeout, f"run {run_id} of {dag_id}", interval=1))


def task_instances(stack: RunningStack, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=100"
    return list(stack.api.call("GET", path)["task_instances"])


def task_queues(stack: RunningStack, dag_id: str) -> set[str]:
    return {
        task["queue"] for task in stack.api.call("GET", f"/api/v2/dags/{dag_id}/tasks")["tasks"]
    }


def set_queue(stack: RunningStack, queue: str) -> None:
    stack.hubctl("config", "set", "data_collection_equities", "lse", f"queue={queue}", "-m", "e2e")
    expected = queue or "default"
    wait_for(lambda: task_queues(stack, LSE) == {expected}, 60, f"lse's tasks on {expected}", 1)


def test_a_collection_run_succeeds_on_the_celery_workers(stack: RunningStack) -> None:
    run_id = trigger(stack, US)
    assert finish(stack, US, run_id) == "success"
    instances = task_instances(stack, US, run_id)
    assert {ti["hostname"] for ti in instances} <= set(WORKERS)
    assert {ti["queue"] for ti in instances} == {"default"}
    assert stack.sql(US_ROWS) > 0


def test_the_queue_knob_routes_lse_to_the_eu_worker_and_back(stack: RunningStack) -> None:
    set_queue(stack, "eu_workers")
    run_id = trigger(stack, LSE)
    assert finish(stack, LSE, run_id) == "success"
    routed = task_instances(stack, LSE, run_id)
    assert {(ti["queue"], ti["hostname"]) for ti in routed} == {("eu_workers", "worker-2")}
    set_queue(stack, "")
    run_id = trigger(stack, LSE)
    assert finish(stack, LSE, run_id) == "success"
    back = task_instances(stack, LSE, run_id)
    assert {ti["queue"] for ti in back} == {"default"}
    assert {ti["hostname"] for ti in back} <= set(WORKERS)
    print(f"\nlse routed: {len(routed)} task instances on worker-2; back: {len(back)} on default")


def test_a_worker_killed_mid_batch_is_retried_on_the_other_worker(stack: RunningStack) -> None:
    stack.hubctl(
        "config", "set", "data_collection_equities", "us_markets", "retry_delay_minutes=0",
        "batch_size=2", "params.lookback_days=3650", "-m", "e2e: worker kill drill",
    )  # fmt: skip
    rows_before = stack.sql(US_ROWS)
    _delete_us_rows(stack)  # the drill's run must write every row again, the killed batch's too
    wait_for(
        lambda: (
            '"lookback_days": 3650' in stack.api.call("GET", f"/api/v2/dags/{US}/details")["doc_md"]
        ),
        60,
        "the re-parse with the drill's settings",
        1,
    )
    run_id = trigger(stack, US)
    victim = wait_for(lambda: _running_batch(stack, run_id), 120, "a running batch task", 0.2)
    _kill_worker(stack, victim["hostname"])
    killed_at = time.monotonic()
    assert finish(stack, US, run_id, timeout=400) == "success"
    recovered_in = time.monotonic() - killed_at
    [retried] = [
        ti for ti in task_instances(stack, US, run_id)
        if (ti["task_id"], ti["map_index"]) == (victim["task_id"], victim["map_index"])
    ]  # fmt: skip
    assert retried["try_number"] >= 2 and retried["state"] == "success"
    assert retried["hostname"] in set(WORKERS) - {victim["hostname"]}
    rows_after, gaps = stack.sql(US_ROWS), stack.sql(US_GAPS)
    assert gaps == 0 and rows_after > rows_before  # every (ticker, date) once, a longer window
    print(
        f"\nkilled {victim['hostname']} during {victim['task_id']}[{victim['map_index']}];"
        f" try {retried['try_number']} ran on {retried['hostname']}; run succeeded"
        f" {recovered_in:.0f} s after the kill; market.ohlcv US rows {rows_before} -> {rows_after},"
        " duplicates 0 (primary key), missing 0"
    )


def _delete_us_rows(stack: RunningStack) -> None:
    from hubctl.db import embedded_server_url

    engine = sa.create_engine(embedded_server_url(stack.home), poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "DELETE FROM market.ohlcv WHERE security_id IN (SELECT security_id"
                " FROM market.securities WHERE exchange IN ('NYSE', 'NASDAQ'))"
            )
        )


def _running_batch(stack: RunningStack, run_id: str) -> dict[str, Any] | None:
    for ti in task_instances(stack, US, run_id):
        if ti["task_id"].endswith(".collect") and ti["state"] == "running" and ti["hostname"]:
            return ti
    return None


def _kill_worker(stack: RunningStack, name: str) -> None:
    """SIGKILL the worker and everything under it, task processes (their own groups) included,
    as if its machine died."""
    [worker] = [
        child
        for child in psutil.Process(stack.process.pid).children()
        # Celery's process title overwrites its cmdline and environ; its stdout is its own log.
        if os.readlink(f"/proc/{child.pid}/fd/1") == str(stack.home / "logs" / f"{name}.log")
    ]
    for process in [worker, *worker.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGKILL)


def test_redis_frozen_for_30_s_during_a_run_loses_nothing(stack: RunningStack) -> None:
    """SIGSTOP/SIGCONT: Redis stops answering for 30 s with its connections held open."""
    rows_before = stack.sql(US_ROWS)
    redis = next(
        child
        for child in psutil.Process(stack.process.pid).children()
        if "redis-server" in child.name()
    )
    run_id = trigger(stack, US)
    wait_for(lambda: _running_batch(stack, run_id), 120, "a running batch task", 0.2)
    redis.suspend()
    time.sleep(30)
    redis.resume()
    resumed_at = time.monotonic()
    assert finish(stack, US, run_id, timeout=400) == "success"
    rows_after = stack.sql(US_ROWS)
    assert stack.sql(US_GAPS) == 0 and rows_after >= rows_before
    print(
        f"\nRedis stopped 30 s mid-run; run succeeded {time.monotonic() - resumed_at:.0f} s after"
        f" it resumed; US rows {rows_before} -> {rows_after} (re-upserted), missing 0"
    )
