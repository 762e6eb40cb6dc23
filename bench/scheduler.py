"""Per-ticker mapping (seed 001) against batches, through a real scheduler, in one run.

Starts the local stack (`hubctl up`, LocalExecutor) on a free port, creates two identical exchange
groups of N synthetic tickers each (sample source, `lookback_days` covering YEARS years), one
collection job with batch_size=1 (the seed's one-task-per-ticker design) and one with the default
batch size, triggers each run in turn and times it from trigger to success.
Goal: batches >= 10x faster, and the batched run <= 60 s on this 2-core machine.

    .venv/bin/python bench/scheduler.py [--tickers 500] [--years 10]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hubctl.airflow_api import AirflowApi
from hubctl.stack import client_environment, launched
from hubctl.tables import JOBS

HUBCTL = str(Path(sys.executable).with_name("hubctl"))
DEFAULT_BATCH = JOBS.field["batch_size"].default
VARIANTS = {"per_ticker": 1, "batched": DEFAULT_BATCH}


def hubctl(env: dict[str, str], *arguments: str) -> None:
    subprocess.run(
        [HUBCTL, *arguments, "-m", "scheduler benchmark"], env=env, check=True, capture_output=True
    )


def configure(env: dict[str, str], home: Path, tickers: int, years: int) -> None:
    """Two groups with the same number of tickers: one job per variant."""
    for name, batch_size in VARIANTS.items():
        exchange = f"BENCH_{name.upper()}"
        hubctl(env, "groups", "add", f"bench_{name}", "--exchange", exchange, "--timezone", "UTC")
        csv = home / f"{name}.csv"
        suffix = "P" if name == "per_ticker" else "B"
        csv.write_text(
            "ticker,exchange\n" + "".join(f"T{i:04d}.{suffix},{exchange}\n" for i in range(tickers))
        )
        hubctl(env, "tickers", "import", str(csv))
        hubctl(
            env, "config", "add", "data_collection_equities", f"bench_{name}",
            f"exchange_group=bench_{name}", f"batch_size={batch_size}", "max_active_tasks=32",
            "params.source=sample", f"params.lookback_days={years * 365}",
        )  # fmt: skip


def run_and_time(api: AirflowApi, dag_id: str, timeout: float = 3600) -> tuple[float, str]:
    while dag_id not in {dag["dag_id"] for dag in api.dags()}:
        time.sleep(0.5)
    started = time.monotonic()
    run = api.call("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None})
    while time.monotonic() - started < timeout:
        state = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}")["state"]
        if state in {"success", "failed"}:
            return time.monotonic() - started, state
        time.sleep(1)
    return float("inf"), "timeout"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickers", type=int, default=500)
    parser.add_argument("--years", type=int, default=10)
    arguments = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="hubsched"))
    with launched(home) as (_, api_config):
        env = client_environment(home, HUBCTL_ACTOR="bench")
        configure(env, home, arguments.tickers, arguments.years)
        api = AirflowApi(api_config)
        results = {
            name: run_and_time(api, f"data_collection_equities__bench_{name}") for name in VARIANTS
        }
    print(f"{arguments.tickers} tickers x {arguments.years} years, sample source, LocalExecutor")
    print(f"{'variant':<12}{'batch_size':>11}{'mapped TIs':>11}{'wall s':>9}  state")
    for name, (seconds, state) in results.items():
        batches = -(-arguments.tickers // VARIANTS[name])
        print(f"{name:<12}{VARIANTS[name]:>11}{batches:>11}{seconds:>9.1f}  {state}")
    ratio = results["per_ticker"][0] / results["batched"][0]
    print(f"batched is {ratio:.1f}x faster (goal >= 10x; batched <= 60 s)")


if __name__ == "__main__":
    main()
