"""What the Markets plugin adds to the api-server's start (issue #12: goal <= 50 ms).

Each round runs one fresh process that builds Airflow's api-server app the way `airflow
api-server` does (`airflow.api_fastapi.app.create_app()`, which loads every plugin and mounts
their FastAPI apps), and inside it times:
  plugin:   what the plugin costs the start: importing `hubctl.plugin` (Airflow's plugins
            manager and FastAPI are loaded first: the api-server has them anyway) and mounting
            its app (the page's own app is built on first request);
  baseline: the rest of create_app(), in the same process (the plugin already imported);
  first request: building the page's app (`hubctl.plugin.app`), paid once, after the start.
Also, in a fresh process, what the dag-processor pays: importing `hubctl.plugin` after Airflow's
plugins manager (the plugin must import nothing heavy into the parse path).

Usage: .venv/bin/python bench/plugin_start.py [--runs 5] [--smoke]

--smoke: one round, no warm-up, and a missed time goal is only reported: what `make test` runs
(tests/test_bench.py). A heavy module pulled into the parse path fails it either way.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

GOAL_MS = 50.0

API_SERVER = """
import json, time
import airflow.plugins_manager
from fastapi import FastAPI
t1 = time.perf_counter()
import hubctl.plugin
FastAPI().mount(hubctl.plugin.URL_PREFIX, hubctl.plugin.MarketsPlugin.fastapi_apps[0]["app"])
plugin_ms = (time.perf_counter() - t1) * 1000
t0 = time.perf_counter()
from airflow.api_fastapi.app import create_app
app = create_app()
start_ms = (time.perf_counter() - t0) * 1000
t2 = time.perf_counter()
from hubctl.plugin.app import create_app as create_page_app
create_page_app()
first_ms = (time.perf_counter() - t2) * 1000
mounted = any(getattr(r, "path", "") == hubctl.plugin.URL_PREFIX for r in app.routes)
print(json.dumps({"start": start_ms, "plugin": plugin_ms, "first": first_ms, "mounted": mounted}))
"""

PARSE_PATH = """
import json, sys, time
import airflow.plugins_manager
before = set(sys.modules)
t0 = time.perf_counter()
import hubctl.plugin
ms = (time.perf_counter() - t0) * 1000
heavy = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in {"fastapi", "pydantic", "pandas", "sqlalchemy", "psycopg2", "exchange_calendars"} or m == "hubctl.plugin.app")
print(json.dumps({"import": ms, "heavy": heavy}))
"""


def run(code: str, env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="one round, no warm-up (make test)")
    options = parser.parse_args()
    runs = 1 if options.smoke else options.runs
    with tempfile.TemporaryDirectory(prefix="hub-bench-airflow-") as home:
        env = {**os.environ, "AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
        if not options.smoke:
            run(API_SERVER, env)  # warm the OS caches and the bytecode cache
        rounds = [run(API_SERVER, env) for _ in range(runs)]
        parse = [run(PARSE_PATH, env) for _ in range(runs)]
    assert all(r["mounted"] for r in rounds), "the api-server did not mount the plugin's app"
    start = statistics.median(r["start"] for r in rounds)
    plugin = statistics.median(r["plugin"] for r in rounds)
    first = statistics.median(r["first"] for r in rounds)
    print(f"api-server create_app (baseline, without the plugin):{start:8.1f} ms")
    print(f"the plugin's share of it (import, build, mount):    {plugin:8.1f} ms"
          f"  = {plugin / start:.1%} of the start; goal <= {GOAL_MS:.0f} ms")  # fmt: skip
    print(f"the page's app, built on its first request:          {first:8.1f} ms")
    print(f"dag-processor: importing hubctl.plugin:              "
          f"{statistics.median(p['import'] for p in parse):8.1f} ms; heavy modules pulled in: "
          f"{parse[0]['heavy'] or 'none'}")  # fmt: skip
    if parse[0]["heavy"] or (plugin > GOAL_MS and not options.smoke):
        raise SystemExit("goal missed")


if __name__ == "__main__":
    main()
