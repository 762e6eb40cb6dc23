"""hubctl's Airflow API client, and one way to tell Airflow: the listener. A write command never
calls Airflow itself, so a change that worked prints no warning, even where Airflow refuses a
second request for the same file (HTTP 409 on a stack whose listener already asked)."""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from tests.support.airflow_stand_in import airflow_stand_in
from tests.support.stacks import HUBCTL


def test_a_change_that_worked_prints_no_warning_and_asks_airflow_nothing(
    default_config: sa.Engine, db_url: str
) -> None:
    with airflow_stand_in(["hub_dags.py"], conflict=True) as airflow:
        env = {**os.environ, "HUB_DATABASE_URL": db_url, "HUB_AIRFLOW_API_URL": airflow.url}
        done = subprocess.run(
            [HUBCTL, "groups", "disable", "lse", "--actor", "ann", "-m", "holiday"],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr and "re-parse" not in done.stderr
    assert airflow.requests == []
    with default_config.connect() as conn:
        enabled = conn.execute(
            sa.text("SELECT enabled FROM hub.exchange_groups WHERE group_name = 'lse'")
        )
        assert enabled.scalar() is False


def test_threads_sharing_a_client_log_in_once_and_count_every_request() -> None:
    with airflow_stand_in(["hub_dags.py"]) as airflow:
        api = airflow.api()
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda _: api.dags(), range(8)))
    assert all(answer == answers[0] and answer for answer in answers)
    assert airflow.requests.count("POST /auth/token") == 1
    assert api.requests == len(airflow.requests) == 9
