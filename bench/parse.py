"""Parse-time benchmark of the generator (issue #4): ratios measured in one run.

For N jobs it times a DagBag parse of
  (a) the generator file (hubctl/dags/hub_dags.py) reading N rows from PostgreSQL (an embedded
      server under a temp HUB_HOME, read as hubctl's runtime login),
  (b) a static Python file declaring the same N DAGs with the same tasks and arguments (the floor),
  (c) dag-factory building the same N DAGs from YAML,
  (d) the generator file as a worker parses it at every task start, at the largest N: a fresh
      process that has loaded what Airflow's task runner loads before it parses, with the parsing
      context set to one dag_id; only the parse is timed (hubctl's imports included).

(a), (b) and (c) each run in their own process: one untimed parse first (imports, first
connection), then --repeats parses, each with a fresh DagBag (what a dag-processor child forked
after the pre-import of Airflow does). (d) starts a fresh process for each parse (one untimed start
first writes the bytecode cache). The variants are parsed round-robin, one parse each per round, so
a load swing on a shared machine hits them alike; each column is the median. Every variant's DAG
ids, task ids and default_args are compared, so the ratios compare equal work.

Usage: .venv/bin/python bench/parse.py [--sizes 10 100 1000] [--repeats 5] [--smoke]

With --shards N (issue #15) it measures parse units instead: for each size, the jobs spread over
max(200, N/50) exchange groups, one DagBag parse of the single file hub_dags.py (the baseline, as
Airflow parses it, under dagbag_import_timeout) and one of each of the N shard entry files, in one
warmed process; it reports the largest unit's time against dagbag_import_timeout (goal: <= 1/3).

    .venv/bin/python bench/parse.py --sizes 1000 5000 10000 --shards 16

--smoke runs the smallest size once (N = 10, one round): what `make test` runs so that a change
that breaks the bench fails there (tests/test_bench.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from cli import environment  # bench/cli.py: a migrated embedded database with the defaults

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
    default_args={default_args},
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


def shape_of(bag: Any) -> dict[str, Any]:
    """What a parse produced, as a digest: DAG ids, task ids and default_args must all match for
    the variants to be doing the same work."""
    shape = sorted(
        (dag_id, sorted(dag.task_ids), repr(sorted(dag.default_args.items())))
        for dag_id, dag in bag.dags.items()
    )
    digest = hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:12]
    return {"dags": len(bag.dags), "shape": digest}


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
    replies.write(json.dumps(shape_of(bag)) + "\n")
    for _ in sys.stdin:
        started, cpu = time.perf_counter(), time.process_time()
        DagBag(dag_folder=path)
        replies.write(f"{time.perf_counter() - started} {time.process_time() - cpu}\n")


def serve_worker(path: str) -> None:
    """One worker parse in this fresh process: what Airflow's task runner has loaded before it
    parses is imported first (untimed), then the DagBag parse of ``path`` is timed."""
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    import airflow.sdk.execution_time.task_runner  # noqa: F401  (loaded before the task's parse)
    from airflow.dag_processing.dagbag import DagBag

    started, cpu = time.perf_counter(), time.process_time()
    bag = DagBag(dag_folder=path)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if bag.import_errors:
        raise SystemExit(f"{path}: {bag.import_errors}")
    replies.write(json.dumps({**shape_of(bag), "seconds": seconds, "cpu": cpu}) + "\n")


def _start(arguments: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """A measuring process; its stderr (Airflow's logs) goes to a file, read only if it fails."""
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115  (lives as long as the process)
    process = subprocess.Popen(
        [sys.executable, __file__, *arguments],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    process.log = log  # type: ignore[attr-defined]
    return process


def _reply(process: subprocess.Popen[str], what: str) -> dict[str, Any]:
    """The next JSON line of a measuring process; the tail of its log when it has none."""
    assert process.stdout
    line = process.stdout.readline()
    if not line:
        process.wait()
        process.log.seek(0)  # type: ignore[attr-defined]
        raise SystemExit(f"measuring {what} failed:\n{process.log.read()[-3000:]}")  # type: ignore[attr-defined]
    return dict(json.loads(line))


class Variant:
    """One file under measurement, parsed in its own process (started, imported and warmed once)."""

    def __init__(self, path: Path, env: dict[str, str]) -> None:
        self.path = path
        self.process = _start(["--serve", str(path)], env)
        self.timings: list[tuple[float, float]] = []  # (wall, CPU) seconds

    def ready(self) -> dict[str, Any]:
        """Wait for the warm-up parse (started in __init__, so all variants warm up at once)."""
        self.info = _reply(self.process, str(self.path))
        return self.info

    def parse(self) -> None:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write("parse\n")
        self.process.stdin.flush()
        wall, cpu = self.process.stdout.readline().split()
        self.timings.append((float(wall), float(cpu)))

    def result(self) -> dict[str, Any]:
        assert self.process.stdin
        self.process.stdin.close()
        self.process.wait()
        return {**self.info, **medians(self.timings)}


class WorkerVariant:
    """The worker's parse: a fresh process for each parse, since each task start pays it cold.

    No warm-up of its own: (a)'s warm-up parse has written the bytecode cache it reads.
    """

    def __init__(self, path: Path, env: dict[str, str]) -> None:
        self.path, self.env = path, env
        self.timings: list[tuple[float, float]] = []  # (wall, CPU) seconds

    def ready(self) -> dict[str, Any]:
        return {}

    def parse(self) -> None:
        process = _start(["--serve-worker", str(self.path)], self.env)
        self.info = _reply(process, f"the worker parse of {self.path}")
        process.communicate()
        self.timings.append((self.info["seconds"], self.info["cpu"]))

    def result(self) -> dict[str, Any]:
        return {**self.info, **medians(self.timings)}


def medians(timings: list[tuple[float, float]]) -> dict[str, float]:
    """Wall time is what a parse costs; CPU time is the steadier figure on a busy machine."""
    return {
        "median": statistics.median(wall for wall, _ in timings),
        "cpu": statistics.median(cpu for _, cpu in timings),
    }


def measure_interleaved(
    variants: dict[str, Variant | WorkerVariant], rounds: int
) -> dict[str, dict[str, Any]]:
    """Round-robin: each round parses every variant once, so load swings hit them alike."""
    for variant in variants.values():
        variant.ready()
    for _ in range(rounds):
        for variant in variants.values():
            variant.parse()
    return {name: variant.result() for name, variant in variants.items()}


# ------------------------------------------------------------------------------------------
# The jobs and the equivalent files
# ------------------------------------------------------------------------------------------


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
    static: list[str] = []
    modules: set[str] = set()
    factory: dict[str, Any] = {}
    for index, spec in enumerate(specs):
        family = get_family(spec.dag_name)
        values = {
            "dag_id": spec.dag_id,
            "description": family.description,
            "cron": spec.schedule,
            "timezone": spec.timezone,
            "max_active_tasks": spec.max_active_tasks,
            "tags": tags_for(spec, family),
            "doc_md": doc_md(spec, family),
        }
        default_args = task_defaults(spec)
        static.append(
            STATIC_DAG.format(
                index=index,
                dag_name=spec.dag_name,
                job_name=spec.job_name,
                default_args=python_source(default_args, modules),
                **values,
            )
        )
        factory[spec.dag_id] = _factory_dag(spec, values, factory_value(default_args))
    imports = "".join(f"import {module}\n" for module in sorted(modules))
    static_file = folder / "static" / "static_dags.py"
    static_file.parent.mkdir()
    static_file.write_text(STATIC_HEADER + imports + "".join(static))
    factory_file = folder / "factory" / "factory_dags.py"
    factory_file.parent.mkdir()
    config = folder / "factory.yaml"
    config.write_text(json.dumps(factory))  # JSON is YAML
    factory_file.write_text(FACTORY_FILE.format(folder=str(folder), config=str(config)))
    return static_file, factory_file


def constructor(value: Any) -> tuple[str, dict[str, Any]]:
    """How a hand-written file rebuilds ``value``: its class's import path and keyword arguments.

    Covers what task defaults hold besides plain data: timedeltas, dataclasses (the memory-limit
    hook) and kubernetes client models (the pod override under a Kubernetes executor). Anything
    else stops the bench with a message instead of writing files that are not the same DAGs.
    """
    kind = type(value)
    if isinstance(value, dt.timedelta):
        arguments = {
            "days": value.days,
            "seconds": value.seconds,
            "microseconds": value.microseconds,
        }
    elif dataclasses.is_dataclass(value):
        arguments = {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if f.init}
    elif hasattr(kind, "openapi_types"):  # a kubernetes client model
        arguments = {name: getattr(value, name) for name in kind.openapi_types}
    else:
        raise TypeError(
            f"bench/parse.py cannot write a {kind.__module__}.{kind.__qualname__} into the static"
            " file and the YAML: teach parse.constructor how to rebuild it"
        )
    return f"{kind.__module__}.{kind.__qualname__}", {
        name: argument for name, argument in arguments.items() if argument not in (None, 0)
    }


def python_source(value: Any, modules: set[str]) -> str:
    """``value`` as a Python expression; the modules it names are added to ``modules``."""
    if isinstance(value, dict):
        items = (
            f"{python_source(k, modules)}: {python_source(v, modules)}" for k, v in value.items()
        )
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(python_source(item, modules) for item in value) + "]"
    if value is None or isinstance(value, str | int | float | bool):
        return repr(value)
    path, arguments = constructor(value)
    modules.add(path.rpartition(".")[0])
    spelled = ", ".join(
        f"{name}={python_source(item, modules)}" for name, item in arguments.items()
    )
    return f"{path}({spelled})"


def factory_value(value: Any) -> Any:
    """``value`` as dag-factory's YAML spells it (``__type__`` for an object)."""
    if isinstance(value, dict):
        return {key: factory_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [factory_value(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    path, arguments = constructor(value)
    return {"__type__": path, **factory_value(arguments)}


def _factory_dag(spec: Any, values: dict[str, Any], default_args: dict[str, Any]) -> dict[str, Any]:
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
        "default_args": default_args,
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


@contextmanager
def hub_database() -> Iterator[tuple[dict[str, str], str]]:
    """The environment of every variant (an embedded hub database with the defaults, migrated and
    loaded by hubctl itself: bench/cli.py) and the URL hubctl's runtime login reads it with."""
    from hubctl.db import resolve_database_url
    from hubctl.settings import get_settings

    with environment() as env:
        os.environ.update(env)
        get_settings.cache_clear()
        yield env, resolve_database_url()


def bench(sizes: list[int], repeats: int) -> list[dict[str, Any]]:
    with hub_database() as (env, url), tempfile.TemporaryDirectory(prefix="hubbench") as work:
        # What a parse costs, however long: dag-factory at N = 1000 passes the 30 s timeout on a
        # loaded machine (the parse-unit mode keeps the timeout: it measures against it).
        env = {**env, "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "0"}
        return [
            _bench_size(Path(work), env, url, count, repeats, worker=count == max(sizes))
            for count in sizes
        ]


def _bench_size(
    workdir: Path, env: dict[str, str], url: str, count: int, repeats: int, *, worker: bool
) -> dict[str, Any]:
    from hubctl.settings import get_settings
    from hubctl.specs import load_specs

    load_jobs(url, count)
    get_settings.cache_clear()
    specs = load_specs(save_snapshot=False).specs
    folder = workdir / f"n{count}"
    folder.mkdir()
    static_file, factory_file = write_equivalents(folder, specs)
    variants: dict[str, Variant | WorkerVariant] = {
        "a": Variant(GENERATOR_FILE, env),
        "b": Variant(static_file, env),
        "c": Variant(factory_file, env),
    }
    if worker:
        context = {**env, "_AIRFLOW_PARSING_CONTEXT_DAG_ID": specs[len(specs) // 2].dag_id}
        variants["d"] = WorkerVariant(GENERATOR_FILE, context)
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
        " (d) worker, 1 DAG, fresh process | (a)/(b) | (c)/(a) | (d)/(a) | (d)/(a) by CPU |"
        " same DAGs |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        a, b, c, d = (row.get(key) for key in "abcd")
        assert a and b and c
        same = a["shape"] == b["shape"] == c["shape"] and a["dags"] == row["n"]
        worker_share = f"{d['median'] / a['median']:.1%}" if d else "–"
        worker_cpu = f"{d['cpu'] / a['cpu']:.1%}" if d else "–"
        lines.append(
            f"| {row['n']} | {_ms(a)} | {row['own'] * 1000:.0f} ms | {_ms(b)} | {_ms(c)} | {_ms(d) if d else '–'} |"
            f" {a['median'] / b['median']:.2f} | {c['median'] / a['median']:.1f} |"
            f" {worker_share} | {worker_cpu} | {'yes' if same and (not d or d['dags'] == 1) else 'NO'} |"
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

    rows = []
    with hub_database() as (env, url), tempfile.TemporaryDirectory(prefix="hubunits") as work:
        for count in sizes:
            groups = max(200, count // 50)
            load_jobs(url, count, groups)
            units = write_shard_files(Path(work) / f"units{count}", shards)
            paths = [*map(str, units), str(GENERATOR_FILE)]
            done = subprocess.run(
                [sys.executable, __file__, "--serve-units", *paths],
                env=env, capture_output=True, text=True,
            )  # fmt: skip
            if done.returncode:
                raise SystemExit(f"measuring the parse units failed:\n{done.stderr[-3000:]}")
            *parts, whole = (json.loads(line) for line in done.stdout.splitlines())
            rows.append({"n": count, "groups": groups, "whole": whole, "units": parts,
                         "timeout": import_timeout()})  # fmt: skip
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
    parser.add_argument("--smoke", action="store_true", help="N = 10, one round (make test)")
    parser.add_argument("--shards", type=int, help="measure parse units (issue #15) instead")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--serve-worker", help=argparse.SUPPRESS)
    parser.add_argument("--serve-units", nargs="+", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve:
        serve(arguments.serve)
        return
    if arguments.serve_worker:
        serve_worker(arguments.serve_worker)
        return
    if arguments.serve_units:
        serve_units(arguments.serve_units)
        return
    if arguments.smoke:
        arguments.sizes, arguments.repeats = [10], 1
    print(f"load average at the start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    if arguments.shards:
        print(report_units(bench_units(arguments.sizes, arguments.shards), arguments.shards))
        print("\ngoal: every DAG served; the largest unit <= 1/3 of dagbag_import_timeout")
        return
    rows = bench(arguments.sizes, arguments.repeats)
    print(report(rows))
    print("\ngoals at the largest N: (a)/(b) <= 1.15, (c)/(a) >= 2.5, (d)/(a) <= 5 %")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
