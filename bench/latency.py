"""How fast a change reaches Airflow: `hubctl groups disable lse` returning -> lse DAGs stale.

Starts the local stack (`hubctl up`) on a free port, then alternates the same change with and
without hubctl's re-parse request (HUB_AIRFLOW_REPARSE=false), several rounds each, in one run.
Goal: with the request, <= 5 s; Airflow on its own re-parses every 30 s (min_file_process_interval).

    .venv/bin/python bench/latency.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hubctl.airflow_api import AirflowApi
from hubctl.stack import client_environment, launched

HUBCTL = str(Path(sys.executable).with_name("hubctl"))
LSE_DAGS = {"data_collection_equities__lse", "historical_load_equities__lse"}


def lse_stale(api: AirflowApi) -> set[bool]:
    return {dag["is_stale"] for dag in api.dags(include_stale=True) if dag["dag_id"] in LSE_DAGS}


def change_and_wait(
    api: AirflowApi, env: dict[str, str], enable: bool, timeout: float = 120
) -> float:
    subprocess.run(
        [HUBCTL, "groups", "enable" if enable else "disable", "lse", "-m", "latency benchmark"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    returned = time.monotonic()
    while lse_stale(api) != {not enable}:
        if time.monotonic() - returned > timeout:
            return float("inf")
        time.sleep(0.1)
    return time.monotonic() - returned


def measure(api: AirflowApi, env: dict[str, str], rounds: int) -> list[float]:
    """Seconds from the disable command returning to both lse DAGs stale, per round."""
    seconds = []
    for _ in range(rounds):
        seconds.append(change_and_wait(api, env, enable=False))
        change_and_wait(api, env, enable=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    home = Path(tempfile.mkdtemp(prefix="hublat"))
    with launched(home) as (_, api_config):
        api = AirflowApi(api_config)
        while lse_stale(api) != {False}:
            time.sleep(1)
        env = client_environment(home, HUBCTL_ACTOR="bench")
        with_request = measure(api, env, rounds)
        without_request = measure(api, {**env, "HUB_AIRFLOW_REPARSE": "false"}, rounds)
    print(f"{'path':<34}{'median s':>10}{'max s':>9}  rounds")
    for name, seconds in (("hubctl + re-parse request", with_request),
                          ("same change, no request", without_request)):  # fmt: skip
        print(f"{name:<34}{statistics.median(seconds):>10.2f}{max(seconds):>9.2f}  "
              + ", ".join(f"{s:.2f}" for s in seconds))  # fmt: skip
    ratio = statistics.median(without_request) / statistics.median(with_request)
    print(f"speed-up (median): {ratio:.1f}x; goal: with request <= 5 s")


if __name__ == "__main__":
    main()
