"""Every benchmark that needs no running Airflow stack runs in `make test`, in its smoke mode.

A change that breaks a bench (a renamed function, a new kind of task default, a privilege the
bench lacks) fails here rather than the next time someone measures. Each script runs as a user
runs it, in its own process with `--smoke` (smallest sizes, one round), against the embedded
database it starts itself; the test checks that it exits 0 and prints its ratio lines. No timing
is asserted: the figures of a smoke run mean nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.markers import AIRFLOW_PROCESSES

BENCH = Path(__file__).parents[1] / "bench"

# script and arguments -> the lines (regular expressions) its output must contain
SMOKE_RUNS = {
    "parse.py --smoke": [
        # (a)/(b), (c)/(a), (d)/(a) by wall and CPU time, "same DAGs" (ids, tasks, default_args)
        r"^\| 10 \| .* \| [\d.]+ \| [\d.]+ \| [\d.]+% \| [\d.]+% \| yes \|$",
    ],
    "parse.py --smoke --shards 2": [
        r"^\| 10 \| 200 \| [\d.]+ s \| 10 \| .* \| 10 \| \d+% of [\d.]+ s \|$",
    ],
    "audit.py --smoke": [
        r"^audit log --since 1d --group lse .* without 0007's indexes .* \([\d.]+x;",
        r"^audit verify --incremental .* \(\d+x faster than full;",
        r"^audit log -o jsonl, all entries .* \([\d.]+x\)$",
    ],
    "history_page.py --smoke": [
        r"^history last page of 100 +[\d.]+ s",
        r"^  its SQL alone: keyset [\d.]+ s, OFFSET [\d.]+ s \(\d+x\)$",
        r"^history first page, group=us_markets \(quiet\) [\d.]+ s",
        r"^history first page, group=\w+ \(busy\) [\d.]+ s",
        r"^api/jobs +[\d.]+ s",
    ],
    "cli.py --smoke": [
        r"^hubctl config list -o json .* faster than airflow version by wall time",
        r"^hubctl --help .* faster than airflow version by wall time",
    ],
    "ingest.py --smoke": [
        r"^\| \*\*ours: validate \+ upsert\*\* \| .* \| [\d.]+ \|",
        r"^goal \(>= 0.5 of a raw COPY into an empty table\): ours / COPY .* = [\d.]+;",
    ],
    "metrics.py --smoke": [
        r"^scrape at 50 jobs, 10 open alerts, .*: [\d.]+ s \(reads [\d.]+ s\) \(goal <= 0.5 s: \w+\)$",
        r"^ratio: [\d.]+x the defaults' scrape$",
    ],
    "monitor.py --smoke": [
        r"^statements per run at 200 / at 20 jobs \(10 changed\): [\d.]+$",
        r"^api_calls per run at 200 / at 20 jobs \(10 changed\): [\d.]+$",
        r"^goal: <= 10 s per run at 200 jobs, all changed: [\d.]+ s$",
    ],
    "bounded_statements.py --smoke": [r"^ratio: [\d.]+x, cost per statement: -?\d+ us$"],
    "plugin_start.py --smoke": [
        r"^the plugin's share of it .* of the start; goal",
        r"^dag-processor: importing hubctl.plugin: .* heavy modules pulled in: none$",
    ],
}
# It starts Airflow's api-server: like the stack tests, it joins their xdist group, so that two
# Airflow servers never share the two cores. The others run beside the stacks, as any test does.
STARTS_AIRFLOW = {"plugin_start.py --smoke"}
NEEDS_A_STACK = {
    "latency.py": "starts `hubctl up` (scheduler, dag-processor, api-server, listener)",
    "scheduler.py": "starts `hubctl up` and runs two DAGs through a real scheduler",
    "page.py": "starts `hubctl up` and drives the Markets page in Chromium",
}


def test_every_bench_script_has_a_smoke_run_or_a_reason_to_have_none() -> None:
    smoked = {command.split()[0] for command in SMOKE_RUNS}
    scripts = {path.name for path in BENCH.glob("*.py")}
    assert smoked.isdisjoint(NEEDS_A_STACK) and set(SMOKE_RUNS) >= STARTS_AIRFLOW
    assert scripts == smoked | set(NEEDS_A_STACK)


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(command, marks=[AIRFLOW_PROCESSES] if command in STARTS_AIRFLOW else [])
        for command in sorted(SMOKE_RUNS)
    ],
)
def test_the_bench_runs_and_prints_its_ratios(command: str) -> None:
    script, *arguments = command.split()
    # The bench picks its own database and Airflow home; nothing of this session's may leak in.
    env = {name: value for name, value in os.environ.items() if not name.startswith("HUB_")}
    env["HUBCTL_ACTOR"] = "bench"
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    for expected in SMOKE_RUNS[command]:
        assert re.search(expected, done.stdout, re.MULTILINE), (expected, done.stdout)
