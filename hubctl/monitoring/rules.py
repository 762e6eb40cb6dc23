"""The four alert rules: pure functions from what was measured to the findings that hold now.

A finding is the condition of one (rule, subject) holding at this evaluation;
`services.alerts.reconcile` turns findings into records (open, touch, resolve). The inputs are
read elsewhere (the repository, Airflow's API): nothing here does I/O except asking the group's
calendar for its sessions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from hubctl import calendars
from hubctl.monitoring.airflow_reader import SlowTask
from hubctl.services.alerts import Finding

# How far back data_late looks for the last session that should be loaded: longer than any
# exchange's run of holidays.
SESSION_LOOKBACK_DAYS = 14


@dataclass(frozen=True)
class JobThresholds:
    dag_id: str
    exchange_group: str | None
    failure_rate_percent: int
    failure_rate_runs: int
    task_minutes: int


@dataclass(frozen=True)
class RunOutcomes:
    """A DAG's last ``failure_rate_runs`` (or fewer) finished runs, counted."""

    dag_id: str
    finished: int
    failed: int


@dataclass(frozen=True)
class GroupFreshness:
    group_name: str
    calendar: str
    timezone: str
    market_close: dt.time
    data_late_minutes: int
    newest: dt.date | None  # the newest trade date stored for the group's exchanges


@dataclass(frozen=True)
class GroupFetches:
    group_name: str
    unreachable_fetches: int
    recent: Sequence[bool]  # ok of the group's last `unreachable_fetches` fetches, newest first
    last_error: str | None


def failure_rate(
    outcomes: Iterable[RunOutcomes], jobs: Mapping[str, JobThresholds]
) -> list[Finding]:
    """A DAG whose failed share of its last N finished runs is above the job's percent."""
    findings = []
    for counted in outcomes:
        job = jobs.get(counted.dag_id)
        if job is None or counted.finished == 0:
            continue
        percent = 100 * counted.failed / counted.finished
        if percent > job.failure_rate_percent:
            detail = f"{counted.failed} of the last {counted.finished} finished runs failed"
            findings.append(
                Finding(rule="failure_rate", subject=job.dag_id, value=percent,
                        threshold=job.failure_rate_percent, detail=detail,
                        exchange_group=job.exchange_group, dag_id=job.dag_id)
            )  # fmt: skip
    return findings


def task_duration(tasks: Iterable[SlowTask], jobs: Mapping[str, JobThresholds]) -> list[Finding]:
    """A task (``dag_id/task_id``) with an instance longer than its job's ``task_minutes``; the
    longest instance is the measured value."""
    longest: dict[str, SlowTask] = {}
    for task in tasks:
        job = jobs.get(task.dag_id)
        subject = f"{task.dag_id}/{task.task_id}"
        if job is None or task.minutes <= job.task_minutes:
            continue
        if subject not in longest or task.minutes > longest[subject].minutes:
            longest[subject] = task
    return [
        Finding(rule="task_duration", subject=subject, value=task.minutes,
                threshold=jobs[task.dag_id].task_minutes,
                detail=f"run {task.run_id}: {task.state} for {task.minutes:.1f} min",
                exchange_group=jobs[task.dag_id].exchange_group, dag_id=task.dag_id)
        for subject, task in sorted(longest.items())
    ]  # fmt: skip


def data_late(groups: Iterable[GroupFreshness], now: dt.datetime) -> list[Finding]:
    """A group whose prices miss the last session that closed more than ``data_late_minutes``
    ago on its calendar: a holiday or a weekend has no session, so it never makes data late."""
    findings = []
    for group in groups:
        expected = expected_session(group, now)
        if expected is None or (group.newest is not None and group.newest >= expected[0]):
            continue
        session, close = expected
        detail = (
            f"newest prices {group.newest or 'none'}; the {session} session closed"
            f" {close:%Y-%m-%d %H:%M} UTC"
        )
        findings.append(
            Finding(rule="data_late", subject=group.group_name,
                    value=(now - close).total_seconds() / 60, threshold=group.data_late_minutes,
                    detail=detail, exchange_group=group.group_name, dag_id=None)
        )  # fmt: skip
    return findings


def expected_session(group: GroupFreshness, now: dt.datetime) -> tuple[dt.date, dt.datetime] | None:
    """The newest session (and its close, UTC) whose close + data_late_minutes is past."""
    due = now - dt.timedelta(minutes=group.data_late_minutes)
    closes = calendars.session_closes(
        group.calendar,
        due.date() - dt.timedelta(days=SESSION_LOOKBACK_DAYS),
        due.date() + dt.timedelta(days=1),
        timezone=group.timezone,
        market_close=group.market_close,
    )
    past = [(session, close) for session, close in closes if close <= due]
    return past[-1] if past else None


def source_unreachable(groups: Iterable[GroupFetches]) -> list[Finding]:
    """A group whose last ``unreachable_fetches`` source fetches all failed."""
    return [
        Finding(rule="source_unreachable", subject=group.group_name,
                value=len(group.recent), threshold=group.unreachable_fetches,
                detail=f"the last {len(group.recent)} fetches failed: {group.last_error or '?'}",
                exchange_group=group.group_name, dag_id=None)
        for group in groups
        if len(group.recent) >= group.unreachable_fetches and not any(group.recent)
    ]  # fmt: skip
