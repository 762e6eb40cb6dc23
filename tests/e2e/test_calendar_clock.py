"""A real scheduler whose clock reads Christmas Eve 2026, then the eve of Good Friday 2027: the
next runs Airflow's API (and so its UI) shows follow the exchange calendars: the US early close
on Christmas Eve, LSE skipping Christmas and Boxing Day (observed), both skipping Good Friday and
LSE Easter Monday too.

Each stack (Airflow's components, the listener, PostgreSQL) runs under libfaketime (Debian's
`faketime` package, which .ci/run installs) with one offset, so every process agrees on the moved
clock; only this test process keeps the real one.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubctl.airflow_api import AirflowApiError
from tests.e2e.test_stack import (
    RunningStack,
    _running,
    assert_runs_planned_after_closes,
    wait_for,
)
from tests.support.stacks import prepared_home

# Real Airflow stacks: two of them, one per clock.
pytestmark = pytest.mark.e2e

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
US, LSE = "data_collection_equities__us_markets", "data_collection_equities__lse"
# The scheduler's clock -> the next run Airflow must show, per DAG.
MOMENTS = {
    # After LSE's Christmas Eve run (12:30 early close + 30 min), before the US one (early close
    # 13:00 New York = 18:00 UTC, + 90 min).
    dt.datetime(2026, 12, 24, 15, 0, tzinfo=dt.UTC): {
        US: "2026-12-24T19:30:00",  # the early close + 90 min
        LSE: "2026-12-29T17:00:00",  # the 25th and the 28th (Boxing Day, observed) are closed
    },
    # Maundy Thursday evening, after both of that day's runs.
    dt.datetime(2027, 3, 25, 22, 0, tzinfo=dt.UTC): {
        US: "2027-03-29T21:30:00",  # Good Friday closed: Monday's 16:00 EDT close + 90 min
        LSE: "2027-03-30T16:00:00",  # Good Friday and Easter Monday closed; 16:30 BST + 30 min
    },
}


@pytest.fixture(scope="module", params=list(MOMENTS), ids=lambda moment: moment.date().isoformat())
def stack_at(request: pytest.FixtureRequest) -> Iterator[tuple[dt.datetime, RunningStack]]:
    assert LIBFAKETIME.exists(), "libfaketime missing: apt-get install faketime (.ci/run does)"
    moment: dt.datetime = request.param
    offset = round((moment - dt.datetime.now(dt.UTC)).total_seconds())
    # The monotonic clock moves with the wall clock: Python's sleeps wait on an absolute
    # monotonic deadline, which libfaketime otherwise mistranslates (EINVAL).
    clock = {"LD_PRELOAD": str(LIBFAKETIME), "FAKETIME": f"{offset:+d}"}
    home = prepared_home("hubclock")
    for running in _running(home, clock):
        yield moment, running


@pytest.mark.parametrize(("dag_id", "calendar", "delay"), [(US, "XNYS", 90), (LSE, "XLON", 30)])
def test_next_runs_follow_the_exchange_calendars(
    stack_at: tuple[dt.datetime, RunningStack], dag_id: str, calendar: str, delay: int
) -> None:
    moment, stack = stack_at
    assert_runs_planned_after_closes(stack.api, dag_id, calendar, delay, moment)


def test_the_next_runs_are_the_ones_this_test_means(
    stack_at: tuple[dt.datetime, RunningStack],
) -> None:
    """What the check above amounts to on these dates, spelled out."""
    moment, stack = stack_at

    def next_run_after(dag_id: str) -> str:
        return str(stack.api.call("GET", f"/api/v2/dags/{dag_id}")["next_dagrun_run_after"])

    def shows(dag_id: str, run_after: str) -> bool:
        try:
            return next_run_after(dag_id).startswith(run_after)
        except AirflowApiError:  # an api-server too busy to answer on a loaded machine
            return False

    for dag_id, run_after in MOMENTS[moment].items():
        wait_for(
            functools.partial(shows, dag_id, run_after),
            120,
            f"{dag_id}'s next run after {run_after}",
        )
