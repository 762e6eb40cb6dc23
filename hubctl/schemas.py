"""Pydantic models of the configuration: the same rules as the database's CHECK constraints.

Validating here first gives the user a message naming the field; the database's copy of each
rule (alembic/versions/0001_control_plane.py) stops raw SQL from storing what these reject.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from decimal import Decimal
from functools import lru_cache
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

SLUG_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
EXCHANGE_CODE_PATTERN = r"^[A-Z][A-Z0-9_]{0,15}$"
TICKER_PATTERN = r"^[A-Z0-9^][A-Z0-9.=^-]{0,31}$"
GROUPING_PATTERN = r"^[a-z0-9][a-z0-9_]{0,62}$"

_CPU = re.compile(r"^(?:(?P<milli>[0-9]{1,9})m|(?P<cores>[0-9]{1,6}(?:\.[0-9]{1,3})?))$")
_MEMORY = re.compile(r"^(?P<number>[0-9]{1,12}(?:\.[0-9]{1,3})?)(?P<suffix>k|M|G|T|Ki|Mi|Gi|Ti)?$")
_MEMORY_FACTORS = {
    None: 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
}  # fmt: skip
PRESETS = frozenset(
    {"@once", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly", "@annually",
     "@continuous"}
)  # fmt: skip
_CRON_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_CRON_ITEM = re.compile(r"^(\*|([0-9A-Z]{1,3})(-([0-9A-Z]{1,3}))?)(/([0-9]{1,2}))?$")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


def cpu_millicores(quantity: str) -> Decimal | None:
    """Kubernetes CPU quantity ('500m', '2', '1.5') in millicores; None when malformed."""
    match = _CPU.match(quantity)
    if match is None:
        return None
    if match["milli"] is not None:
        return Decimal(match["milli"])
    return Decimal(match["cores"]) * 1000


def memory_bytes(quantity: str) -> Decimal | None:
    """Kubernetes memory quantity ('512Mi', '1Gi', '1G', '1000') in bytes; None when malformed."""
    match = _MEMORY.match(quantity)
    if match is None:
        return None
    return Decimal(match["number"]) * _MEMORY_FACTORS[match["suffix"]]


def _cron_value(token: str, field: int) -> int | None:
    if token.isdigit() and len(token) <= 2:
        return int(token)
    if field == 3 and token in _MONTHS:
        return _MONTHS.index(token) + 1
    if field == 4 and token in _DAYS:
        return _DAYS.index(token)
    return None


def _cron_item_valid(item: str, field: int) -> bool:
    match = _CRON_ITEM.match(item.upper())
    if match is None or (match[6] is not None and int(match[6]) == 0):
        return False
    if match[1] == "*":
        return True
    first = _cron_value(match[2], field)
    last = first if match[4] is None else _cron_value(match[4], field)
    lowest, highest = _CRON_BOUNDS[field]
    return first is not None and last is not None and lowest <= first <= last <= highest


def is_valid_schedule(schedule: str) -> bool:
    """A five-field cron expression or an Airflow preset (same rule as hub.is_valid_schedule)."""
    if schedule in PRESETS:
        return True
    fields = schedule.split()
    if len(fields) != 5:
        return False
    return all(
        _cron_item_valid(item, index)
        for index, field in enumerate(fields)
        for item in field.split(",")
    )


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones() | {"UTC"})


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(key) or _contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


def _no_nul_inside(value: dict[str, Any]) -> dict[str, Any]:
    """jsonb cannot hold a NUL character, in a key or a string, however deep."""
    if _contains_nul(value):
        raise ValueError("must not contain NUL characters")
    return value


def _schedule(value: str | None) -> str | None:
    if value is not None and not is_valid_schedule(value):
        raise ValueError(
            f"{value!r} is not a five-field cron expression or one of {', '.join(sorted(PRESETS))}"
        )
    return value


def _timezone(value: str) -> str:
    if value not in _timezones():
        raise ValueError(f"{value!r} is not an IANA timezone name (e.g. Europe/London)")
    return value


def _cpu(value: str) -> str:
    if not cpu_millicores(value):
        raise ValueError(f"{value!r} is not a positive CPU quantity (e.g. 500m, 2, 1.5)")
    return value


def _memory(value: str) -> str:
    if not memory_bytes(value):
        raise ValueError(f"{value!r} is not a positive memory quantity (e.g. 512Mi, 2Gi)")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
Slug = Annotated[str, Field(pattern=SLUG_PATTERN, description="lower-case letters, digits, _")]
ExchangeCode = Annotated[str, Field(pattern=EXCHANGE_CODE_PATTERN)]
Priority = Annotated[int, Field(ge=1, le=10, description="1 (lowest) to 10 (highest)")]
CpuQuantity = Annotated[str, AfterValidator(_cpu)]
MemoryQuantity = Annotated[str, AfterValidator(_memory)]
Schedule = Annotated[str | None, AfterValidator(_schedule)]
Timezone = Annotated[str, AfterValidator(_timezone)]
Grouping = Annotated[str, Field(pattern=GROUPING_PATTERN)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, validate_assignment=True)


class ExchangeGroupSpec(_Strict):
    group_name: Slug
    display_name: Annotated[Text, Field(min_length=1, max_length=200)]
    exchanges: Annotated[list[ExchangeCode], Field(min_length=1)]
    primary_timezone: Timezone
    market_open: dt.time = dt.time(9, 30)
    market_close: dt.time = dt.time(16, 0)
    enabled: bool = True
    priority: Priority = 5

    @model_validator(mode="after")
    def _open_before_close(self) -> ExchangeGroupSpec:
        if self.market_open >= self.market_close:
            raise ValueError(
                f"market_open ({self.market_open}) must be before market_close ({self.market_close})"
            )
        return self


class DagConfigSpec(_Strict):
    """One job: defaults are the database's column defaults (the values the seed hard-coded)."""

    dag_name: Slug
    job_name: Slug
    exchange_group: Slug | None = None
    schedule: Schedule = None
    cpu_request: CpuQuantity = "500m"
    cpu_limit: CpuQuantity = "2000m"
    memory_request: MemoryQuantity = "1Gi"
    memory_limit: MemoryQuantity = "2Gi"
    batch_size: Annotated[int, Field(gt=0)] = 500
    timeout_seconds: Annotated[int, Field(gt=0)] = 3600
    max_retries: Annotated[int, Field(ge=0)] = 3
    retry_delay_minutes: Annotated[int, Field(ge=0)] = 5
    max_active_tasks: Annotated[int, Field(gt=0)] = 16
    enabled: bool = True
    priority: Priority = 5
    params: Annotated[dict[str, Any], AfterValidator(_no_nul_inside)] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _requests_within_limits(self) -> DagConfigSpec:
        if (cpu_millicores(self.cpu_request) or 0) > (cpu_millicores(self.cpu_limit) or 0):
            raise ValueError(
                f"cpu_request ({self.cpu_request}) must not exceed cpu_limit ({self.cpu_limit})"
            )
        if (memory_bytes(self.memory_request) or 0) > (memory_bytes(self.memory_limit) or 0):
            raise ValueError(
                f"memory_request ({self.memory_request}) must not exceed memory_limit"
                f" ({self.memory_limit})"
            )
        return self


class TickerSpec(_Strict):
    ticker: Annotated[str, Field(pattern=TICKER_PATTERN)]
    exchange: ExchangeCode
    groupings: list[Grouping] = Field(default_factory=list)
    enabled: bool = True


class Bookkeeping(BaseModel):
    """What the database maintains on every control row."""

    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    updated_by: str


class ExchangeGroupRecord(ExchangeGroupSpec, Bookkeeping):
    model_config = ConfigDict(extra="ignore", from_attributes=True)


class DagConfigRecord(DagConfigSpec, Bookkeeping):
    model_config = ConfigDict(extra="ignore", from_attributes=True)


class TickerRecord(TickerSpec, Bookkeeping):
    model_config = ConfigDict(extra="ignore", from_attributes=True)
