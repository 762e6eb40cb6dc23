"""hub_monitor's evaluation at scale (issue 24): time per run, and SQL statements and API calls per
run at a small and a large number of jobs (they must not grow with the jobs).

An embedded PostgreSQL with the defaults (bench/cli.environment); copies of a collection job up to
each size, each with --history finished runs already in hub.monitored_runs (2 % of them failed,
so some failure_rate alerts hold) and three failed fetches for one group. Airflow is a loopback
stand-in serving the two list endpoints the reader uses, as Airflow pages them (limit, offset,
`end_date_gte`/`end_date_gt` and ordering): since the last run, --changed jobs finished one new run
each (the same activity at both sizes), and one task instance of each hundredth of them is slow;
then, the worst case at the large size: every job finished a run. Each evaluation runs
`hubctl.monitoring.evaluate.evaluate` in this process (no deliveries: a run sends at most 100,
three statements each); SQL statements are counted on hubctl's cursor class, API calls by the
client. The median of --runs evaluations per size; the cursors are reset before each, so each
reads the same pages.

Goal: <= 10 s per run at 10,000 jobs; statements and API calls per run the same at both sizes,
and bounded in the worst case (the reader's page cap).

Usage: .venv/bin/python bench/monitor.py [--jobs 100 10000] [--changed 50] [--history 25] [--runs 3]
       [--smoke]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg2

sys.path.insert(0, str(Path(__file__).parent))
from cli import environment

from hubctl.airflow_api import AirflowApi, AirflowApiConfig
from hubctl.db import Database
from hubctl.db.bounded import BoundedCursor
from hubctl.db.embedded import embedded_server_url
from hubctl.db.urls import libpq_url
from hubctl.monitoring.evaluate import evaluate

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
TEMPLATE = ("data_collection_equities", "lse")
ADD_JOBS = """
INSERT INTO hub.dag_configuration ({columns})
SELECT {values} FROM hub.dag_configuration AS job,
       generate_series(%(first)s, %(last)s) AS n
 WHERE (job.dag_name, job.job_name) = %(template)s
"""
ADD_HISTORY = """
INSERT INTO hub.monitored_runs (dag_id, run_id, state, start_date, end_date, duration_seconds)
SELECT %(dag_name)s || '__' || %(job_name)s || '_' || n, 'scheduled__' || r,
       CASE WHEN (n * 31 + r) %% 50 = 0 THEN 'failed' ELSE 'success' END,
       %(now)s - make_interval(days => r + 1), %(now)s - make_interval(days => r + 1) + interval '1 min',
       60
  FROM generate_series(%(first)s, %(last)s) AS n, generate_series(1, %(history)s) AS r
"""


class AirflowStandIn(BaseHTTPRequestHandler):
    """The reader's endpoints over ``runs`` and ``tasks`` (set on the server), paged like Airflow."""

    # http.server calls the handler's methods by these names
    def do_POST(self) -> None:
        self._send({"access_token": "bench"})

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        params = urllib.parse.parse_qs(query)
        key = "dag_runs" if path.endswith("/dagRuns") else "task_instances"
        items = self.server.runs if key == "dag_runs" else self.server.tasks  # type: ignore[attr-defined]
        if "end_date_gte" in params:
            items = [item for item in items if item["end_date"] >= params["end_date_gte"][0]]
        if "end_date_gt" in params:
            items = [item for item in items if item["end_date"] > params["end_date_gt"][0]]
        if "duration_gte" in params:
            items = [
                item
                for item in items
                if (item.get("duration") or 0) >= float(params["duration_gte"][0])
            ]
        if params.get("state") == ["running"]:
            items = [item for item in items if item["state"] == "running"]
        offset, limit = int(params["offset"][0]), int(params["limit"][0])
        self._send({key: items[offset : offset + limit], "total_entries": len(items)})

    def _send(self, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: Any) -> None:
        pass


@contextmanager
def airflow(changed: int) -> Iterator[str]:
    """The stand-in, where jobs 1 .. ``changed`` finished a run since the last evaluation."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), AirflowStandIn)
    end = (NOW - dt.timedelta(minutes=2)).isoformat()
    server.runs = [  # type: ignore[attr-defined]
        {"dag_id": f"{TEMPLATE[0]}__{TEMPLATE[1]}_{n}", "dag_run_id": "manual__new",
         "state": "failed" if n % 10 == 0 else "success", "start_date": end, "end_date": end,
         "duration": 60.0}
        for n in range(1, changed + 1)
    ]  # fmt: skip
    server.tasks = [  # type: ignore[attr-defined]
        {"dag_id": f"{TEMPLATE[0]}__{TEMPLATE[1]}_{n}", "task_id": "batches.collect",
         "dag_run_id": "manual__new", "state": "success", "start_date": end, "end_date": end,
         "duration": 45 * 60.0}
        for n in range(1, changed + 1, 100)
    ]  # fmt: skip
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def grow(url: str, have: int, jobs: int, history: int) -> None:
    """Jobs ``have + 1 .. jobs`` (copies of the template), each with ``history`` finished runs."""
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'hub'"
            " AND table_name = 'dag_configuration' AND column_name NOT IN"
            " ('version', 'created_at', 'updated_at') ORDER BY ordinal_position"
        )
        names = [name for (name,) in cur.fetchall()]
        values = ", ".join(
            f"job.{n}" if n != "job_name" else "job.job_name || '_' || n" for n in names
        )
        bounds = {"first": have + 1, "last": jobs, "template": TEMPLATE}
        cur.execute(ADD_JOBS.format(columns=", ".join(names), values=values), bounds)
        cur.execute(ADD_HISTORY, {**bounds, "dag_name": TEMPLATE[0], "job_name": TEMPLATE[1],
                                  "now": NOW, "history": history})  # fmt: skip
        cur.execute(
            "INSERT INTO hub.source_fetches (exchange_group, ok, error)"
            " SELECT 'german_markets', false, 'HTTP 503' FROM generate_series(1, 3)"
        )
        cur.execute("ANALYZE hub.monitored_runs; ANALYZE hub.dag_configuration")


class StatementCount:
    """Every statement run on hubctl's connections (its cursor class) while counting."""

    def __init__(self) -> None:
        self.count = 0
        self.execute, self.executemany = BoundedCursor.execute, BoundedCursor.executemany

    @contextmanager
    def counting(self) -> Iterator[None]:
        outer = self

        def execute(cursor: BoundedCursor, query: Any, vars: Any = None) -> None:
            outer.count += 1
            outer.execute(cursor, query, vars)

        def executemany(cursor: BoundedCursor, query: Any, vars_list: Any) -> None:
            outer.count += 1
            outer.executemany(cursor, query, vars_list)

        BoundedCursor.execute, BoundedCursor.executemany = execute, executemany  # type: ignore[method-assign]
        try:
            yield
        finally:
            BoundedCursor.execute, BoundedCursor.executemany = self.execute, self.executemany  # type: ignore[method-assign]


def measure(database: Database, owner_url: str, changed: int, runs: int) -> dict[str, float]:
    seconds, statements, calls, findings = [], [], [], 0
    with airflow(changed) as api_url:
        for _ in range(runs):
            with psycopg2.connect(owner_url) as conn, conn.cursor() as cur:
                cur.execute("DELETE FROM hub.monitor_state")  # each run reads the same pages
            api = AirflowApi(AirflowApiConfig(api_url, "admin", "bench"))
            counter = StatementCount()
            started = time.perf_counter()
            with counter.counting():
                done = evaluate(database, api, now=NOW, send=None)
            seconds.append(time.perf_counter() - started)
            statements.append(counter.count)
            calls.append(done.api_calls)
            findings = len(done.findings)
    return {"seconds": statistics.median(seconds), "statements": max(statements),
            "api_calls": max(calls), "findings": findings}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, nargs=2, default=[100, 10_000])
    parser.add_argument("--changed", type=int, default=50)
    parser.add_argument("--history", type=int, default=25)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--smoke", action="store_true", help="20 and 200 jobs, two runs (make test)"
    )
    options = parser.parse_args()
    if options.smoke:
        options.jobs, options.changed, options.history, options.runs = [20, 200], 10, 5, 2
    with environment() as env:
        os.environ.update(env)
        owner_url = libpq_url(embedded_server_url(Path(env["HUB_HOME"])))
        database = Database.from_settings()
        small, large = options.jobs
        grow(owner_url, 0, small, options.history)
        at_small = measure(database, owner_url, options.changed, options.runs)
        grow(owner_url, small, large, options.history)
        at_large = measure(database, owner_url, options.changed, options.runs)
        worst = measure(database, owner_url, large, options.runs)
    for label, figures in ((f"{small:,} jobs", at_small), (f"{large:,} jobs", at_large),
                           (f"{large:,} jobs, all changed", worst)):  # fmt: skip
        print(f"{label:>26}: {figures['seconds']:.2f} s per run, {figures['statements']:.0f}"
              f" SQL statements, {figures['api_calls']:.0f} API calls,"
              f" {figures['findings']:.0f} findings")  # fmt: skip
    for name in ("statements", "api_calls"):
        ratio = at_large[name] / at_small[name]
        print(
            f"{name} per run at {large:,} / at {small:,} jobs ({options.changed} changed): {ratio:.2f}"
        )
    print(f"goal: <= 10 s per run at {large:,} jobs, all changed: {worst['seconds']:.2f} s")


if __name__ == "__main__":
    main()
