"""Trading sessions of an exchange group's calendar: holidays and early closes. No Airflow here.

A group's ``calendar`` names an `exchange_calendars` calendar (XNYS, XLON, XETR, XPAR, ...) or
``weekday`` (Monday to Friday, closing at the group's ``market_close``: no holidays). The
timetable, the collection runs and `hubctl status` all ask this module, so they agree on what a
trading session is. exchange_calendars (and pandas with it) is imported on first use: read
commands and the Airflow plugin import this module without paying for it; each calendar is
built once per process (~0.3 s) and kept.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

WEEKDAY = "weekday"
# Our exchange codes -> their calendar, where one calendar covers the exchange unambiguously.
EXCHANGE_CALENDARS = {"NYSE": "XNYS", "NASDAQ": "XNYS", "LSE": "XLON", "AIM": "XLON",
                      "XETRA": "XETR"}  # fmt: skip
# Codes that stand for several exchanges with different holidays: the group must choose.
AMBIGUOUS_EXCHANGES = {"EURONEXT": ("XAMS", "XBRU", "XLIS", "XPAR")}
# What the calendars are built for: the historical load's earliest years up to well after today.
FIRST_DAY = dt.date(1990, 1, 1)
YEARS_AHEAD = 2


def derived_calendar(exchanges: Iterable[str]) -> str | None:
    """The one calendar all ``exchanges`` share, or None (unknown, ambiguous or mixed)."""
    found = {EXCHANGE_CALENDARS.get(exchange) for exchange in exchanges}
    return found.pop() if len(found) == 1 and None not in found else None


def no_calendar_message(exchanges: Sequence[str]) -> str:
    """Why a group needs an explicit calendar, naming the choices."""
    choices = sorted({name for code in exchanges for name in AMBIGUOUS_EXCHANGES.get(code, ())})
    hint = f"one of {', '.join(choices)}" if choices else "an exchange_calendars name (e.g. XNYS)"
    return (
        f"calendar: exchanges {', '.join(exchanges)} have no single known calendar; set"
        f" calendar= to {hint}, or to {WEEKDAY} (Monday to Friday, no holidays)"
    )


@lru_cache(maxsize=1)
def known_calendars() -> frozenset[str]:
    """Every calendar a group may name: exchange_calendars' exchanges (no aliases) and weekday.

    Read from the package's module names (exchange_calendar_xnys.py -> XNYS) without importing
    it: the import pulls in pandas (1.7 s or more), and the generator checks every group's
    calendar on each parse. tests/test_calendars.py compares this with the library's own list.
    """
    spec = importlib.util.find_spec("exchange_calendars")
    folders = spec.submodule_search_locations if spec else None
    modules = (
        path.stem.removeprefix("exchange_calendar_")
        for folder in folders or ()
        for path in Path(folder).glob("exchange_calendar_*.py")
    )
    return frozenset(name.upper() for name in modules if len(name) == 4) | {WEEKDAY}


@lru_cache(maxsize=32)
def _exchange_calendar(name: str) -> Any:
    """The calendar from FIRST_DAY to YEARS_AHEAD, or, for one whose recorded holidays start later
    or end sooner (XTKS from 1997, XSES to 2026), the library's own default range."""
    # deferred: exchange_calendars imports pandas (~0.5 s); only calendar questions need it
    import exchange_calendars

    last = dt.date.today().replace(month=12, day=31) + dt.timedelta(days=365 * YEARS_AHEAD)
    try:
        return exchange_calendars.get_calendar(
            name, start=FIRST_DAY.isoformat(), end=last.isoformat()
        )
    except ValueError:
        return exchange_calendars.get_calendar(name)


def unusable_reason(name: str) -> str | None:
    """Why exchange_calendars cannot build ``name`` (a few of its calendars fail), else None."""
    if name == WEEKDAY:
        return None
    try:
        _exchange_calendar(name)
    except Exception as error:  # the library's own refusal is the reason shown
        return str(error).splitlines()[0][:200]
    return None


def session_closes(
    name: str, first: dt.date, last: dt.date, *, timezone: str, market_close: dt.time
) -> list[tuple[dt.date, dt.datetime]]:
    """(session, its close as an aware UTC datetime) for every session from ``first`` to ``last``.

    ``timezone`` and ``market_close`` are the group's: only the weekday calendar uses them.
    """
    if name == WEEKDAY:
        zone = ZoneInfo(timezone)
        days = (first + dt.timedelta(days=n) for n in range((last - first).days + 1))
        return [
            (day, dt.datetime.combine(day, market_close, zone).astimezone(dt.UTC))
            for day in days
            if day.weekday() < 5
        ]
    closes = _exchange_calendar(name).schedule.loc[first.isoformat() : last.isoformat(), "close"]
    return [
        (session.date(), close.to_pydatetime().astimezone(dt.UTC))
        for session, close in closes.items()
    ]


def sessions(name: str, first: dt.date, last: dt.date) -> list[dt.date]:
    """The trading sessions from ``first`` to ``last`` (both included)."""
    if first > last:
        return []
    return [day for day, _ in session_closes(name, first, last, timezone="UTC",
                                              market_close=dt.time(0))]  # fmt: skip


@lru_cache(maxsize=1024)
def has_session(name: str, first: dt.date, last: dt.date) -> bool:
    """Whether a session lies from ``first`` to ``last``: a window without one holds no bar."""
    if name == WEEKDAY and (last - first).days >= 6:
        return True
    return bool(sessions(name, first, last))


def sessions_missed(name: str, newest: dt.date, today: dt.date) -> int:
    """Sessions after the ``newest`` stored date and before ``today``: how many a market's data
    is behind (today's own session is not over, so it is not missing yet)."""
    return len(sessions(name, newest + dt.timedelta(days=1), today - dt.timedelta(days=1)))
