"""`@after_close` schedules: the timetable against the sessions exchange_calendars ships (offline).

The scheduler's view is the serialised DAG: every check here runs on a DAG parsed by a real DagBag
from the default configuration and rebuilt by Airflow's own DagSerialization, which finds the
timetable through our plugin (hubctl.plugin) as the scheduler and the api-server do.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import exchange_calendars
import pendulum
from airflow.timetables.base import DataInterval, TimeRestriction

from hubctl.timetables import TradingSessionsTimetable

# (DAG, the group's calendar, minutes after the close in the default configuration)
COLLECTION = {
    "us_markets": ("data_collection_equities__us_markets", "XNYS", 90),
    "lse": ("data_collection_equities__lse", "XLON", 30),
}
WINDOWS = {
    "christmas": (dt.date(2026, 12, 24), dt.date(2027, 1, 5)),
    "good_friday": (dt.date(2027, 3, 22), dt.date(2027, 4, 2)),  # Good Friday: 2027-03-26
}


def scheduler_timetables(dags: dict[str, Any]) -> dict[str, Any]:
    """The collection DAGs' timetables as the scheduler rebuilds them from the serialised DAG."""
    from airflow.serialization.serialized_objects import DagSerialization

    return {
        group: DagSerialization.from_dict(DagSerialization.to_dict(dags[dag_id])).timetable
        for group, (dag_id, _, _) in COLLECTION.items()
    }


def fire_times(timetable: Any, first: dt.date, last: dt.date) -> list[tuple[Any, Any]]:
    """(run_after, logical date) of every run from ``first`` to ``last``, as a catch-up would go."""
    start = pendulum.datetime(first.year, first.month, first.day, tz="UTC")
    end = pendulum.datetime(last.year, last.month, last.day, 23, 59, tz="UTC")
    restriction = TimeRestriction(earliest=start, latest=end, catchup=True)
    runs, last_interval = [], None
    while info := timetable.next_dagrun_info(
        last_automated_data_interval=last_interval, restriction=restriction
    ):
        runs.append((info.run_after, info.logical_date))
        last_interval = info.data_interval
    return runs


def library_closes(calendar: str, first: dt.date, last: dt.date) -> list[dt.datetime]:
    schedule = exchange_calendars.get_calendar(calendar).schedule
    return [close.to_pydatetime() for close in schedule.loc[str(first) : str(last), "close"]]


def test_parsed_collection_dags_fire_after_each_library_session_close(
    parse: Callable[[], Any],
) -> None:
    """us_markets and lse across Christmas and Good Friday: exactly the library's sessions, each
    run after its close (early closes included) plus the job's delay, none on a holiday."""
    bag = parse()
    assert bag.import_errors == {}
    timetables = scheduler_timetables(bag.dags)
    for group, (_, calendar, delay) in COLLECTION.items():
        assert isinstance(timetables[group], TradingSessionsTimetable)
        for first, last in WINDOWS.values():
            closes = library_closes(calendar, first, last)
            runs = fire_times(timetables[group], first, last)
            assert [run for run, _ in runs] == [c + dt.timedelta(minutes=delay) for c in closes]
            assert [logical for _, logical in runs] == closes
    christmas = [run for run, _ in fire_times(timetables["us_markets"], *WINDOWS["christmas"])]
    assert christmas[:2] == [pendulum.datetime(2026, 12, 24, 19, 30, tz="UTC"),  # 13:00 ET + 90'
                             pendulum.datetime(2026, 12, 28, 22, 30, tz="UTC")]  # fmt: skip
    easter = {run.date() for run, _ in fire_times(timetables["lse"], *WINDOWS["good_friday"])}
    assert not easter & {dt.date(2027, 3, 26), dt.date(2027, 3, 29)}  # Good Friday, Easter Monday


def test_the_day_after_thanksgiving_fires_after_the_early_close() -> None:
    timetable = TradingSessionsTimetable(
        "XNYS", timezone="America/New_York", market_close="16:00", delay_minutes=0
    )
    runs = fire_times(timetable, dt.date(2026, 11, 25), dt.date(2026, 11, 30))
    assert [str(run) for run, _ in runs] == [
        "2026-11-25 21:00:00+00:00",  # Thursday 26 is Thanksgiving
        "2026-11-27 18:00:00+00:00",  # 13:00 in New York
        "2026-11-30 21:00:00+00:00",
    ]


def test_without_catchup_the_next_run_is_the_latest_closed_session_or_a_later_one() -> None:
    timetable = TradingSessionsTimetable(
        "XLON", timezone="Europe/London", market_close="16:30", delay_minutes=30
    )
    now = pendulum.now("UTC")
    info = timetable.next_dagrun_info(
        last_automated_data_interval=None, restriction=TimeRestriction(None, None, False)
    )
    assert info is not None and info.run_after <= now
    assert info.logical_date in library_closes(
        "XLON", now.date() - dt.timedelta(days=10), now.date()
    )
    after = timetable.next_dagrun_info(
        last_automated_data_interval=info.data_interval,
        restriction=TimeRestriction(None, None, False),
    )
    assert after is not None and after.run_after > now


def test_weekday_calendar_closes_at_the_groups_market_close() -> None:
    timetable = TradingSessionsTimetable(
        "weekday", timezone="Asia/Tokyo", market_close="15:00", delay_minutes=15
    )
    runs = fire_times(timetable, dt.date(2026, 12, 24), dt.date(2026, 12, 28))
    assert [str(run) for run, _ in runs] == [
        "2026-12-24 06:15:00+00:00",
        "2026-12-25 06:15:00+00:00",  # no holidays on the weekday calendar
        "2026-12-28 06:15:00+00:00",
    ]


def test_a_manual_run_is_for_the_moment_it_was_triggered() -> None:
    timetable = TradingSessionsTimetable(
        "XNYS", timezone="America/New_York", market_close="16:00", delay_minutes=90
    )
    christmas = pendulum.datetime(2026, 12, 25, 15, tz="UTC")
    assert timetable.infer_manual_data_interval(run_after=christmas) == DataInterval.exact(
        christmas
    )
