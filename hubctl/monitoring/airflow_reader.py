"""What hub_monitor reads from Airflow's REST API: finished DAG runs and slow task instances.

Every read is incremental and bounded. Each list is asked for in pages of PAGE_SIZE with the
`~` wildcards (every DAG, every run) and at most MAX_PAGES pages per read, so a run of the monitor
makes at most ``1 + 3 * MAX_PAGES`` calls (the token, then three reads) however many jobs exist.
What a capped read did not reach is read by the next run: each read continues from a cursor, the
last timestamp it saw.

- Finished runs: ``end_date_gte=<runs cursor>``, ordered by ``end_date``. A run's response has
  no ``updated_at``, so a cursor on it could not continue a read cut by the page cap; ``end_date``
  is in every response, and a cleared run that finishes again gets a new one, so it is read again.
  The run at the cursor itself is read twice (``_gte``): storing a run is idempotent.
- Running tasks that started more than the smallest ``task_minutes`` of any job ago (the rule
  then applies each job's own threshold): ``state=running&start_date_lte=<now - smallest>``.
- Finished tasks longer than the smallest threshold since the tasks cursor:
  ``duration_gte=<seconds>&end_date_gt=<tasks cursor>`` (a task counts in one evaluation only).
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from hubctl.airflow_api import PAGE_SIZE, AirflowApi

MAX_PAGES = 5
FINISHED_RUN_STATES = ("success", "failed")
RUNS_PATH = "/api/v2/dags/~/dagRuns"
TASKS_PATH = "/api/v2/dags/~/dagRuns/~/taskInstances"


@dataclass(frozen=True)
class FinishedRun:
    dag_id: str
    run_id: str
    state: str
    start_date: dt.datetime | None
    end_date: dt.datetime
    duration_seconds: float | None


@dataclass(frozen=True)
class SlowTask:
    """A task instance that ran (or is running) at least the smallest task threshold."""

    dag_id: str
    task_id: str
    run_id: str
    state: str
    minutes: float


@dataclass(frozen=True)
class Reading:
    runs: list[FinishedRun]
    tasks: list[SlowTask]
    runs_cursor: dt.datetime | None
    tasks_cursor: dt.datetime | None


class AirflowReader:
    """Reads through one AirflowApi (which counts its requests, the login included)."""

    def __init__(self, api: AirflowApi) -> None:
        self.api = api

    def read(
        self,
        *,
        runs_cursor: dt.datetime | None,
        tasks_cursor: dt.datetime | None,
        smallest_task_minutes: int,
        now: dt.datetime,
    ) -> Reading:
        runs = self.finished_runs(runs_cursor)
        running = self.running_tasks(now - dt.timedelta(minutes=smallest_task_minutes), now)
        finished, finished_cursor = self.finished_tasks(tasks_cursor, smallest_task_minutes)
        return Reading(
            runs=runs,
            tasks=running + finished,
            runs_cursor=max((run.end_date for run in runs), default=runs_cursor),
            tasks_cursor=finished_cursor,
        )

    def finished_runs(self, cursor: dt.datetime | None) -> list[FinishedRun]:
        query: dict[str, Any] = {"state": FINISHED_RUN_STATES, "order_by": "end_date"}
        if cursor is not None:
            query["end_date_gte"] = cursor.isoformat()
        return [_finished_run(item) for item in self._pages(RUNS_PATH, "dag_runs", query)]

    def running_tasks(self, started_before: dt.datetime, now: dt.datetime) -> list[SlowTask]:
        query = {
            "state": "running",
            "start_date_lte": started_before.isoformat(),
            "order_by": "start_date",
        }
        return [
            _slow_task(item, (now - _time(item["start_date"])).total_seconds())
            for item in self._pages(TASKS_PATH, "task_instances", query)
        ]

    def finished_tasks(
        self, cursor: dt.datetime | None, smallest_minutes: int
    ) -> tuple[list[SlowTask], dt.datetime | None]:
        query = {"duration_gte": str(smallest_minutes * 60), "order_by": "end_date"}
        if cursor is not None:
            query["end_date_gt"] = cursor.isoformat()
        items = list(self._pages(TASKS_PATH, "task_instances", query))
        tasks = [_slow_task(item, float(item["duration"])) for item in items]
        newest = max((_time(item["end_date"]) for item in items), default=cursor)
        return tasks, newest

    def _pages(self, path: str, key: str, query: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """The items of a list endpoint, at most MAX_PAGES pages of PAGE_SIZE."""
        for page_number in range(MAX_PAGES):
            page_query = {**query, "limit": PAGE_SIZE, "offset": page_number * PAGE_SIZE}
            page = self.api.call("GET", f"{path}?{urllib.parse.urlencode(page_query, doseq=True)}")
            yield from page[key]
            if len(page[key]) < PAGE_SIZE:
                return


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _finished_run(item: Mapping[str, Any]) -> FinishedRun:
    return FinishedRun(
        dag_id=item["dag_id"],
        run_id=item["dag_run_id"],
        state=item["state"],
        start_date=_time(item["start_date"]) if item.get("start_date") else None,
        end_date=_time(item["end_date"]),
        duration_seconds=item.get("duration"),
    )


def _slow_task(item: Mapping[str, Any], seconds: float) -> SlowTask:
    return SlowTask(
        dag_id=item["dag_id"],
        task_id=item["task_id"],
        run_id=item["dag_run_id"],
        state=item["state"],
        minutes=seconds / 60,
    )
