"""Parse-time benchmark of the generator (issue #4): ratios measured in one run.

For N jobs it times a DagBag parse of
  (a) the generator file (hubctl/dags/hub_dags.py) reading N rows from PostgreSQL (an embedded
      server in a temp dir),
  (b) a static Python file declaring the same N DAGs with the same tasks and arguments (the floor),
  (c) dag-factory building the same N DAGs from YAML,
  (d) the generator file as a worker parses it (parsing context set to one dag_id), at the largest N.

Each variant runs in its own fresh process: one untimed parse first (imports, first connection),
then --repeats parses, each with a fresh DagBag (what a dag-processor child forked after the
pre-import of Airflow does). The variants are parsed round-robin, one parse each per round, so a
load swing on a shared machine hits them alike; each column is the median. Every variant's DAG ids
and task ids are compared, so the ratios compare equal work.

Usage: .venv/bin/python bench/parse.py [--sizes 10 100 1000] [--repeats 5]

With --shards N (issue #15) it measures parse units instead: for each size, the jobs spread over
max(200, N/50) exchange groups, one DagBag parse of the single file hub_dags.py (the baseline, as
Airflow parses it, under dagbag_import_timeout) and one of each of the N shard entry files, in one
warmed process; it reports the largest unit's time against dagbag_import_timeout (goal: <= 1/3).

    .venv/bin/python bench/parse.py --sizes 1000 5000 10000 --shards 16
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hubctl.paths import DAGS_FOLDER

GENERATOR_FILE = DAGS_FOLDER / "hub_dags.py"
GROUPS = ("us_markets", "lse", "german_markets", "european_markets")
SCHEDULES = ("30 17 * * 1-5", "0 17 * * 1-5", "0 18 * * 1-5", "0 18 * * 1-5")

# The tasks of data_collection_equities as plain callables, for the static file and dag-factory.
TASKS_MODULE = """
from hubctl.pipelines.collection import collect as _collect
from hubctl.pipelines.collection import report as _report
from hubctl.pipelines.runtime import load_config as _load_config
from hubctl.pipelines.tasks import get_tickers as _get_tickers
from hubctl.pipelines.tasks import validate_tickers as _validate_tickers

load_config = _load_config.function
get_tickers = _get_tickers.function
validate_tickers = _validate_tickers.function
collect = _collect.function
report = _report.function
"""
STATIC_HEADER = """import datetime

from airflow.sdk import DAG, CronTriggerTimetable, TaskGroup

from hubctl.pipelines.collection import collect, report
from hubctl.pipelines.runtime import load_config
from hubctl.pipelines.tasks import TriggerIndicators, get_tickers, validate_tickers
"""
STATIC_DAG = """
with DAG(
    dag_id={dag_id!r},
    description={description!r},
    schedule=CronTriggerTimetable({cron!r}, timezone={timezone!r}),
    default_args={default_args!r},
    max_active_tasks={max_active_tasks!r},
    max_active_runs=1,
    catchup=False,
    tags={tags!r},
    doc_md={doc_md!r},
) as dag_{index}:
    config = load_config({dag_name!r}, {job_name!r})
    with TaskGroup("prepare"):
        batches = validate_tickers(get_tickers(config), config)
    with TaskGroup("batches"):
        reports = (
            collect.override(
                max_active_tis_per_dag={max_active_tasks!r}, map_index_template="{{{{ batch_label }}}}"
            )
            .partial(config=config)
            .expand(batch=batches)
        )
    with TaskGroup("publish"):
        summary = report(reports, batches["rejected"], config)
        summary >> TriggerIndicators(
            task_id="trigger_indicators",
            trigger_dag_id="calculate_indicators__all",
            conf={{"security_ids": summary["security_ids"]}},
            logical_date=None,
        )
"""
FACTORY_FILE = """import sys

sys.path.insert(0, {folder!r})

from dagfactory import load_yaml_dags  # airflow DAG factory

load_yaml_dags(globals_dict=globals(), config_filepath={config!r})
"""


# ------------------------------------------------------------------------------------------
# Measuring one variant (runs in its own process)
# ------------------------------------------------------------------------------------------


def serve(path: str) -> None:
    """A measuring process for one file: parse once (warm-up), then once per "parse" on stdin.

    Replies go to the original stdout; everything else (Airflow's logs) is sent to stderr.
    """
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=path)
    if bag.import_errors:
        raise SystemExit(f"{path}: {bag.import_errors}")
    shape = sorted((dag_id, sorted(dag.task_ids)) for dag_id, dag in bag.dags.items())
    digest = hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:12]
    replies.write(json.dumps({"dags": len(bag.dags), "shape": digest}) + "\n")
    for _ in sys.stdin:
        started = time.perf_counter()
        DagBag(dag_folder=path)
        replies.write(f"{time.perf_counter() - started}\n")


class Variant:
    """One file under measurement, parsed in its own process (started, imported and warmed once)."""

    def __init__(self, path: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(path)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdin and self.process.stdout
        self.stdin, self.stdout = self.process.stdin, self.process.stdout
        ready = self.stdout.readline()
        if not ready:
            raise SystemExit(f"measuring {path} failed (run: python bench/parse.py --serve {path})")
        self.info: dict[str, Any] = json.loads(ready)
        self.timings: list[float] = []

    def parse(self) -> None:
        self.stdin.write("parse\n")
        self.stdin.flush()
        self.timings.append(float(self.stdout.readline()))

    def result(self) -> dict[str, Any]:
        self.stdin.close()
        self.process.wait()
        return {**self.info, "median": statistics.median(self.timings)}


def measure_interleaved(variants: dict[str, Variant], rounds: int) -> dict[str, dict[str, Any]]:
    """Round-robin: each round parses every variant once, so load swings hit them alike."""
    for _ in range(rounds):
        for variant in variants.values():
            variant.parse()
    return {name: variant.result() for name, variant in variants.items()}


# ------------------------------------------------------------------------------------------
# The database and the equivalent files
# ------------------------------------------------------------------------------------------


def start_database(workdir: Path) -> tuple[Any, str]:
    import pgserver
    import sqlalchemy as sa

    from hubctl import configfile, migrations
    from hubctl.db import Database
    from hubctl.services import documents

    server = pgserver.get_server(workdir / "pg", cleanup_mode="stop")
    url = sa.make_url(server.get_uri()).set(drivername="postgresql+psycopg2")
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    migrations.upgrade(engine)
    engine.dispose()
    address = url.render_as_string(hide_password=False)
    documents.apply_document(
        Database(address), configfile.load_defaults(), actor="bench", reason="bench"
    )
    return server, address


def load_jobs(url: str, count: int, groups: int = 0, *, replace: bool = True) -> None:
    """Replace every job (or, with replace=False, add to them) ``count`` collection jobs spread
    over the four default groups, or over ``groups`` synthetic exchange groups (g0001, ...;
    LSE's hours) when ``groups`` is set."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.NullPool)
    names = [f"g{number:04d}" for number in range(1, groups + 1)] or list(GROUPS)
    with engine.begin() as conn:
        if replace:
            conn.execute(sa.text("DELETE FROM hub.dag_configuration"))
        conn.execute(
            sa.text(
                "INSERT INTO hub.exchange_groups (group_name, display_name, exchanges,"
                " primary_timezone, market_open, market_close)"
                " SELECT name, 'Synthetic ' || name, ARRAY['LSE'], 'Europe/London', '08:00',"
                " '16:30' FROM unnest(CAST(:names AS text[])) AS name ON CONFLICT DO NOTHING"
            ),
            {"names": names},
        )
        conn.execute(
            sa.text(
                "INSERT INTO hub.dag_configuration"
                " (dag_name, job_name, exchange_group, schedule, priority, params)"
                " SELECT 'data_collection_equities', 'job_' || lpad(n::text, 5, '0'),"
                " (:groups)[1 + n % :group_count], (:schedules)[1 + n % 4], 1 + n % 10,"
                ' \'{"source": "sample"}\'::jsonb FROM generate_series(1, :count) AS n'
            ),
            {"groups": names, "group_count": len(names), "schedules": list(SCHEDULES),
             "count": count},
        )  # fmt: skip
    engine.dispose()


def write_equivalents(folder: Path, specs: list[Any]) -> tuple[Path, Path]:
    """The same DAGs as a static Python file and as dag-factory YAML (+ its loader file)."""
    from hubctl.dag_builder import doc_md, tags_for, task_defaults
    from hubctl.registry import get_family

    (folder / "bench_tasks.py").write_text(TASKS_MODULE)
    static, factory = [STATIC_HEADER], {}
    for index, spec in enumerate(specs):
        family = get_family(spec.dag_name)
        values = {
            "dag_id": spec.dag_id,
            "description": family.description,
            "cron": spec.schedule,
            "timezone": spec.timezone,
            "default_args": _plain_pod_override(task_defaults(spec)),
            "max_active_tasks": spec.max_active_tasks,
            "tags": tags_for(spec, family),
            "doc_md": doc_md(spec, family),
        }
        static.append(
            STATIC_DAG.format(index=index, dag_name=spec.dag_name, job_name=spec.job_name, **values)
        )
        factory[spec.dag_id] = _factory_dag(spec, values)
    static_file = folder / "static" / "static_dags.py"
    static_file.parent.mkdir()
    static_file.write_text("".join(static))
    factory_file = folder / "factory" / "factory_dags.py"
    factory_file.parent.mkdir()
    config = folder / "factory.yaml"
    config.write_text(json.dumps(factory))  # JSON is YAML
    factory_file.write_text(FACTORY_FILE.format(folder=str(folder), config=str(config)))
    return static_file, factory_file


def _plain_pod_override(defaults: dict[str, Any]) -> dict[str, Any]:
    """The pod override as plain data (a V1Pod when the kubernetes client is installed), so the
    static file and the YAML can spell it: the same resources, written as a literal."""
    pod = defaults["executor_config"]["pod_override"]
    if not isinstance(pod, dict):
        from kubernetes.client import ApiClient

        pod = ApiClient().sanitize_for_serialization(pod)
    return {**defaults, "executor_config": {"pod_override": pod}}


def _factory_dag(spec: Any, values: dict[str, Any]) -> dict[str, Any]:
    defaults = dict(values["default_args"])
    for key in ("retry_delay", "execution_timeout"):
        defaults[key] = {"__type__": "datetime.timedelta", "seconds": defaults[key].total_seconds()}

    def python_task(name: str, **arguments: Any) -> dict[str, Any]:
        return {
            "decorator": "airflow.sdk.task",
            "python_callable": f"bench_tasks.{name}",
            **arguments,
        }

    return {
        "description": values["description"],
        "schedule": {
            "__type__": "airflow.sdk.CronTriggerTimetable",
            "__args__": [values["cron"]],
            "timezone": values["timezone"],
        },
        "default_args": defaults,
        "max_active_tasks": values["max_active_tasks"],
        "max_active_runs": 1,
        "catchup": False,
        "tags": values["tags"],
        "doc_md": values["doc_md"],
        "task_groups": {"prepare": {}, "batches": {}, "publish": {}},
        "tasks": {
            "load_config": python_task(
                "load_config", dag_name=spec.dag_name, job_name=spec.job_name
            ),
            "get_tickers": python_task(
                "get_tickers", config="+load_config", task_group_name="prepare"
            ),
            "validate_tickers": python_task(
                "validate_tickers",
                tickers="+get_tickers",
                config="+load_config",
                task_group_name="prepare",
            ),
            "collect": python_task(
                "collect",
                task_group_name="batches",
                max_active_tis_per_dag=values["max_active_tasks"],
                map_index_template="{{ batch_label }}",
                partial={"config": "+load_config"},
                expand={"batch": "+validate_tickers"},
            ),
            "report": python_task(
                "report",
                batches="+collect",
                rejected=None,
                config="+load_config",
                multiple_outputs=True,
                task_group_name="publish",
            ),
            "trigger_indicators": {
                "operator": "airflow.providers.standard.operators.trigger_dagrun.TriggerDagRunOperator",
                "trigger_dag_id": "calculate_indicators__all",
                "conf": {
                    "security_ids": "{{ ti.xcom_pull('publish.report', key='security_ids') }}"
                },
                "logical_date": None,
                # no "dependencies": dag-factory 1.1 cannot name a decorated task of a task group
                # there (KeyError); one edge less does not change what a parse costs
                "task_group_name": "publish",
            },
        },
    }


# ------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------


def bench(sizes: list[int], repeats: int) -> list[dict[str, Any]]:
    workdir = Path(tempfile.mkdtemp(prefix="hubbench"))
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(workdir / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "HUB_HOME": str(workdir / "hub"),
    }
    os.environ.update(env)
    server, url = start_database(workdir)
    env["HUB_DATABASE_URL"] = os.environ["HUB_DATABASE_URL"] = url
    results = []
    try:
        for count in sizes:
            results.append(_bench_size(workdir, env, count, repeats, worker=count == max(sizes)))
    finally:
        server.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def _bench_size(
    workdir: Path, env: dict[str, str], count: int, repeats: int, *, worker: bool
) -> dict[str, Any]:
    from hubctl.settings import get_settings
    from hubctl.specs import load_specs

    load_jobs(env["HUB_DATABASE_URL"], count)
    get_settings.cache_clear()
    specs = load_specs(save_snapshot=False).specs
    folder = workdir / f"n{count}"
    folder.mkdir()
    static_file, factory_file = write_equivalents(folder, specs)
    variants = {
        "a": Variant(GENERATOR_FILE, env),
        "b": Variant(static_file, env),
        "c": Variant(factory_file, env),
    }
    if worker:
        context = {**env, "_AIRFLOW_PARSING_CONTEXT_DAG_ID": specs[len(specs) // 2].dag_id}
        variants["d"] = Variant(GENERATOR_FILE, context)
    row: dict[str, Any] = {"n": count, "own": _own_share(repeats)}
    row.update(measure_interleaved(variants, repeats))
    return row


def _own_share(repeats: int) -> float:
    """hubctl's own work in (a) before Airflow builds anything: query, validation, snapshot."""
    from hubctl.specs import load_specs

    load_specs()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        load_specs()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def report(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| N | (a) generator | of which read+validate+snapshot | (b) static floor | (c) dag-factory |"
        " (d) worker, 1 DAG | (a)/(b) | (c)/(a) | (d)/(a) | same DAGs |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        a, b, c, d = (row.get(key) for key in "abcd")
        assert a and b and c
        same = a["shape"] == b["shape"] == c["shape"] and a["dags"] == row["n"]
        worker_share = f"{d['median'] / a['median']:.1%}" if d else "–"
        lines.append(
            f"| {row['n']} | {_ms(a)} | {row['own'] * 1000:.0f} ms | {_ms(b)} | {_ms(c)} | {_ms(d) if d else '–'} |"
            f" {a['median'] / b['median']:.2f} | {c['median'] / a['median']:.1f} |"
            f" {worker_share} | {'yes' if same else 'NO'} |"
        )
    return "\n".join(lines)


def _ms(result: dict[str, Any]) -> str:
    return f"{result['median'] * 1000:.0f} ms"


def serve_units(paths: list[str]) -> None:
    """One warmed process: parse each file once with a DagBag; one JSON line per file."""
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    from airflow.dag_processing.dagbag import DagBag

    DagBag(dag_folder=paths[0])  # warm-up: imports, first connection
    for path in paths:
        started = time.perf_counter()
        bag = DagBag(dag_folder=path)
        seconds = time.perf_counter() - started
        reply = {"file": Path(path).name, "seconds": seconds, "dags": len(bag.dags),
                 "import_error": bool(bag.import_errors)}  # fmt: skip
        replies.write(json.dumps(reply) + "\n")


def bench_units(sizes: list[int], shards: int) -> list[dict[str, Any]]:
    from hubctl.dag_builder import import_timeout
    from hubctl.shards import write_shard_files

    workdir = Path(tempfile.mkdtemp(prefix="hubunits"))
    env = {**os.environ, "AIRFLOW_HOME": str(workdir / "airflow"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "HUB_HOME": str(workdir / "hub")}  # fmt: skip
    server, url = start_database(workdir)
    env["HUB_DATABASE_URL"] = url
    rows = []
    try:
        for count in sizes:
            groups = max(200, count // 50)
            load_jobs(url, count, groups)
            units = write_shard_files(workdir / f"units{count}", shards)
            paths = [*map(str, units), str(GENERATOR_FILE)]
            done = subprocess.run(
                [sys.executable, __file__, "--serve-units", *paths],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=True,
            )  # fmt: skip
            *parts, whole = (json.loads(line) for line in done.stdout.splitlines())
            rows.append({"n": count, "groups": groups, "whole": whole, "units": parts,
                         "timeout": import_timeout()})  # fmt: skip
    finally:
        server.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)
    return rows


def report_units(rows: list[dict[str, Any]], shards: int) -> str:
    lines = [
        f"| jobs | groups | one file: parse | one file: DAGs | {shards} units: largest |"
        " smallest | DAGs served | largest / dagbag_import_timeout |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        whole, units = row["whole"], row["units"]
        largest = max(units, key=lambda unit: unit["seconds"])
        smallest = min(unit["seconds"] for unit in units)
        served = sum(unit["dags"] for unit in units)
        whole_text = (
            "import error (timeout)" if whole["import_error"] else f"{whole['seconds']:.1f} s"
        )
        lines.append(
            f"| {row['n']} | {row['groups']} | {whole_text} | {whole['dags']} |"
            f" {largest['seconds']:.2f} s ({largest['dags']} DAGs) | {smallest:.2f} s | {served} |"
            f" {largest['seconds'] / row['timeout']:.0%} of {row['timeout']:g} s |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--shards", type=int, help="measure parse units (issue #15) instead")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--serve-units", nargs="+", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve:
        serve(arguments.serve)
        return
    if arguments.serve_units:
        serve_units(arguments.serve_units)
        return
    if arguments.shards:
        print(report_units(bench_units(arguments.sizes, arguments.shards), arguments.shards))
        print("\ngoal: every DAG served; the largest unit <= 1/3 of dagbag_import_timeout")
        return
    rows = bench(arguments.sizes, arguments.repeats)
    print(report(rows))
    print("\ngoals at the largest N: (a)/(b) <= 1.15, (c)/(a) >= 2.5, (d)/(a) <= 5 %")


if __name__ == "__main__":
    main()
