"""hubctl.calendars: the calendars a group may name, known without importing exchange_calendars."""

from __future__ import annotations

import subprocess
import sys

import exchange_calendars

from hubctl.calendars import WEEKDAY, known_calendars


def test_the_known_calendars_are_exchange_calendars_own_list() -> None:
    names = exchange_calendars.get_calendar_names(include_aliases=False)
    exchanges = {name for name in names if len(name) == 4 and name.isupper()}
    assert known_calendars() == exchanges | {WEEKDAY}
    assert {"XNYS", "XLON", "XETR", "XPAR"} <= known_calendars()


def test_knowing_them_imports_neither_exchange_calendars_nor_pandas() -> None:
    code = (
        "import sys; from hubctl.calendars import known_calendars; known_calendars();"
        " print(sorted({'exchange_calendars', 'pandas'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
