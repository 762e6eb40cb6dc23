"""How fast a committed change reaches Airflow, by every writer, at 10 and at 5,000 jobs (issue #15).

Starts one local stack (`hubctl up`, its listener included) with --shards parse units, measures
at the default configuration (10 jobs), then adds jobs by SQL (over 200+ exchange groups) up to
the next size and measures again. Per size, --rounds rounds of:

  groups disable   `hubctl groups disable lse` returning -> both lse DAGs stale in the API;
  raw SQL          `UPDATE hub.exchange_groups SET enabled = false ...` committed -> stale;
  SQL API          `SELECT hub.update_dag_config(..., p_batch_size => N)` committed -> N in the
                   DAG's doc_md in the API.

The listener is the only path from a change to Airflow (issue #21), whoever writes. Goal: <= 5 s
each.

    .venv/bin/python bench/latency.py [--sizes 10 5000] [--shards 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg2

from hubctl.airflow_api import AirflowApi, AirflowApiError
from hubctl.db import connection_arguments, embedded_server_url
from hubctl.stack import client_environment, launched

sys.path.insert(0, str(Path(__file__).parent))
from parse import load_jobs  # bench/parse.py: the same synthetic jobs

HUBCTL = str(Path(sys.executable).with_name("hubctl"))
LSE_DAGS = {"data_collection_equities__lse", "historical_load_equities__lse"}
TIMEOUT = 120.0


class Bench:
    def __init__(self, home: Path, api: AirflowApi) -> None:
        self.home, self.api = home, api
        self.url = embedded_server_url(home)
        self.env = client_environment(home, HUBCTL_ACTOR="bench")
        self.batch_size = 500

    def lse_served(self) -> bool:
        dags = self.api.dags(pattern="lse")
        return {dag["dag_id"] for dag in dags} >= LSE_DAGS

    def lse_doc(self) -> str:
        reply = self.api.call("GET", "/api/v2/dags/data_collection_equities__lse/details")
        return str(reply.get("doc_md") or "")

    def sql(self, statement: str) -> None:
        conn = psycopg2.connect(**connection_arguments(self.url))
        with conn, conn.cursor() as cursor:
            cursor.execute(statement)
        conn.close()

    def enabled_jobs(self) -> int:
        conn = psycopg2.connect(**connection_arguments(self.url))
        with conn, conn.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM hub.dag_configuration WHERE enabled")
            (count,) = cursor.fetchone() or (0,)
        conn.close()
        return int(count)

    def hubctl(self, *arguments: str) -> None:
        subprocess.run([HUBCTL, *arguments], env=self.env, check=True, capture_output=True)

    def timed(self, change: Callable[[], None], done: Callable[[], bool]) -> float:
        change()
        returned = time.monotonic()
        while not answered(done):
            if time.monotonic() - returned > TIMEOUT:
                return float("inf")
            time.sleep(0.1)
        return time.monotonic() - returned

    def groups_disable(self) -> float:
        seconds = self.timed(
            lambda: self.hubctl("groups", "disable", "lse", "-m", "latency bench"),
            lambda: not self.lse_served(),
        )
        self.timed(
            lambda: self.hubctl("groups", "enable", "lse", "-m", "latency bench"), self.lse_served
        )
        return seconds

    def raw_sql(self) -> float:
        seconds = self.timed(
            lambda: self.sql(
                "UPDATE hub.exchange_groups SET enabled = false WHERE group_name = 'lse'"
            ),
            lambda: not self.lse_served(),
        )
        self.timed(
            lambda: self.sql(
                "UPDATE hub.exchange_groups SET enabled = true WHERE group_name = 'lse'"
            ),
            self.lse_served,
        )
        return seconds

    def sql_api(self) -> float:
        self.batch_size += 1
        wanted = f"| batch_size | {self.batch_size} |"
        return self.timed(
            lambda: self.sql(
                "SELECT hub.update_dag_config('data_collection_equities', 'lse',"
                f" p_batch_size => {self.batch_size})"
            ),
            lambda: wanted in self.lse_doc(),
        )


def answered(condition: Callable[[], bool]) -> bool:
    """The condition, or False while the api-server is too busy to answer (a loaded machine)."""
    try:
        return condition()
    except AirflowApiError:
        return False


def wait_until_served(api: AirflowApi, count: int) -> None:
    deadline = time.monotonic() + 1800
    while not answered(lambda: len(api.dags()) >= count):
        if time.monotonic() > deadline:
            raise SystemExit(f"Airflow did not serve {count} DAGs within 30 min")
        time.sleep(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 5000])
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="hublat"))
    print(f"{arguments.shards} parse unit(s)\n")
    print("| jobs | writer -> seen in Airflow's API | median s | max s | rounds |")
    print("|---:|---|---:|---:|---|", flush=True)
    with launched(home, environment={"HUB_DAG_SHARDS": str(arguments.shards)}) as (_, api_config):
        bench = Bench(home, AirflowApi(api_config))
        defaults = bench.enabled_jobs()
        wait_until_served(bench.api, defaults)
        for size in arguments.sizes:
            if size > defaults:
                load_jobs(bench.url, size - defaults, groups=max(200, size // 25), replace=False)
                wait_until_served(bench.api, size)
                time.sleep(5)
            paths: dict[str, Callable[[], float]] = {
                "groups disable": bench.groups_disable,
                "raw SQL UPDATE": bench.raw_sql,
                "SQL API update_dag_config": bench.sql_api,
            }
            for name, measure in paths.items():
                seconds = [measure() for _ in range(arguments.rounds)]
                print(f"| {size} | {name} | {statistics.median(seconds):.2f} | {max(seconds):.2f} |"
                      f" {', '.join(f'{s:.2f}' for s in seconds)} |", flush=True)  # fmt: skip
    print("\ngoal: <= 5 s for each writer at each size")


if __name__ == "__main__":
    main()
