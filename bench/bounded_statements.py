"""What bounding every round trip costs (issue 17): a statement on hubctl's connection against a
plain psycopg2 one, measured in one run on the same embedded PostgreSQL.

Each of hubctl's statements runs beside a watch thread (hubctl/db.py: it names a lock's holder
and hangs up on a server that stopped answering). Times N `SELECT 1` round trips on each
connection and prints both means and their ratio.

Usage: .venv/bin/python bench/bounded_statements.py [--statements 2000] [--smoke]

--smoke: 10 statements, what `make test` runs (tests/test_bench.py).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import psycopg2

from hubctl.db import Database


def _mean_seconds(cursor: psycopg2.extensions.cursor, statements: int) -> float:
    started = time.perf_counter()
    for _ in range(statements):
        cursor.execute("SELECT 1")
    return (time.perf_counter() - started) / statements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=2000)
    parser.add_argument("--smoke", action="store_true", help="10 statements (make test)")
    options = parser.parse_args()
    statements = 10 if options.smoke else options.statements
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        server = pgserver.get_server(Path(tempfile.mkdtemp(prefix="hubbench")), cleanup_mode="stop")
    try:
        with Database(server.get_uri()).connect() as conn:
            bounded = _mean_seconds(conn.cursor(), statements)
        plain_conn = psycopg2.connect(server.get_uri())
        plain = _mean_seconds(plain_conn.cursor(), statements)
        plain_conn.close()
    finally:
        server.cleanup()
    print(f"bounded statement: {bounded * 1e6:.0f} us, plain psycopg2: {plain * 1e6:.0f} us")
    print(f"ratio: {bounded / plain:.1f}x, cost per statement: {(bounded - plain) * 1e6:.0f} us")


if __name__ == "__main__":
    main()
