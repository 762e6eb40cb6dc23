"""One way to tell Airflow: the listener. A write command never calls Airflow itself, so a change
that worked prints no warning, even where Airflow refuses a second request for the same file
(HTTP 409 on a stack whose listener already asked)."""

from __future__ import annotations

import os
import subprocess

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
