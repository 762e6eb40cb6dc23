"""Configuration rows -> validated DagSpecs, with a last-known-good snapshot. No Airflow here.

The DAG file calls this at every parse (through hubctl.dag_builder), and `hubctl dags list`
calls it without Airflow. The rules it keeps:

* one read-only query per parse; a worker running one task reads only that task's row;
* every row is validated on its own, so one bad row is rejected with a reason and hides nothing;
* after a successful full read the valid specs are written atomically to a snapshot (only when
  they changed; otherwise the file's mtime is touched so its age says when the database was last
  read); when the database cannot be read, the snapshot is used instead and one warning names its
  age. A database outage therefore never changes the set of DAGs, and with neither a database nor
  a snapshot there is one clear error.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from hubctl.calendars import WEEKDAY, known_calendars
from hubctl.db import Database
from hubctl.errors import DatabaseUnavailableError, HubError, NotFoundError, ValidationError
from hubctl.registry import validate_params
from hubctl.repository.jobs import GROUP_PREFIX, read_enabled_jobs
from hubctl.schemas import ExchangeGroupRecord, JobRecord
from hubctl.settings import Settings, get_settings
from hubctl.shards import WHOLE, Shard

log = logging.getLogger(__name__)

DAG_ID_SEPARATOR = "__"
SNAPSHOT_FORMAT = 1
Source = Literal["database", "snapshot"]


class DagSpec(JobRecord):
    """Everything a builder needs for one DAG: the job's knobs, its group, and its bookkeeping.

    ``params`` holds the pipeline's params as its model resolved them (defaults filled in), so
    doc_md and the snapshot show exactly what the DAG was built with.
    """

    model_config = ConfigDict(frozen=True)

    group: ExchangeGroupRecord | None = None

    @property
    def dag_id(self) -> str:
        return dag_id_for(self.dag_name, self.job_name)

    @property
    def timezone(self) -> str:
        """The timezone the schedule is read in: the group's, UTC for a job without a group."""
        return self.group.primary_timezone if self.group else "UTC"

    @property
    def calendar(self) -> str:
        """The trading calendar of the job's group (hubctl.calendars); weekday without a group."""
        return (self.group.calendar if self.group else None) or WEEKDAY

    @property
    def exchanges(self) -> list[str]:
        """The exchanges the job covers: its group's, none for a job without a group."""
        return list(self.group.exchanges) if self.group else []


@dataclass(frozen=True)
class Rejected:
    """A configuration row (or snapshot entry) that produced no DAG, and why."""

    dag_id: str
    reason: str
    detail: str = field(default="", compare=False)  # a traceback, for a builder's bugs


@dataclass(frozen=True)
class LoadResult:
    specs: list[DagSpec]
    rejected: list[Rejected]
    source: Source
    snapshot_age: dt.timedelta | None = None


_SPECS = TypeAdapter(list[DagSpec])


def dag_id_for(dag_name: str, job_name: str) -> str:
    return f"{dag_name}{DAG_ID_SEPARATOR}{job_name}"


def candidate_keys(dag_id: str) -> list[tuple[str, str]]:
    """Every (dag_name, job_name) that could have produced ``dag_id``.

    Slugs may contain ``__`` themselves, so each split point is a candidate; the primary key
    lookup then finds the real one (normally exactly one candidate exists).
    """
    keys = []
    start = dag_id.find(DAG_ID_SEPARATOR)
    while start > 0:
        dag_name, job_name = dag_id[:start], dag_id[start + len(DAG_ID_SEPARATOR) :]
        if job_name:
            keys.append((dag_name, job_name))
        start = dag_id.find(DAG_ID_SEPARATOR, start + 1)
    return keys


# ------------------------------------------------------------------------------------------
# Rows -> specs
# ------------------------------------------------------------------------------------------


def spec_from_row(row: Mapping[str, Any]) -> DagSpec:
    """One query row (job columns + ``group_*`` columns) as a validated spec.

    Raises hubctl.errors.ValidationError (unknown pipeline, bad params) or pydantic's
    ValidationError (a value the schema rejects, e.g. one stored with a constraint dropped).
    """
    job = {key: value for key, value in row.items() if not key.startswith(GROUP_PREFIX)}
    group = {
        key.removeprefix(GROUP_PREFIX): value
        for key, value in row.items()
        if key.startswith(GROUP_PREFIX)
    }
    job["params"] = validate_params(job["dag_name"], job["params"]).model_dump(mode="json")
    job["group"] = group if group.get("group_name") is not None else None
    return DagSpec.model_validate(job)


def describe_error(error: Exception) -> str:
    """A one-line reason: each pydantic problem as ``field: message``, else the error's text."""
    if isinstance(error, PydanticValidationError):
        return "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'row'}: {problem['msg']}"
            for problem in error.errors()
        )
    if isinstance(error, HubError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def validate_rows(rows: Iterable[Mapping[str, Any]]) -> tuple[list[DagSpec], list[Rejected]]:
    """Each row on its own: a bad one is rejected with its reason, the others are unaffected."""
    return _validate_each(rows, _spec_with_known_calendar)


def _spec_with_known_calendar(row: Mapping[str, Any]) -> DagSpec:
    """``spec_from_row``, refusing a group calendar exchange_calendars does not know (one written
    by raw SQL: its DAG would build, then its timetable would fail and it would never run)."""
    spec = spec_from_row(row)
    if spec.calendar != WEEKDAY and spec.calendar not in known_calendars():
        raise ValidationError(
            f"calendar: {spec.calendar!r} is not an exchange_calendars name (e.g. XNYS, XLON)"
        )
    return spec


def _validate_each(
    items: Iterable[Mapping[str, Any]], convert: Callable[[Mapping[str, Any]], DagSpec]
) -> tuple[list[DagSpec], list[Rejected]]:
    specs: list[DagSpec] = []
    rejected: list[Rejected] = []
    for item in items:
        try:
            specs.append(convert(item))
        except (HubError, PydanticValidationError, KeyError, TypeError, AttributeError) as error:
            rejected.append(Rejected(_item_dag_id(item), describe_error(error)))
    return specs, rejected


def _item_dag_id(item: Mapping[str, Any]) -> str:
    return dag_id_for(str(item.get("dag_name")), str(item.get("job_name")))


# ------------------------------------------------------------------------------------------
# The read, and the fallback
# ------------------------------------------------------------------------------------------


def load_specs(
    settings: Settings | None = None,
    *,
    dag_id: str | None = None,
    save_snapshot: bool = True,
    shard: Shard = WHOLE,
) -> LoadResult:
    """The specs to build now: from the database, else from the last-known-good snapshot.

    With ``dag_id`` (a worker running one task) only that job is read, and the snapshot is neither
    written (it would hold one job) nor read beyond that entry. ``save_snapshot=False`` is for
    read-only callers such as `hubctl dags list`. ``shard`` keeps one parse unit's jobs, with its
    own snapshot.
    """
    settings = settings or get_settings()
    only = None if dag_id is None else candidate_keys(dag_id)
    snapshot_path = shard.snapshot_path(settings.resolved_snapshot_path)
    try:
        rows = _read(settings, only, shard)
    except Exception as error:  # any failure to read is an outage: never lose the DAGs over it
        return _from_snapshot(snapshot_path, dag_id, error)
    specs, rejected = validate_rows(rows)
    if only is None and save_snapshot:
        write_snapshot(snapshot_path, specs)
    return LoadResult(specs, rejected, "database")


def live_spec(dag_name: str, job_name: str, settings: Settings | None = None) -> DagSpec:
    """The job's configuration as it is now, for a task that records what its run used.

    Raises NotFoundError when the job is gone or disabled (or its group is) since the run started.
    """
    rows = _read(settings or get_settings(), [(dag_name, job_name)])
    if not rows:
        raise NotFoundError(
            f"{dag_id_for(dag_name, job_name)}: no enabled job (or its exchange group is disabled)"
        )
    return spec_from_row(rows[0])


def _read(
    settings: Settings, only: list[tuple[str, str]] | None, shard: Shard = WHOLE
) -> list[dict[str, Any]]:
    """One read-only transaction on a fresh connection: every parse sees every committed change."""
    with Database.reader(settings).connect() as conn:
        return read_enabled_jobs(
            conn,
            statement_timeout_ms=settings.statement_timeout_ms,
            only=only,
            shard=None if shard.count == 1 else (shard.index, shard.count),
        )


def _from_snapshot(path: Path, dag_id: str | None, error: Exception) -> LoadResult:
    reason = (describe_error(error).strip().splitlines() or [type(error).__name__])[0]
    snapshot = read_snapshot(path)
    if snapshot is None:
        raise DatabaseUnavailableError(
            f"cannot build the hub DAGs: the configuration database is unreachable ({reason}) and"
            f" there is no usable snapshot at {path}. Check HUB_DATABASE_URL /"
            " HUB_READER_DATABASE_URL; the snapshot is written after the first successful read."
        ) from error
    entries, age = snapshot
    if dag_id is not None:
        entries = [entry for entry in entries if _item_dag_id(entry) == dag_id]
    specs, rejected = _validate_each(entries, DagSpec.model_validate)
    log.warning(
        "hub configuration database unreachable (%s): building %d DAG(s) from the"
        " last-known-good snapshot %s, %s old",
        reason,
        len(specs),
        path,
        format_age(age),
    )
    return LoadResult(specs, rejected, "snapshot", age)


# ------------------------------------------------------------------------------------------
# Snapshot
# ------------------------------------------------------------------------------------------


def snapshot_content(specs: Sequence[DagSpec]) -> bytes:
    """The snapshot's bytes: deterministic for the same specs, so a digest tells a change."""
    return b'{"format": %d, "specs": ' % SNAPSHOT_FORMAT + _SPECS.dump_json(list(specs)) + b"}"


def write_snapshot(path: Path, specs: Sequence[DagSpec]) -> bool:
    """Atomically replace the snapshot when the specs changed; touch it when they did not.

    Returns whether the file was written. The comparison is with the file itself, not a digest
    kept in memory, because several processes (dag-processors, schedulers) may write it. A failure
    is logged, never raised: the snapshot only matters for a later outage, and this parse has its
    configuration already.
    """
    content = snapshot_content(specs)
    try:
        if _file_digest(path) == hashlib.sha256(content).hexdigest():
            os.utime(path)
            return False
        problem = _snapshot_problem(path)
        if problem is not None:
            log.error(
                "ignoring the configuration snapshot %s: %s; replacing it with the configuration"
                " just read from the database",
                path,
                problem,
            )
        _atomic_write(path, content)
    except OSError as error:
        log.warning("could not write the configuration snapshot %s: %s", path, error)
        return False
    return True


def _file_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _atomic_write(path: Path, content: bytes) -> None:
    """Temp file in the same directory, fsync, rename: readers see the old or the new file, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_snapshot(path: Path) -> tuple[list[dict[str, Any]], dt.timedelta] | None:
    """The snapshot's raw entries and its age; None (logged) when missing, unreadable or corrupt.

    Entries stay raw dicts so a worker validates only the one it needs.
    """
    loaded = _load_snapshot(path)
    if isinstance(loaded, str):
        log.error("ignoring the configuration snapshot %s: %s", path, loaded)
        return None
    return loaded


def _snapshot_problem(path: Path) -> str | None:
    """Why the file at ``path`` is no usable snapshot; None when it is one, or is missing."""
    loaded = _load_snapshot(path)
    return loaded if isinstance(loaded, str) else None


def _load_snapshot(path: Path) -> tuple[list[dict[str, Any]], dt.timedelta] | str | None:
    """(entries, age); None when there is no file; the reason when the file is unusable."""
    try:
        document = json.loads(path.read_bytes())
        age = dt.timedelta(seconds=max(0.0, time.time() - path.stat().st_mtime))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        return f"unreadable ({error})"
    if not _is_snapshot(document):
        return f"not a format-{SNAPSHOT_FORMAT} snapshot"
    return document["specs"], age


def _is_snapshot(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and document.get("format") == SNAPSHOT_FORMAT
        and isinstance(document.get("specs"), list)
        and all(isinstance(entry, dict) for entry in document["specs"])
    )


def format_age(age: dt.timedelta) -> str:
    """``3d 4h``, ``2h 5m``, ``7m 12s`` or ``40s``: the two largest units are enough to act on."""
    seconds = int(age.total_seconds())
    parts: list[str] = []
    for suffix, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        value, seconds = divmod(seconds, size)
        if value or parts or suffix == "s":
            parts.append(f"{value}{suffix}")
    return " ".join(parts[:2])


def format_utc(moment: dt.datetime) -> str:
    """``2026-11-22 12:00:00 UTC``: when a job or group last changed, the same for every reader."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
