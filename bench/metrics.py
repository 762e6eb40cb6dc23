"""`hubctl metrics` at 10,000 jobs (issue 24): one scrape of the endpoint, against the defaults.

Builds an embedded PostgreSQL with the defaults (bench/cli.environment), a price per group, a
listener row and a signed anchor followed by --tail audit entries, and starts `hubctl metrics`
on a free port. It times scrapes (HTTP GET /metrics, median of --runs after one warm-up that
builds the calendars) of that hub, then adds --jobs jobs by one audited INSERT and --alerts open
alerts, anchors again, writes --tail entries after the anchor, and times the same scrapes:

  scrape at 11 jobs (the defaults)          the baseline, in this run
  scrape at --jobs jobs                     goal <= 0.5 s; ratio against the baseline (~1x:
                                            the scrape's queries do not grow with jobs)

Each line also gives the server's own figure (hub_metrics_scrape_seconds: the reads alone).

--entries N first writes audit entries up to N (bench/audit.py's writer), to see what the log's
length costs a scrape: the newest anchor's count(*) reads the log up to it.

Usage: .venv/bin/python bench/metrics.py [--jobs 10000] [--alerts 1000] [--tail 1000] [--entries 0] [--runs 7] [--smoke]

--smoke: 50 jobs, 10 alerts, 100 entries after the anchor, one run (make test, tests/test_bench.py).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).parent))
from audit import KEY, count, database_urls, write_entries
from cli import BIN, environment

GOAL_SECONDS = 0.5
# Jobs spread over the default groups in turn, each an audited INSERT row (one statement).
ADD_JOBS = """
INSERT INTO hub.dag_configuration (dag_name, job_name, exchange_group, schedule, params)
SELECT 'data_collection_equities', 'bench_' || n, groups.names[1 + n %% cardinality(groups.names)],
       '@after_close+30m', '{"source": "sample"}'
  FROM generate_series(1, %(jobs)s) AS n,
       (SELECT array_agg(group_name ORDER BY group_name) AS names FROM hub.exchange_groups) AS groups
"""
# Alerts of every rule spread over the jobs' groups (the evaluator's table, written directly).
ADD_ALERTS = """
INSERT INTO hub.alerts (rule, subject, exchange_group, value, threshold, first_seen, last_seen)
SELECT (ARRAY['failure_rate', 'task_duration', 'data_late', 'source_unreachable'])[1 + n %% 4],
       'bench_' || n, job.exchange_group, 10, 5, now(), now()
  FROM generate_series(1, %(alerts)s) AS n
  JOIN hub.dag_configuration AS job ON job.job_name = 'bench_' || n
"""
# Four audited updates a round (one per default group).
TAIL_ENTRIES = """
DO $$ BEGIN
  FOR i IN 1..%(rounds)s LOOP UPDATE hub.exchange_groups SET priority = priority %% 10 + 1; END LOOP;
END $$
"""
ONE_PRICE_PER_GROUP = """
WITH securities AS (
  INSERT INTO market.securities (ticker, exchange)
  SELECT 'BENCH' || g.group_name, g.exchanges[1] FROM hub.exchange_groups g
  RETURNING security_id)
INSERT INTO market.ohlcv SELECT security_id, current_date - 3, 1, 2, 0.5, 1.5, 1.5, 100, 'sample', now()
  FROM securities
"""
LISTENER = "INSERT INTO hub.listener_state (name, last_audit_id, host, pid) VALUES ('bench', 1, 'bench', 1)"


def execute(url: str, sql: str, **params: object) -> None:
    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute(sql, params)
    conn.close()


def anchor_and_tail(urls: tuple[str, str], env: dict[str, str], tail: int) -> None:
    """A signed anchor, then ``tail`` audit entries the incremental check walks on each scrape;
    then what autovacuum does within a minute of so many new rows (as the tables' owner)."""
    subprocess.run(
        [str(BIN / "hubctl"), "audit", "anchor"], env=env, check=True, capture_output=True
    )
    url, owner_url = urls
    execute(url, TAIL_ENTRIES, rounds=max(tail // 4, 1))
    conn = psycopg2.connect(owner_url)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE hub.audit_log, hub.dag_configuration, hub.exchange_groups")
    conn.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def endpoint(env: dict[str, str]) -> Iterator[str]:
    """`hubctl metrics` on a free port, as a user starts it; its URL once it answers."""
    port = free_port()
    argv = [str(BIN / "hubctl"), "metrics", "--port", str(port)]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 60
        while not answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"hubctl metrics did not start: {process.communicate()[1]!r}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def answers(url: str) -> bool:
    try:
        scrape(url)
    except OSError:
        return False
    return True


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as reply:
        return str(reply.read().decode())


def server_seconds(text: str) -> float:
    line = next(line for line in text.splitlines() if line.startswith("hub_metrics_scrape_seconds"))
    return float(line.split()[-1])


def timed_scrapes(url: str, runs: int) -> tuple[float, float]:
    """Median (wall seconds of a GET, the server's own reading seconds) over ``runs`` scrapes."""
    server_seconds(scrape(url))  # warm-up: builds the groups' calendars once per process
    walls, reads = [], []
    for _ in range(runs):
        started = time.perf_counter()
        text = scrape(url)
        walls.append(time.perf_counter() - started)
        reads.append(server_seconds(text))
        if "hub_database_up 1.0" not in text:
            raise SystemExit(f"the scrape did not read the hub:\n{text}")
    return statistics.median(walls), statistics.median(reads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--alerts", type=int, default=1_000)
    parser.add_argument("--tail", type=int, default=1_000)
    parser.add_argument(
        "--entries", type=int, default=0, help="audit entries written before the first anchor"
    )
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="50 jobs, one run (make test)")
    options = parser.parse_args()
    if options.smoke:
        options.jobs, options.alerts, options.tail, options.runs = 50, 10, 100, 1
    with environment() as env:
        store = Path(env.get("HUB_HOME", "/tmp")) / "anchors.jsonl"
        env = {**env, "HUB_AUDIT_KEY": KEY, "HUB_ANCHOR_PATH": str(store)}
        urls = url, owner_url = database_urls(env)
        execute(owner_url, ONE_PRICE_PER_GROUP)
        execute(url, LISTENER)
        write_entries(url, options.entries)  # before the jobs: each round updates every job
        anchor_and_tail(urls, env, options.tail)
        with endpoint(env) as metrics_url:
            baseline = timed_scrapes(metrics_url, options.runs)
            execute(url, ADD_JOBS, jobs=options.jobs)
            if options.alerts:
                execute(url, ADD_ALERTS, alerts=min(options.alerts, options.jobs))
            anchor_and_tail(urls, env, options.tail)
            loaded = timed_scrapes(metrics_url, options.runs)
        with psycopg2.connect(url) as conn:
            entries = count(conn)
        conn.close()
    report(options, baseline, loaded, entries)


def report(
    options: argparse.Namespace,
    baseline: tuple[float, float],
    loaded: tuple[float, float],
    entries: int,
) -> None:
    verdict = "ok" if loaded[0] <= GOAL_SECONDS else "MISSED"
    tail = f"{options.tail:,} entries after the newest anchor"
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; {options.runs} runs")
    print(f"audit log: {entries:,} entries at the end")
    print(
        f"scrape at 11 jobs (the defaults), {tail}: {baseline[0]:.3f} s (reads {baseline[1]:.3f} s)"
    )
    print(
        f"scrape at {options.jobs:,} jobs, {options.alerts:,} open alerts, {tail}:"
        f" {loaded[0]:.3f} s (reads {loaded[1]:.3f} s) (goal <= {GOAL_SECONDS} s: {verdict})"
    )
    print(f"ratio: {loaded[0] / baseline[0]:.2f}x the defaults' scrape")


if __name__ == "__main__":
    main()
