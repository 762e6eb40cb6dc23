"""The audit log at scale (issue #13): a million entries written through the audit triggers.

Builds an embedded PostgreSQL under a temp HUB_HOME (or uses HUB_DATABASE_URL), loads the
defaults, then writes --entries audit entries by real audited UPDATEs (a DO loop over
`UPDATE hub.dag_configuration ...` and `UPDATE hub.exchange_groups ...`: the triggers write and
hash every entry, nothing is inserted into audit_log directly). An anchor is made 1,000 entries
before the end. Then, each command in a fresh process (median of --runs):

  hubctl audit log --since 1d --group lse         goal <= 1 s; ratio against the same query
                                                  without migration 0007's indexes
  hubctl audit verify                             rows/s of the full walk
  hubctl audit verify --anchors S                 full walk + every anchor
  hubctl audit verify --anchors S --incremental   goal <= 1 s; ratio against the full walk
  hubctl audit log --limit 0 -o jsonl             peak memory against --limit 1000 (flat)

The entries are written as hubctl's runtime login (as any writer would); the indexes are dropped
and created again as the schema's owner (the migration URL), since only the owner may.

Usage: .venv/bin/python bench/audit.py [--entries 1000000] [--runs 3] [--smoke]

--smoke writes 1,100 entries and runs each command once: what `make test` runs
(tests/test_bench.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg2

sys.path.insert(0, str(Path(__file__).parent))
from cli import BIN, environment

from hubctl.models import AUDIT_EXPRESSION_INDEXES

TAIL = 1_000  # entries written after the last anchor
KEY = "bench key: never in the database"
WRITE_CHUNK = """
DO $$
BEGIN
  FOR i IN 1..%(loops)s LOOP
    UPDATE hub.dag_configuration SET batch_size = batch_size %% 9000 + 1;
    IF i %% 10 = 0 THEN
      UPDATE hub.exchange_groups SET priority = priority %% 10 + 1;
    END IF;
  END LOOP;
END $$;
"""


def database_urls(env: dict[str, str]) -> tuple[str, str]:
    """The URLs hubctl resolves in ``env``, as libpq takes them: (runtime login, schema owner)."""
    code = (
        "from hubctl.db import libpq_url, resolve_database_url, resolve_migration_url;"
        " print(libpq_url(resolve_database_url())); print(libpq_url(resolve_migration_url()))"
    )
    done = subprocess.run(
        [str(BIN / "python"), "-c", code], env=env, check=True, capture_output=True, text=True
    )
    runtime, owner = done.stdout.split()
    return runtime, owner


def count(conn: psycopg2.extensions.connection) -> int:
    with conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM hub.audit_log")
        [entries] = cursor.fetchone() or (0,)
        return int(entries)


def write_entries(url: str, target: int) -> None:
    """Audited UPDATEs until the log holds ``target`` entries (about 9.4 entries per loop)."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    started, have, chunks = time.perf_counter(), count(conn), 0
    while have < target:
        # Short transactions: one that updates the same row thousands of times walks an ever
        # longer chain of its own row versions (quadratic); committed ones are pruned.
        loops = max(1, min(20, (target - have) // 10))
        with conn.cursor() as cursor:
            cursor.execute(WRITE_CHUNK % {"loops": loops})
        have, chunks = have + loops * 9 + loops // 10 * 4, chunks + 1
        if chunks % 100 == 0:
            have = count(conn)
            print(
                f"  {have:>9,} entries, {have / (time.perf_counter() - started):,.0f}/s", end="\r"
            )
    have = count(conn)
    conn.close()
    print(f"  {have:>9,} entries written in {time.perf_counter() - started:.0f} s")


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    """(wall seconds, stdout) of one run in a fresh process."""
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"{' '.join(argv)} failed: {result.stderr}")
    return time.perf_counter() - started, result.stdout


def median(argv: list[str], env: dict[str, str], runs: int) -> float:
    return statistics.median(timed(argv, env)[0] for _ in range(runs))


def peak_memory(argv: list[str], env: dict[str, str]) -> int:
    """Peak resident memory (MiB) of one run, output discarded."""
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{' '.join(argv)} failed")
    return usage.ru_maxrss // 1024


def set_indexes(owner_url: str, *, present: bool) -> None:
    """Migration 0007's expression indexes on or off (as the owner of hub.audit_log)."""
    conn = psycopg2.connect(owner_url)
    conn.autocommit = True
    with conn.cursor() as cursor:
        for name, parts in AUDIT_EXPRESSION_INDEXES.items():
            if present:
                columns = ", ".join(parts)
                cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON hub.audit_log ({columns})")
            else:
                cursor.execute(f"DROP INDEX IF EXISTS hub.{name}")
        cursor.execute("ANALYZE hub.audit_log")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="1,100 entries, one run (make test)")
    options = parser.parse_args()
    if options.smoke:
        options.entries, options.runs = TAIL + 100, 1
    hubctl = str(BIN / "hubctl")
    with environment() as env:
        store = Path(env.get("HUB_HOME", "/tmp")) / "anchors.jsonl"
        env = {**env, "HUB_AUDIT_KEY": KEY, "HUB_ANCHOR_PATH": str(store)}
        url, owner_url = database_urls(env)
        write_entries(url, options.entries - TAIL)
        timed([hubctl, "audit", "anchor"], env)
        write_entries(url, options.entries)
        set_indexes(owner_url, present=True)
        log = [hubctl, "audit", "log", "--since", "1d", "--group", "lse", "-o", "json"]
        with_indexes = median(log, env, options.runs)
        set_indexes(owner_url, present=False)
        without = median(log, env, options.runs)
        set_indexes(owner_url, present=True)
        report(options, env, with_indexes, without)


def report(
    options: argparse.Namespace, env: dict[str, str], log_s: float, log_before: float
) -> None:
    hubctl = str(BIN / "hubctl")
    verify = json.loads(timed([hubctl, "audit", "verify", "-o", "json"], env)[1])
    full = median(
        [hubctl, "audit", "verify", "--anchors", env["HUB_ANCHOR_PATH"]], env, options.runs
    )
    incremental = median([hubctl, "audit", "verify", "--incremental"], env, options.runs)
    # -o json of a million entries would need gigabytes; the baseline is jsonl of 1,000 entries.
    export = [hubctl, "audit", "log", "--since", "1d", "-o", "jsonl", "--limit"]
    all_mib, thousand_mib = peak_memory([*export, "0"], env), peak_memory([*export, "1000"], env)
    print(f"audit entries: {verify['rows_checked']:,} (load average {os.getloadavg()[0]:.2f})")
    print(
        f"audit log --since 1d --group lse   {log_s:6.3f} s  without 0007's indexes {log_before:6.3f} s"
        f"  ({log_before / log_s:.1f}x; goal <= 1 s: {'ok' if log_s <= 1 else 'MISSED'})"
    )
    print(
        f"audit verify                       {verify['seconds']:6.3f} s  {verify['rows_per_second']:,} rows/s"
    )
    print(f"audit verify --anchors (full)      {full:6.3f} s")
    print(
        f"audit verify --incremental         {incremental:6.3f} s  ({full / incremental:.0f}x faster than"
        f" full; goal <= 1 s: {'ok' if incremental <= 1 else 'MISSED'})"
    )
    print(f"audit log -o jsonl, all entries    peak {all_mib} MiB;  --limit 1000: {thousand_mib} MiB"
          f"  ({all_mib / max(thousand_mib, 1):.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
