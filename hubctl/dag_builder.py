"""DagSpec -> Airflow DAG. Every knob, tag, doc and executor_config is applied here, in one place.

Pipeline builders (hubctl.pipelines.*, named in the registry) only add tasks: they call
``new_dag(spec)`` and use it as a context manager, so every hub DAG gets the same treatment:

* retries / retry delay (exponential backoff) / execution timeout / priority weight / pool /
  queue / executor_config / the memory_limit hook are task defaults (``default_args``), so they
  land on every task;
* ``max_active_tasks`` and the schedule, read in the exchange group's timezone (``@after_close``:
  the sessions of the group's calendar, hubctl.timetables), are DAG arguments;
* tags name the pipeline, the group and the family's provider/asset/domain; ``doc_md`` shows the
  resolved configuration, its version and who changed it last.

Of the pipelines it imports only the registry (``hubctl.pipelines``): each family's builder is
loaded by name when a DAG is built, and builders import ``new_dag`` from here, so no import
runs the other way. What tasks use while they run is in ``hubctl.pipelines.runtime``.

``generate_dags`` is what dags/hub_dags.py calls. Each DAG is built in isolation: a failure is
reported with its reason and the other DAGs are unaffected; HUB_STRICT=1 raises afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from airflow.configuration import conf
from airflow.sdk import DAG, CronTriggerTimetable, get_parsing_context

from hubctl.errors import ValidationError
from hubctl.memory_limit import MemoryLimit
from hubctl.registry import PipelineFamily, get_family
from hubctl.settings import Settings, get_settings
from hubctl.shards import Shard, record_build_time, shard_for_file, shard_of_group
from hubctl.specs import DagSpec, LoadResult, Rejected, describe_error, format_utc, load_specs
from hubctl.tables import JOBS, after_close_minutes
from hubctl.timetables import TradingSessionsTimetable

log = logging.getLogger(__name__)

# Presets become cron expressions so that they too are read in the group's timezone.
PRESET_CRONS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
RETRY_BACKOFF_MULTIPLIER = 2.0
# The container the Kubernetes executor runs a task in is always called "base".
POD_CONTAINER = "base"


@dataclass
class BuildResult:
    dags: dict[str, DAG] = field(default_factory=dict)
    failures: list[Rejected] = field(default_factory=list)
    # Per parse unit: unit, seconds, dags, dagbag_import_timeout (see hubctl.shards).
    unit_times: list[dict[str, Any]] = field(default_factory=list)


# ------------------------------------------------------------------------------------------
# The parse entry point
# ------------------------------------------------------------------------------------------


def generate_dags(
    settings: Settings | None = None, *, shard_file: str | None = None
) -> dict[str, DAG]:
    """The DAGs for this parse, by dag_id: what an entry file puts in its globals.

    ``shard_file`` (the entry file's ``__file__``) names the parse unit; without it, or for
    hub_dags.py, every job is built. A worker running a task (parsing context dag_id set) reads
    and builds only that DAG. A full build records its time for `hubctl doctor`.
    """
    settings = settings or get_settings()
    shard = shard_for_file(shard_file)
    dag_id = get_parsing_context().dag_id
    started = time.perf_counter()
    loaded = load_specs(settings, dag_id=dag_id, shard=shard)
    built = build_dags(loaded.specs)
    if dag_id is None:
        record_build_time(
            settings,
            shard,
            seconds=time.perf_counter() - started,
            dags=len(built.dags),
            import_timeout=import_timeout(),
        )
    failures = [*loaded.rejected, *built.failures]
    report_failures(failures)
    if failures and settings.strict:
        raise ValidationError(strict_message(failures, built))
    return built.dags


def import_timeout() -> float:
    """Airflow's [core] dagbag_import_timeout in force for this process."""
    return conf.getfloat("core", "dagbag_import_timeout")


def report_failures(failures: Iterable[Rejected]) -> None:
    for failure in failures:
        log.error("skipping DAG %s: %s", failure.dag_id, failure.reason)
        if failure.detail:
            log.debug("%s", failure.detail)


def strict_message(failures: list[Rejected], built: BuildResult) -> str:
    listed = "; ".join(f"{failure.dag_id}: {failure.reason}" for failure in failures)
    return (
        f"HUB_STRICT=1: {len(failures)} configuration row(s) produced no DAG"
        f" ({len(built.dags)} built): {listed}"
    )


def check_all(settings: Settings | None = None) -> tuple[LoadResult, BuildResult]:
    """Build every DAG now and serialise it as the dag-processor would (`hubctl dags check`).

    Each parse unit (HUB_DAG_SHARDS) is built and timed on its own: ``built.unit_times`` holds
    what `shards.slow_unit_warnings` compares with dagbag_import_timeout.
    """
    # deferred: Airflow's serialisation costs ~1 s; the parse itself does not need it
    from airflow.serialization.serialized_objects import DagSerialization

    settings = settings or get_settings()
    loaded = load_specs(settings, save_snapshot=False)
    built = BuildResult()
    for shard, specs in specs_by_shard(loaded.specs, settings.dag_shards).items():
        started = time.perf_counter()
        unit = build_dags(specs)
        seconds = time.perf_counter() - started
        built.dags.update(unit.dags)
        built.failures.extend(unit.failures)
        built.unit_times.append(
            {"unit": shard.unit, "seconds": seconds, "dags": len(unit.dags),
             "dagbag_import_timeout": import_timeout()}
        )  # fmt: skip
    for dag_id, dag in list(built.dags.items()):
        try:
            DagSerialization.to_dict(dag)
        except Exception as error:
            built.failures.append(_failure(dag_id, "cannot be serialised: ", error))
            del built.dags[dag_id]
    return loaded, built


def specs_by_shard(specs: Iterable[DagSpec], count: int) -> dict[Shard, list[DagSpec]]:
    """The specs each parse unit builds (the same split as the SQL filter of each entry file)."""
    units: dict[Shard, list[DagSpec]] = {}
    for spec in specs:
        shard = Shard(shard_of_group(spec.exchange_group, count), count)
        units.setdefault(shard, []).append(spec)
    return units


# ------------------------------------------------------------------------------------------
# Building
# ------------------------------------------------------------------------------------------


def build_dags(specs: Iterable[DagSpec]) -> BuildResult:
    """Each spec on its own: a builder that raises costs only its own DAG."""
    result = BuildResult()
    for spec in specs:
        try:
            dag = build_dag(spec)
            if dag.dag_id in result.dags:
                raise ValueError(f"duplicate DAG id {dag.dag_id!r}")
        except Exception as error:
            result.failures.append(_failure(spec.dag_id, "", error))
        else:
            result.dags[dag.dag_id] = dag
    return result


def _failure(dag_id: str, prefix: str, error: Exception) -> Rejected:
    """A build failure: the one-line reason, and the traceback for `hubctl dags check -v`."""
    return Rejected(dag_id, prefix + describe_error(error), traceback.format_exc())


def build_dag(spec: DagSpec) -> DAG:
    """Run the pipeline family's builder and check it kept the contract (a DAG with our id)."""
    dag = builder_for(spec.dag_name)(spec)
    if not isinstance(dag, DAG) or dag.dag_id != spec.dag_id:
        raise TypeError(
            f"builder of {spec.dag_name!r} returned {dag!r}; expected a DAG with id {spec.dag_id!r}"
            " (use hubctl.families.new_dag(spec))"
        )
    return dag


@cache
def builder_for(dag_name: str) -> Callable[[DagSpec], DAG]:
    """The family's builder function, imported once per process."""
    return get_family(dag_name).load_builder()


def new_dag(spec: DagSpec) -> DAG:
    """The DAG for ``spec`` with every knob applied; builders add their tasks inside ``with``.

    auto_register=False: a builder that fails half-way must not leave a partial DAG registered;
    generate_dags returns the finished ones and the DAG file puts them in its globals.
    """
    family = get_family(spec.dag_name)
    return DAG(
        dag_id=spec.dag_id,
        description=family.description or None,
        schedule=dag_schedule(spec),
        default_args=task_defaults(spec),
        max_active_tasks=spec.max_active_tasks,
        max_active_runs=1,
        catchup=False,
        tags=tags_for(spec, family),
        doc_md=doc_md(spec, family),
        auto_register=False,
    )


def task_defaults(spec: DagSpec) -> dict[str, Any]:
    """The per-task knobs, as default_args so that every task of the DAG gets them."""
    defaults: dict[str, Any] = {
        "owner": "airflow-hub",
        "retries": spec.max_retries,
        "retry_delay": dt.timedelta(minutes=spec.retry_delay_minutes),
        "retry_exponential_backoff": RETRY_BACKOFF_MULTIPLIER,
        "execution_timeout": dt.timedelta(seconds=spec.timeout_seconds),
        "priority_weight": spec.priority,
        # absolute: the configured priority is the weight, not a sum over downstream tasks
        "weight_rule": "absolute",
        # Kubernetes enforces memory_limit on the pod; Local and Celery workers through this.
        "pre_execute": MemoryLimit(spec.memory_limit),
    }
    if kubernetes_executor_configured():
        defaults["executor_config"] = {
            "pod_override": pod_override(
                spec.cpu_request, spec.cpu_limit, spec.memory_request, spec.memory_limit
            )
        }
    if spec.params.get("pool"):
        defaults["pool"] = spec.params["pool"]
    if spec.queue is not None:
        defaults["queue"] = spec.queue
    return defaults


def dag_schedule(spec: DagSpec) -> Any:
    """The job's schedule as Airflow takes it: ``@after_close[+Nm]`` follows the trading
    sessions of the group's calendar (hubctl.timetables); anything else is a cron or preset."""
    minutes = after_close_minutes(spec.schedule) if spec.schedule else None
    if minutes is None or spec.group is None:
        return schedule_for(spec.schedule, spec.timezone)
    close = spec.group.market_close.isoformat(timespec="minutes")
    return sessions_timetable(spec.calendar, spec.timezone, close, minutes)


@lru_cache(maxsize=64)
def sessions_timetable(
    calendar: str, timezone: str, market_close: str, delay_minutes: int
) -> TradingSessionsTimetable:
    """Cached like ``schedule_for``: groups share a few calendars, and timetables are immutable."""
    return TradingSessionsTimetable(
        calendar, timezone=timezone, market_close=market_close, delay_minutes=delay_minutes
    )


@lru_cache(maxsize=64)
def schedule_for(schedule: str | None, timezone: str) -> CronTriggerTimetable | str | None:
    """A cron (or preset) read in ``timezone``; @once/@continuous and None pass through.

    Cached: jobs share a handful of (schedule, timezone) pairs, and timetables are immutable.
    """
    if schedule is None or schedule in ("@once", "@continuous"):
        return schedule
    return CronTriggerTimetable(PRESET_CRONS.get(schedule, schedule), timezone=timezone)


@cache
def kubernetes_executor_configured() -> bool:
    """Whether ``[core] executor`` names a Kubernetes executor: ``KubernetesExecutor``, an alias
    of it or a module path to a class of that name, alone, among others or in a team's list.

    Any task may name any configured executor (``executor=``), so when one of them is a
    Kubernetes executor every task carries its pod override; when none is, no task needs one and
    no parse imports the kubernetes client (~0.3 s, which a worker pays at every task start).
    Cached: Airflow's configuration is fixed for the life of a parsing process.
    """
    entries = re.split(r"[,;=]", conf.get("core", "executor"))
    return any(entry.strip().endswith("KubernetesExecutor") for entry in entries)


@lru_cache(maxsize=256)
def pod_override(cpu_request: str, cpu_limit: str, memory_request: str, memory_limit: str) -> Any:
    """cpu/memory as the ``pod_override`` a Kubernetes executor applies to the task's pod: a V1Pod
    whose ``base`` container has exactly these requests and limits.

    Cached per resource combination: most jobs share a few, and models are not free to build.
    """
    try:
        from kubernetes.client import models as k8s  # deferred: ~0.3 s, only under Kubernetes
    except ImportError as error:
        raise RuntimeError(
            "a Kubernetes executor is configured but the kubernetes client is not installed:"
            " pip install 'airflow-hub[kubernetes]'"
        ) from error
    resources = {
        "requests": {"cpu": cpu_request, "memory": memory_request},
        "limits": {"cpu": cpu_limit, "memory": memory_limit},
    }
    container = k8s.V1Container(
        name=POD_CONTAINER, resources=k8s.V1ResourceRequirements(**resources)
    )
    return k8s.V1Pod(spec=k8s.V1PodSpec(containers=[container]))


def tags_for(spec: DagSpec, family: PipelineFamily) -> list[str]:
    """Pipeline, group, then the family's provider/asset/domain tokens (no duplicates, in order)."""
    tags = [spec.dag_name, spec.exchange_group, family.provider, family.asset, family.domain]
    return list(dict.fromkeys(tag for tag in (*tags, *family.extra_tags) if tag))


def doc_md(spec: DagSpec, family: PipelineFamily) -> str:
    """What the DAG was built from, for whoever opens it in the UI."""
    rows = [("exchange group", _group_line(spec))] + [
        (field.name, _doc_value(getattr(spec, field.name))) for field in JOBS.fields if field.in_doc
    ]
    table = "\n".join(f"| {name} | {_cell(value)} |" for name, value in rows)
    return (
        f"### {spec.dag_id}\n\n{family.description}\n\n"
        f"Built by airflow-hub from configuration **version {spec.version}**, last changed by"
        f" **{spec.updated_by}** at {format_utc(spec.updated_at)}.\n\n"
        f"| setting | value |\n|---|---|\n{table}\n\n"
        f"Change it with `hubctl config set {spec.dag_name} {spec.job_name} KEY=VALUE -m WHY`;"
        " history: `hubctl audit log`."
    )


def _cell(text: str) -> str:
    """Stored text stays inside its Markdown cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _doc_value(value: Any) -> str:
    """A knob's value in a Markdown cell: JSON in code, and none for an unset one."""
    if value is None:
        return "none"
    if isinstance(value, dict):
        return f"`{json.dumps(value, sort_keys=True)}`"
    return str(value)


def _group_line(spec: DagSpec) -> str:
    group = spec.group
    if group is None:
        return "none"
    return (
        f"{group.group_name} ({group.display_name}: {', '.join(group.exchanges)};"
        f" {group.market_open:%H:%M}–{group.market_close:%H:%M} {group.primary_timezone};"
        f" version {group.version}, changed by {group.updated_by}"
        f" at {format_utc(group.updated_at)})"
    )
