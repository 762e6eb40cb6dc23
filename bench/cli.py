"""CLI start-up benchmark (issue #3): hubctl against the Airflow CLI, measured in one run.

Times, each in a fresh process, the median wall time of
  hubctl config list -o json   (a real read: connect, query, render)
  hubctl --help
  airflow version              (the cheapest Airflow CLI command)
against a real database: HUB_DATABASE_URL when set, else an embedded PostgreSQL under a temp
HUB_HOME (migrated and loaded with the defaults first, stopped at the end). One untimed run of
each command warms the OS caches and writes Python's bytecode cache, as for an installed package
(PYTHONDONTWRITEBYTECODE is dropped for the measured commands). Goal: hubctl <= 0.3 s and >= 5x faster than `airflow version`.

Usage: .venv/bin/python bench/cli.py [--runs 7] [--smoke]

--smoke runs each command once, without the warm-up: what `make test` runs (tests/test_bench.py).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BIN = Path(sys.executable).parent
GOAL_SECONDS = 0.3
GOAL_RATIO = 5.0
COMMANDS = {
    "hubctl config list -o json": [str(BIN / "hubctl"), "config", "list", "-o", "json"],
    "hubctl --help": [str(BIN / "hubctl"), "--help"],
    "airflow version": [str(BIN / "airflow"), "version"],
}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run; CPU time is the steadier figure on a busy machine."""
    cpu, started = _children_cpu(), time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - started, _children_cpu() - cpu


@contextmanager
def environment() -> Iterator[dict[str, str]]:
    """hubctl's and Airflow's environment: a loaded database and a throw-away AIRFLOW_HOME."""
    scratch = Path(tempfile.mkdtemp(prefix="hubbench"))
    # As installed for users: Python may cache bytecode (the warm-up run writes it).
    inherited = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env = {
        **inherited,
        "AIRFLOW_HOME": str(scratch / "airflow"),
        "HUBCTL_ACTOR": "bench",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    embedded = "HUB_DATABASE_URL" not in os.environ
    if embedded:
        env["HUB_HOME"] = str(scratch / "hub")
    try:
        if embedded:
            subprocess.run(
                [str(BIN / "hubctl"), "db", "upgrade"], env=env, check=True, capture_output=True
            )
            subprocess.run(
                [str(BIN / "hubctl"), "apply", "--defaults", "--yes"],
                env=env,
                check=True,
                capture_output=True,
            )
        yield env
    finally:
        if embedded:
            _stop_embedded(scratch / "hub" / "pgdata")
        shutil.rmtree(scratch, ignore_errors=True)


def _stop_embedded(pgdata: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        if pgdata.exists():
            pgserver.get_server(pgdata, cleanup_mode="stop").cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="one run, no warm-up (make test)")
    options = parser.parse_args()
    runs = 1 if options.smoke else max(options.runs, 1)
    times: dict[str, list[tuple[float, float]]] = {label: [] for label in COMMANDS}
    with environment() as env:
        for argv in [] if options.smoke else COMMANDS.values():
            run(argv, env)  # warm-up, untimed
        for _ in range(runs):  # interleaved rounds: load on the machine hits every command alike
            for label, argv in COMMANDS.items():
                times[label].append(run(argv, env))
    wall = {label: statistics.median(t[0] for t in measured) for label, measured in times.items()}
    cpu = {label: statistics.median(t[1] for t in measured) for label, measured in times.items()}
    for label, measured in times.items():
        walls = [t[0] for t in measured]
        print(
            f"{label:<28} wall median {wall[label]:6.3f} s (min {min(walls):.3f}, "
            f"max {max(walls):.3f})  CPU median {cpu[label]:6.3f} s  [{runs} runs]"
        )
    print(f"load average during the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for label in ("hubctl config list -o json", "hubctl --help"):
        ratio = wall["airflow version"] / wall[label]
        cpu_ratio = cpu["airflow version"] / cpu[label]
        verdict = "ok" if wall[label] <= GOAL_SECONDS and ratio >= GOAL_RATIO else "MISSED"
        print(
            f"{label:<28} {ratio:4.1f}x faster than airflow version by wall time, "
            f"{cpu_ratio:4.1f}x by CPU  (goal <= {GOAL_SECONDS} s and >= {GOAL_RATIO:.0f}x: {verdict})"
        )


if __name__ == "__main__":
    main()
