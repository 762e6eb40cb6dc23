"""After a change, hubctl asks Airflow to re-parse; Airflow being away is a warning, not a failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

HUBCTL = str(Path(sys.executable).with_name("hubctl"))


def test_unreachable_airflow_warns_and_the_change_is_kept(
    default_config: sa.Engine, db_url: str
) -> None:
    env = {**os.environ, "HUB_DATABASE_URL": db_url, "HUB_AIRFLOW_API_URL": "http://127.0.0.1:1"}
    done = subprocess.run(
        [HUBCTL, "groups", "disable", "lse", "--actor", "ann", "-m", "holiday"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Warning: change saved, but Airflow was not asked to re-parse" in done.stderr
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
