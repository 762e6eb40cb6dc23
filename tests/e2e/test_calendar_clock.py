"""A real scheduler whose clock reads Christmas Eve 2026: the next runs Airflow's API (and so its
UI) shows follow the exchange calendars: the US early close, and LSE skipping Christmas and the
Boxing Day holiday.

The whole stack (Airflow's components, the listener, PostgreSQL) runs under libfaketime
(Debian's `faketime` package, which .ci/run installs) with one offset, so every process agrees on
the moved clock; only this test process keeps the real one.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_stack import (
    RunningStack,
    _running,
    assert_runs_planned_after_closes,
    wait_for,
)

LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
# After LSE's Christmas Eve run time (12:30 close + 30 min), before the US one (early close
# 13:00 New York = 18:00 UTC, + 90 min).
CHRISTMAS_EVE = dt.datetime(2026, 12, 24, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def stack_at_christmas_eve() -> Iterator[RunningStack]:
    assert LIBFAKETIME.exists(), "libfaketime missing: apt-get install faketime (.ci/run does)"
    offset = round((CHRISTMAS_EVE - dt.datetime.now(dt.UTC)).total_seconds())
    # The monotonic clock moves with the wall clock: Python's sleeps wait on an absolute
    # monotonic deadline, which libfaketime otherwise mistranslates (EINVAL).
    clock = {"LD_PRELOAD": str(LIBFAKETIME), "FAKETIME": f"{offset:+d}"}
    home = Path(tempfile.mkdtemp(prefix="hubxmas"))  # short: the database socket lives here
    yield from _running(home, clock)


@pytest.mark.parametrize(
    ("dag_id", "calendar", "delay"),
    [("data_collection_equities__us_markets", "XNYS", 90),
     ("data_collection_equities__lse", "XLON", 30)],
)  # fmt: skip
def test_next_runs_around_christmas_follow_the_exchange_calendars(
    stack_at_christmas_eve: RunningStack, dag_id: str, calendar: str, delay: int
) -> None:
    assert_runs_planned_after_closes(
        stack_at_christmas_eve.api, dag_id, calendar, delay, CHRISTMAS_EVE
    )


def test_the_expected_runs_are_the_ones_this_test_means(
    stack_at_christmas_eve: RunningStack,
) -> None:
    """What the two checks above amount to on these dates, spelled out."""
    api = stack_at_christmas_eve.api

    def run_after(dag_id: str) -> str:
        return str(api.call("GET", f"/api/v2/dags/{dag_id}")["next_dagrun_run_after"])

    us_after = "2026-12-24T19:30:00"  # the early close (13:00 New York) + 90 min
    lse_after = "2026-12-29T17:00:00"  # the 25th and the 28th (Boxing Day, observed) are closed
    wait_for(
        lambda: run_after("data_collection_equities__us_markets").startswith(us_after),
        120,
        us_after,
    )
    wait_for(
        lambda: run_after("data_collection_equities__lse").startswith(lse_after), 120, lse_after
    )
