"""The `@after_close[+Nm]` schedule: an Airflow timetable that follows an exchange's sessions.

``TradingSessionsTimetable`` fires a delay after the close of each trading session of a group's
calendar (hubctl.calendars), early closes included, and never on a holiday or a weekend. Each
run's data interval is the session's close (exact), so its logical date falls on the session's
date in the exchange's timezone: that is the date the collection runs for.

Airflow serialises the DAG with ``serialize`` and the scheduler and the api-server rebuild it with
``deserialize``: a custom timetable must be registered by a plugin (hubctl.plugin lists it), and
this module, imported by the plugin in every Airflow process, stays light: exchange_calendars
(and pandas) are imported the first time a timetable computes a date.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from airflow._shared.timezones.timezone import coerce_datetime, utcnow
from airflow.timetables.base import DagRunInfo, DataInterval, Timetable

from hubctl import calendars

if TYPE_CHECKING:
    from airflow.timetables.base import TimeRestriction
    from pendulum import DateTime

# Every calendar has a session within this many days (the longest closures are about a week).
SEARCH_DAYS = 21


class TradingSessionsTimetable(Timetable):
    """``delay_minutes`` after the close of each session of ``calendar``.

    ``timezone`` and ``market_close`` (HH:MM) are the group's: the ``weekday`` calendar closes
    there; exchange calendars bring their own closing times (early closes included).
    """

    def __init__(
        self, calendar: str, *, timezone: str, market_close: str, delay_minutes: int = 0
    ) -> None:
        self.calendar = calendar
        self.timezone = timezone
        self.market_close = market_close
        self.delay_minutes = delay_minutes
        self.delay = dt.timedelta(minutes=delay_minutes)
        after = f" + {delay_minutes} min" if delay_minutes else ""
        self.description = f"After each {calendar} trading session's close{after}"

    @property
    def summary(self) -> str:
        delay = f"+{self.delay_minutes}m" if self.delay_minutes else ""
        return f"@after_close{delay} ({self.calendar})"

    def serialize(self) -> dict[str, Any]:
        return {
            "calendar": self.calendar,
            "timezone": self.timezone,
            "market_close": self.market_close,
            "delay_minutes": self.delay_minutes,
        }

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> TradingSessionsTimetable:
        return cls(
            data["calendar"],
            timezone=data["timezone"],
            market_close=data["market_close"],
            delay_minutes=data["delay_minutes"],
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TradingSessionsTimetable) and self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash(tuple(self.serialize().values()))

    def closes(self, first: dt.date, last: dt.date) -> list[dt.datetime]:
        """The closes (aware, UTC) of the sessions from ``first`` to ``last``."""
        close = dt.time.fromisoformat(self.market_close)
        found = calendars.session_closes(
            self.calendar, first, last, timezone=self.timezone, market_close=close
        )
        return [moment for _, moment in found]

    def next_close(self, after: dt.datetime) -> dt.datetime | None:
        """The first session close strictly after ``after``."""
        day = after.astimezone(dt.UTC).date() - dt.timedelta(days=1)
        later = [c for c in self.closes(day, day + dt.timedelta(days=SEARCH_DAYS)) if c > after]
        return later[0] if later else None

    def latest_fired_close(self, now: dt.datetime) -> dt.datetime | None:
        """The close of the latest session whose run time (close + delay) is not after ``now``."""
        fire = now - self.delay
        day = fire.astimezone(dt.UTC).date() + dt.timedelta(days=1)
        earlier = [c for c in self.closes(day - dt.timedelta(days=SEARCH_DAYS), day) if c <= fire]
        return earlier[-1] if earlier else None

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        """A manual run is for the day it is triggered on (which may be no session: docs)."""
        return DataInterval.exact(run_after)

    def next_dagrun_info(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction
    ) -> DagRunInfo | None:
        """Like Airflow's cron trigger timetable: without catchup, the latest session that has
        already closed is a candidate too, so a DAG never runs a backlog of old sessions."""
        candidates = []
        if last_automated_data_interval is not None:
            candidates.append(self.next_close(last_automated_data_interval.end))
        if not restriction.catchup or (
            last_automated_data_interval is None and restriction.earliest is None
        ):
            candidates.append(self.latest_fired_close(utcnow()))
        if restriction.earliest is not None:
            candidates.append(self.next_close(restriction.earliest - dt.timedelta(microseconds=1)))
        known = [close for close in candidates if close is not None]
        if not known:
            return None
        close = coerce_datetime(max(known))
        if restriction.latest is not None and close > restriction.latest:
            return None
        return DagRunInfo(run_after=close + self.delay, data_interval=DataInterval.exact(close))
