"""The Markets page's API at scale (issue 23): History pages out of a million entries, and the
Markets and Jobs tabs' reads at 10,000 jobs.

Builds an embedded PostgreSQL with the defaults (bench/cli.environment), adds --jobs jobs by one
audited INSERT, then bulk-copies audit entries about those jobs until the log holds --entries
(copied with the triggers off: this measures reading pages, not writing or hashing entries, and
bench/audit.py writes a real million through the triggers in 43 minutes). Then, in this process
through the page's FastAPI app (Airflow's auth dependencies overridden, as in tests/plugin), the
median of --runs:

  GET api/history?limit=100                    first page     goal <= 0.5 s
  GET api/history?limit=100&before_id=...      last page      goal <= 0.5 s; ratio against the
                                               same rows by OFFSET (the paging keyset replaces)
  GET api/history?limit=100&group=...          a quiet group (a dozen entries) and the busy one
                                               (every copy is about it)   goal <= 0.5 s each
  GET api/markets, GET api/jobs                at --jobs jobs goal <= 2 s (the tab's render)

Usage: .venv/bin/python bench/history_page.py [--entries 1000000] [--jobs 10000] [--runs 5] [--smoke]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg2
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
from airflow.api_fastapi.core_api.security import get_user
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))
from cli import environment

from hubctl.db.embedded import embedded_server_url
from hubctl.db.urls import libpq_url
from hubctl.plugin import app as page

PAGE = 100
# A group none of the copied entries is about (its history is a dozen entries): one OR of the
# filter's parts walked the whole log back for it.
QUIET_GROUP = "us_markets"
BUSY_GROUP_SQL = "SELECT new_row->>'exchange_group' FROM hub.audit_log ORDER BY id DESC LIMIT 1"
ADD_JOBS = """
INSERT INTO hub.dag_configuration ({columns})
SELECT {values} FROM hub.dag_configuration AS job, generate_series(1, %(copies)s) AS n
WHERE (job.dag_name, job.job_name) = (SELECT dag_name, job_name FROM hub.dag_configuration
                                      WHERE exchange_group IS NOT NULL ORDER BY 1, 2 LIMIT 1)
"""
# Copies of the newest job entry, each about one of the jobs in turn (by row_key), ids ascending.
COPY_ENTRIES = """
SET session_replication_role = replica;
INSERT INTO hub.audit_log ({columns}, row_key)
SELECT {columns}, keys.k[1 + n %% cardinality(keys.k)]
FROM (SELECT {columns} FROM hub.audit_log WHERE table_name = 'dag_configuration'
      ORDER BY id DESC LIMIT 1) AS template,
     (SELECT array_agg(jsonb_build_object('dag_name', dag_name, 'job_name', job_name)) AS k
      FROM hub.dag_configuration) AS keys,
     generate_series(1, %(count)s) AS n;
UPDATE hub.audit_chain_head SET last_id = (SELECT max(id) FROM hub.audit_log) WHERE id = 1;
SET session_replication_role = origin;
"""
KEYSET_PAGE = "SELECT * FROM hub.audit_log WHERE id < %(before)s ORDER BY id DESC LIMIT %(limit)s"
OFFSET_PAGE = "SELECT * FROM hub.audit_log ORDER BY id DESC OFFSET %(offset)s LIMIT %(limit)s"


def columns(cur: psycopg2.extensions.cursor, table: str, leave_out: set[str]) -> list[str]:
    cur.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'hub'"
        " AND table_name = %s AND is_generated = 'NEVER' AND identity_generation IS NULL"
        " ORDER BY ordinal_position",
        (table,),
    )
    return [name for (name,) in cur.fetchall() if name not in leave_out]


def add_jobs(cur: psycopg2.extensions.cursor, jobs: int) -> None:
    """``jobs`` copies of the first job in a group, by one audited INSERT (bench/page.py too)."""
    names = columns(cur, "dag_configuration", {"version", "created_at", "updated_at"})
    values = ", ".join(f"job.{n}" if n != "job_name" else "job.job_name || '_' || n" for n in names)
    cur.execute(ADD_JOBS.format(columns=", ".join(names), values=values), {"copies": jobs})


def load(url: str, *, jobs: int, entries: int) -> None:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        add_jobs(cur, jobs)
        cur.execute("SELECT count(*) FROM hub.audit_log")
        have = cur.fetchone()[0]
        copied = ", ".join(columns(cur, "audit_log", {"id", "row_key"}))
        cur.execute(COPY_ENTRIES.format(columns=copied), {"count": entries - have})
        cur.execute("ANALYZE hub.audit_log")


def sql_page(cur: psycopg2.extensions.cursor, sql: str, **params: object) -> Callable[[], object]:
    def call() -> object:
        cur.execute(sql, {"limit": PAGE, **params})
        return cur.fetchall()

    return call


def median(call: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def client() -> TestClient:
    app = page.create_app()
    app.dependency_overrides[page.CanRead.dependency] = lambda: None
    app.dependency_overrides[get_user] = lambda: SimpleAuthManagerUser(
        username="bench", role="admin"
    )
    return TestClient(app)


def fetched(web: TestClient, path: str, **params: object) -> Callable[[], object]:
    def call() -> object:
        response = web.get(f"/api/{path}", params=params)
        response.raise_for_status()
        return response.json()

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--smoke", action="store_true", help="the smallest run (make test): 2,000 entries, 50 jobs"
    )
    options = parser.parse_args()
    if options.smoke:
        options.entries, options.jobs, options.runs = 2_000, 50, 1
    with environment() as env:
        os.environ.update(env)
        # The superuser: only it may turn the triggers off for the bulk copy.
        url = libpq_url(embedded_server_url(Path(env["HUB_HOME"])))
        started = time.perf_counter()
        load(url, jobs=options.jobs, entries=options.entries)
        print(
            f"loaded {options.entries:,} entries, {options.jobs:,} jobs in {time.perf_counter() - started:.0f} s"
        )
        measure(url, client(), options.runs)


def measure(url: str, web: TestClient, runs: int) -> None:
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*), (SELECT id FROM hub.audit_log ORDER BY id OFFSET %s LIMIT 1)"
            " FROM hub.audit_log",
            (PAGE,),
        )
        total, last_page_before = cur.fetchone()
        cur.execute(BUSY_GROUP_SQL)
        (busy_group,) = cur.fetchone()
        offset = median(sql_page(cur, OFFSET_PAGE, offset=total - PAGE), runs)
        keyset = median(sql_page(cur, KEYSET_PAGE, before=last_page_before), runs)
    first = median(fetched(web, "history", limit=PAGE), runs)
    last_call = fetched(web, "history", limit=PAGE, before_id=last_page_before)
    assert len(last_call()["entries"]) == PAGE  # type: ignore[index]
    last = median(last_call, runs)
    quiet = median(fetched(web, "history", limit=PAGE, group=QUIET_GROUP), runs)
    busy = median(fetched(web, "history", limit=PAGE, group=busy_group), runs)
    markets = median(fetched(web, "markets"), runs)
    jobs = median(fetched(web, "jobs"), runs)
    print(f"entries {total:,}")
    print(f"history first page of {PAGE}   {first:.3f} s   (goal <= 0.5 s)")
    print(f"history last page of {PAGE}    {last:.3f} s   (goal <= 0.5 s)")
    print(f"  its SQL alone: keyset {keyset:.4f} s, OFFSET {offset:.4f} s ({offset / keyset:.0f}x)")
    print(f"history first page, group={QUIET_GROUP} (quiet) {quiet:.3f} s   (goal <= 0.5 s)")
    print(f"history first page, group={busy_group} (busy) {busy:.3f} s   (goal <= 0.5 s)")
    print(f"api/markets                    {markets:.3f} s   (goal <= 2 s)")
    print(f"api/jobs                       {jobs:.3f} s   (goal <= 2 s)")


if __name__ == "__main__":
    main()
