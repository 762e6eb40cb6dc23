"""hubctl itself never asks Airflow to re-parse (the listener does): a change that worked prints
no warning, even with Airflow away."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

HUBCTL = str(Path(sys.executable).with_name("hubctl"))


def test_unreachable_airflow_is_no_warning_and_the_change_is_kept(
    default_config: sa.Engine, db_url: str
) -> None:
    env = {**os.environ, "HUB_DATABASE_URL": db_url, "HUB_AIRFLOW_API_URL": "http://127.0.0.1:1"}
    done = subprocess.run(
        [HUBCTL, "groups", "disable", "lse", "--actor", "ann", "-m", "holiday"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr
    with default_config.connect() as conn:
        enabled = conn.execute(
            sa.text("SELECT enabled FROM hub.exchange_groups WHERE group_name = 'lse'")
        )
        assert enabled.scalar() is False


def test_no_change_means_no_request(default_config: sa.Engine, db_url: str) -> None:
    env = {**os.environ, "HUB_DATABASE_URL": db_url, "HUB_AIRFLOW_API_URL": "http://127.0.0.1:1"}
    done = subprocess.run(
        [HUBCTL, "groups", "enable", "lse"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "Warning" not in done.stderr
