"""The four alert rules on real exchange calendars: a holiday or a weekend never makes data late."""

from __future__ import annotations

import datetime as dt

import pytest

from hubctl.monitoring.airflow_reader import SlowTask
from hubctl.monitoring.rules import (
    GroupFetches,
    GroupFreshness,
    JobThresholds,
    RunOutcomes,
    data_late,
    failure_rate,
    source_unreachable,
    task_duration,
)

LSE_DAG = "data_collection_equities__lse"
JOBS = {LSE_DAG: JobThresholds(LSE_DAG, "lse", failure_rate_percent=5, failure_rate_runs=20,
                               task_minutes=30)}  # fmt: skip


def lse(newest: dt.date | None, late_minutes: int = 60) -> GroupFreshness:
    return GroupFreshness("lse", "XLON", "Europe/London", dt.time(16, 30), late_minutes, newest)


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("now", "late"),
    [
        # Christmas Day and Boxing Day (observed on Monday the 28th) are closed: the 24th (early
        # close 12:30) is the newest session due, and it is loaded.
        (utc(2026, 12, 25, 20), False),
        (utc(2026, 12, 28, 20), False),
        # The 29th trades: its 16:30 close + 60 min is past at 17:31, not at 17:29.
        (utc(2026, 12, 29, 17, 29), False),
        (utc(2026, 12, 29, 17, 31), True),
    ],
)
def test_data_late_follows_the_groups_calendar(now: dt.datetime, late: bool) -> None:
    findings = data_late([lse(dt.date(2026, 12, 24))], now)
    assert bool(findings) is late
    if late:
        (finding,) = findings
        assert (finding.rule, finding.subject, finding.threshold) == ("data_late", "lse", 60)
        assert finding.value > 60


def test_a_weekend_waits_for_fridays_prices_only() -> None:
    saturday, monday_morning = utc(2026, 12, 5, 12), utc(2026, 12, 7, 12)
    assert data_late([lse(dt.date(2026, 12, 4))], saturday) == []
    assert data_late([lse(dt.date(2026, 12, 4))], monday_morning) == []
    assert len(data_late([lse(dt.date(2026, 12, 3))], saturday)) == 1


def test_no_prices_at_all_are_late() -> None:
    (finding,) = data_late([lse(None)], utc(2026, 12, 29, 18))
    assert "newest prices none" in finding.detail


def test_failure_rate_counts_the_last_runs_against_the_jobs_percent() -> None:
    one_in_twenty = RunOutcomes(LSE_DAG, finished=20, failed=1)
    two_in_twenty = RunOutcomes(LSE_DAG, finished=20, failed=2)
    assert failure_rate([one_in_twenty], JOBS) == []  # 5 % is not above 5 %
    (finding,) = failure_rate([two_in_twenty], JOBS)
    assert (finding.subject, finding.value, finding.dag_id) == (LSE_DAG, 10.0, LSE_DAG)
    assert failure_rate([RunOutcomes("not_a_hub_dag", 1, 1)], JOBS) == []


def test_task_duration_keeps_the_longest_instance_above_the_jobs_minutes() -> None:
    tasks = [
        SlowTask(LSE_DAG, "collect", "r1", "success", 29.0),
        SlowTask(LSE_DAG, "load", "r1", "running", 31.0),
        SlowTask(LSE_DAG, "load", "r2", "success", 45.0),
    ]
    (finding,) = task_duration(tasks, JOBS)
    assert (finding.subject, finding.value) == (f"{LSE_DAG}/load", 45.0)
    assert "r2" in finding.detail


def test_source_unreachable_needs_that_many_consecutive_failures() -> None:
    failed_thrice = GroupFetches("lse", 3, [False, False, False], "HTTP 503")
    recovered = GroupFetches("lse", 3, [True, False, False], "HTTP 503")
    too_few = GroupFetches("lse", 3, [False, False], "HTTP 503")
    (finding,) = source_unreachable([failed_thrice, recovered, too_few])
    assert (finding.subject, finding.value, finding.exchange_group) == ("lse", 3, "lse")
    assert "HTTP 503" in finding.detail
