"""One description per control table: its fields, their types, defaults, rules and help, once.

Each table is a plain class whose annotations are its fields (``Annotated[type, rule..., Help]``)
and whose class attributes are the defaults; ``check`` holds the rules that involve several
fields. Everything else is derived from these classes: the pydantic models (hubctl.schemas
subclasses them), the column lists and the generator's joined SELECT (hubctl.repository), the
`KEY=VALUE` help of the CLI, the doc_md rows of every DAG and the sections of a YAML document.
The database's copy of each rule is a CHECK in the migrations (they stay the history);
tests/test_tables.py holds the two together.

This module imports neither pydantic nor SQLAlchemy: read commands derive their column lists
from it and stay fast. A rule hands itself to pydantic through ``__get_pydantic_core_schema__``,
which pydantic calls only when hubctl.schemas builds the models.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
import typing
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property, lru_cache
from typing import Annotated, Any, ClassVar

SLUG_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
EXCHANGE_CODE_PATTERN = r"^[A-Z][A-Z0-9_]{0,15}$"
TICKER_PATTERN = r"^[A-Z0-9^][A-Z0-9.=^-]{0,31}$"
GROUPING_PATTERN = r"^[a-z0-9][a-z0-9_]{0,62}$"
CALENDAR_PATTERN = r"^(weekday|[A-Z]{4})$"  # an exchange_calendars name (XNYS) or weekday
INT4_MAX = 2**31 - 1  # PostgreSQL's integer: the columns these whole numbers are stored in
# What the database maintains on every control row (hub.touch_row).
BOOKKEEPING = ("version", "created_at", "updated_at", "updated_by")


class Constraint:
    """Keywords of pydantic's core schema for the annotated type: pattern, gt, ge, le, min_length."""

    def __init__(self, **options: Any) -> None:
        self.options = tuple(sorted(options.items()))

    def __hash__(self) -> int:
        return hash(self.options)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Constraint) and other.options == self.options

    def __get_pydantic_core_schema__(self, source: Any, handler: Callable[[Any], Any]) -> Any:
        schema = handler(source)
        schema.update(dict(self.options))
        return schema


@dataclass(frozen=True)
class Check:
    """A rule written as a function that raises ValueError with the message users see."""

    rule: Callable[[Any], Any]

    def __get_pydantic_core_schema__(self, source: Any, handler: Callable[[Any], Any]) -> Any:
        # deferred: pydantic (~50 ms); read commands never build a schema
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(self._checked, handler(source))

    def _checked(self, value: Any) -> Any:
        self.rule(value)
        return value


@dataclass(frozen=True)
class Help:
    """What the field is, for `--help`, docs and the page; ``doc``: shown in each DAG's doc_md."""

    text: str
    doc: bool = False


class Key:
    """Marks a primary-key field: set when a row is created, never changed afterwards."""


class Derived:
    """Marks a field whose null asks the table's write rule to derive it: the column is NOT NULL."""


class Threshold:
    """Marks an alert threshold (docs/monitoring.md): the Markets page edits a group's."""


# ---------------------------------------------------------------- value rules (pure Python)

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
# After the close of each trading session of the group's calendar, plus an optional delay.
AFTER_CLOSE = "@after_close"
_AFTER_CLOSE = re.compile(r"^@after_close(?:\+(?P<minutes>[0-9]{1,4})m)?$")
MAX_AFTER_CLOSE_MINUTES = 1439
_CRON_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_CRON_ITEM = re.compile(r"^(\*|([0-9A-Z]{1,3})(-([0-9A-Z]{1,3}))?)(/([0-9]{1,2}))?$")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
# An alert silence lasts until: 2026-12-08T09:00Z, 2026-12-08T09:00:00.5+01:00 (a zone, always).
_SILENCE_UNTIL = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})$"
)
# The alert rules (hubctl.services.alerts), each silenced on the row its threshold lives in.
JOB_RULES = frozenset({"failure_rate", "task_duration"})
GROUP_RULES = frozenset({"data_late", "source_unreachable"})
MAX_THRESHOLD_MINUTES = 10080  # a week
MAX_THRESHOLD_COUNT = 1000
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


def after_close_minutes(schedule: str) -> int | None:
    """The delay of ``@after_close[+Nm]`` in minutes (0 without one); None for another schedule."""
    match = _AFTER_CLOSE.match(schedule)
    if match is None:
        return None
    return int(match["minutes"] or 0)


def is_valid_schedule(schedule: str) -> bool:
    """A five-field cron, an Airflow preset, or @after_close[+Nm] (the database's CHECK agrees)."""
    if schedule in PRESETS:
        return True
    minutes = after_close_minutes(schedule)
    if minutes is not None:
        return minutes <= MAX_AFTER_CLOSE_MINUTES
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


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(key) or _contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


def no_nul(value: Any) -> None:
    """Text and jsonb cannot hold a NUL character, in a key or a string, however deep."""
    if _contains_nul(value):
        raise ValueError("must not contain NUL characters")


def valid_schedule(value: str) -> None:
    if not is_valid_schedule(value):
        raise ValueError(
            f"{value!r} is not a five-field cron expression, {AFTER_CLOSE}[+MINUTESm]"
            f" (at most +{MAX_AFTER_CLOSE_MINUTES}m) or one of {', '.join(sorted(PRESETS))}"
        )


def silence_rule(allowed: frozenset[str]) -> Callable[[dict[str, str]], None]:
    """The Check of a ``silences`` field: rules of its own table -> ISO 8601 moments with a zone."""

    def valid_silences(value: dict[str, str]) -> None:
        for rule, until in value.items():
            if rule not in allowed:
                raise ValueError(
                    f"{rule!r} is not a rule of this table; one of {', '.join(sorted(allowed))}"
                )
            if silence_until(until) is None:
                raise ValueError(
                    f"{rule}: {until!r} is not an ISO 8601 time with a zone"
                    " (e.g. 2026-12-08T09:00:00Z)"
                )

    return valid_silences


def silence_until(text: str) -> dt.datetime | None:
    """An ISO 8601 moment with a zone (the migration's hub.is_silence_until agrees); else None."""
    if not isinstance(text, str) or _SILENCE_UNTIL.match(text) is None:
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def valid_timezone(value: str) -> None:
    if value not in _timezones():
        raise ValueError(
            f"{value!r} is not an IANA timezone name that Python's zoneinfo knows"
            " (e.g. Europe/London)"
        )


def valid_cpu(value: str) -> None:
    if not cpu_millicores(value):
        raise ValueError(f"{value!r} is not a positive CPU quantity (e.g. 500m, 2, 1.5)")


def valid_memory(value: str) -> None:
    if not memory_bytes(value):
        raise ValueError(f"{value!r} is not a positive memory quantity (e.g. 512Mi, 2Gi)")


Slug = Annotated[str, Constraint(pattern=SLUG_PATTERN)]
ExchangeCode = Annotated[str, Constraint(pattern=EXCHANGE_CODE_PATTERN)]
Priority = Annotated[int, Constraint(ge=1, le=10)]
PositiveInt = Annotated[int, Constraint(gt=0, le=INT4_MAX)]
NonNegativeInt = Annotated[int, Constraint(ge=0, le=INT4_MAX)]
CpuQuantity = Annotated[str, Check(valid_cpu)]
MemoryQuantity = Annotated[str, Check(valid_memory)]
Schedule = Annotated[str, Check(valid_schedule)]
Minutes = Annotated[int, Constraint(ge=1, le=MAX_THRESHOLD_MINUTES)]
Count = Annotated[int, Constraint(ge=1, le=MAX_THRESHOLD_COUNT)]
CalendarName = Annotated[str, Constraint(pattern=CALENDAR_PATTERN)]


# ---------------------------------------------------------------- the tables


class ExchangeGroup:
    """hub.exchange_groups: a market whose jobs are switched on and off together."""

    group_name: Annotated[Slug, Key, Help("the group's name: lower-case letters, digits, _")]
    display_name: Annotated[
        str, Constraint(min_length=1, max_length=200), Check(no_nul), Help("a name for people")
    ]
    exchanges: Annotated[
        list[ExchangeCode], Constraint(min_length=1), Help("exchange codes, e.g. LSE,AIM")
    ]
    primary_timezone: Annotated[
        str, Check(valid_timezone), Help("IANA timezone that schedules are read in")
    ]
    market_open: Annotated[dt.time, Help("local opening time")] = dt.time(9, 30)
    market_close: Annotated[dt.time, Help("local closing time")] = dt.time(16, 0)
    calendar: Annotated[
        CalendarName | None,
        Derived,
        Help(
            "trading calendar: an exchange_calendars name (XNYS, XLON, XETR, XPAR, ...) or"
            " weekday; null: derived from the exchanges"
        ),
    ] = None
    enabled: Annotated[bool, Help("false stops every DAG of the group")] = True
    priority: Annotated[Priority, Help("1 (lowest) to 10 (highest)")] = 5
    approvals_required: Annotated[
        int,
        Constraint(ge=0, le=10),
        Help("approvals another person must give before a change to the group applies; 0: none"),
    ] = 0
    data_late_minutes: Annotated[
        Minutes,
        Threshold,
        Help(
            "alert data_late when prices miss the last trading session that closed more than"
            " this many minutes ago"
        ),
    ] = 60
    unreachable_fetches: Annotated[
        Count,
        Threshold,
        Help("alert source_unreachable after this many consecutive failed source fetches"),
    ] = 3
    silences: Annotated[
        dict[str, str],
        Check(silence_rule(GROUP_RULES)),
        Help("alert rule -> ISO 8601 time until which it is silenced (hubctl alerts silence)"),
    ] = {}  # pydantic copies it per instance

    def check(self) -> None:
        if self.market_open >= self.market_close:
            raise ValueError(
                f"market_open ({self.market_open}) must be before market_close ({self.market_close})"
            )


class Job:
    """hub.dag_configuration: one job of a pipeline; the defaults are the values the seed hard-coded."""

    dag_name: Annotated[Slug, Key, Help("the pipeline, e.g. data_collection_equities")]
    job_name: Annotated[Slug, Key, Help("the job, e.g. us_markets")]
    exchange_group: Annotated[Slug | None, Help("the exchange group whose switch it follows")] = (
        None
    )
    schedule: Annotated[
        Schedule | None,
        Help(
            "cron (read in the group's timezone), preset, or @after_close[+Nm] (after each"
            " trading session of the group's calendar); null: manual only",
            doc=True,
        ),
    ] = None
    cpu_request: Annotated[CpuQuantity, Help("Kubernetes CPU request", doc=True)] = "500m"
    cpu_limit: Annotated[CpuQuantity, Help("Kubernetes CPU limit", doc=True)] = "2000m"
    memory_request: Annotated[MemoryQuantity, Help("Kubernetes memory request", doc=True)] = "1Gi"
    memory_limit: Annotated[MemoryQuantity, Help("Kubernetes memory limit", doc=True)] = "2Gi"
    batch_size: Annotated[PositiveInt, Help("tickers per mapped task", doc=True)] = 500
    timeout_seconds: Annotated[PositiveInt, Help("execution timeout of each task", doc=True)] = 3600
    max_retries: Annotated[NonNegativeInt, Help("retries of each task", doc=True)] = 3
    retry_delay_minutes: Annotated[
        NonNegativeInt, Help("first retry delay; doubles on each retry", doc=True)
    ] = 5
    max_active_tasks: Annotated[PositiveInt, Help("tasks of one run at a time", doc=True)] = 16
    queue: Annotated[
        Slug | None, Help("Airflow task queue (Celery routing); null: the default queue", doc=True)
    ] = None
    enabled: Annotated[bool, Help("false stops the job's DAG")] = True
    priority: Annotated[Priority, Help("task priority weight, 1 to 10", doc=True)] = 5
    params: Annotated[
        dict[str, Any], Check(no_nul), Help("the pipeline's own settings", doc=True)
    ] = {}  # pydantic copies it per instance
    failure_rate_percent: Annotated[
        Annotated[int, Constraint(ge=1, le=100)],
        Threshold,
        Help("alert failure_rate when more than this % of the last failure_rate_runs runs failed"),
    ] = 5
    failure_rate_runs: Annotated[
        Count, Threshold, Help("finished runs the failure rate is counted over")
    ] = 20
    task_minutes: Annotated[
        Minutes, Threshold, Help("alert task_duration when a task instance runs longer than this")
    ] = 30
    silences: Annotated[
        dict[str, str],
        Check(silence_rule(JOB_RULES)),
        Help("alert rule -> ISO 8601 time until which it is silenced (hubctl alerts silence)"),
    ] = {}  # pydantic copies it per instance

    def check(self) -> None:
        follows_sessions = self.schedule and after_close_minutes(self.schedule) is not None
        if follows_sessions and self.exchange_group is None:
            raise ValueError(
                f"schedule {self.schedule} follows a group's trading sessions;"
                " set exchange_group, or use a cron"
            )
        if (cpu_millicores(self.cpu_request) or 0) > (cpu_millicores(self.cpu_limit) or 0):
            raise ValueError(
                f"cpu_request ({self.cpu_request}) must not exceed cpu_limit ({self.cpu_limit})"
            )
        if (memory_bytes(self.memory_request) or 0) > (memory_bytes(self.memory_limit) or 0):
            raise ValueError(
                f"memory_request ({self.memory_request}) must not exceed memory_limit"
                f" ({self.memory_limit})"
            )


class Ticker:
    """hub.tickers: the universe of securities, listed on an exchange."""

    ticker: Annotated[str, Constraint(pattern=TICKER_PATTERN), Key, Help("the symbol, e.g. AAPL")]
    exchange: Annotated[ExchangeCode, Help("the exchange it is listed on, e.g. NASDAQ")]
    groupings: Annotated[
        list[Annotated[str, Constraint(pattern=GROUPING_PATTERN)]], Help("free-form tags")
    ] = []  # pydantic copies it per instance
    enabled: Annotated[bool, Help("false leaves it out of collection")] = True

    def check(self) -> None:
        """No rule spans several fields."""


# ---------------------------------------------------------------- what is derived


@dataclass(frozen=True)
class Field:
    """One field as the description gives it."""

    name: str
    type: (
        Any  # the Python type without rules or None: str, int, bool, dt.time, list[...], dict[...]
    )
    help: str
    default: Any
    required: bool
    nullable: bool
    is_list: bool
    is_json: bool
    is_key: bool
    in_doc: bool
    is_derived: bool = False  # null means "derive it" (Derived); the column holds the result
    is_threshold: bool = False  # an alert threshold (Threshold)


_MISSING = object()


def _fields(description: type) -> tuple[Field, ...]:
    hints = typing.get_type_hints(description, include_extras=True)
    return tuple(_field(description, name, hints[name]) for name in description.__annotations__)


def _field(description: type, name: str, hint: Any) -> Field:
    metadata = _metadata(hint)
    base = _strip(hint)
    nullable = type(None) in typing.get_args(base)
    if nullable:
        base = _strip(next(arg for arg in typing.get_args(base) if arg is not type(None)))
    default = description.__dict__.get(name, _MISSING)
    help_ = next((item for item in metadata if isinstance(item, Help)), Help(""))
    return Field(
        name=name,
        type=base,
        help=help_.text,
        default=None if default is _MISSING else default,
        required=default is _MISSING,
        nullable=nullable,
        is_list=typing.get_origin(base) is list,
        is_json=typing.get_origin(base) is dict,
        is_key=any(item is Key for item in metadata),
        in_doc=help_.doc,
        is_derived=any(item is Derived for item in metadata),
        is_threshold=any(item is Threshold for item in metadata),
    )


def _metadata(hint: Any) -> list[Any]:
    found: list[Any] = []
    while typing.get_origin(hint) is Annotated:
        found.extend(hint.__metadata__)
        hint = hint.__origin__
    return found


def _strip(hint: Any) -> Any:
    while typing.get_origin(hint) is Annotated:
        hint = hint.__origin__
    return hint


@dataclass(frozen=True)
class ControlTable:
    """A control table as the rest of the package uses it, derived from its description class.

    ``spec`` and ``record`` are the pydantic models of hubctl.schemas, imported on first use.
    """

    name: str
    noun: str
    section: str  # its section in a configuration document (hubctl export)
    description: type
    SCHEMA: ClassVar[str] = "hub"

    @cached_property
    def fields(self) -> tuple[Field, ...]:
        return _fields(self.description)

    @cached_property
    def field(self) -> Mapping[str, Field]:
        return {field.name: field for field in self.fields}

    @cached_property
    def key(self) -> tuple[str, ...]:
        return tuple(field.name for field in self.fields if field.is_key)

    @cached_property
    def spec_fields(self) -> tuple[str, ...]:
        return tuple(field.name for field in self.fields)

    @cached_property
    def settable_fields(self) -> tuple[str, ...]:
        """The fields a user may change on an existing row (everything but the key)."""
        return tuple(field.name for field in self.fields if not field.is_key)

    @cached_property
    def threshold_fields(self) -> tuple[str, ...]:
        return tuple(field.name for field in self.fields if field.is_threshold)

    @cached_property
    def columns(self) -> tuple[str, ...]:
        return (*self.spec_fields, *BOOKKEEPING)

    @cached_property
    def json_columns(self) -> frozenset[str]:
        return frozenset(field.name for field in self.fields if field.is_json)

    @property
    def qualified_name(self) -> str:
        return f"{self.SCHEMA}.{self.name}"

    @property
    def spec(self) -> Any:
        return getattr(_schemas(), f"{self.description.__name__}Spec")

    @property
    def record(self) -> Any:
        return getattr(_schemas(), f"{self.description.__name__}Record")

    def key_of(self, row: Any) -> dict[str, Any]:
        """The key of a row given as a mapping or as a model."""
        if isinstance(row, Mapping):
            return {column: row[column] for column in self.key}
        return {column: getattr(row, column) for column in self.key}

    def label(self, key: Mapping[str, Any]) -> str:
        """The key as people write it: 'lse', 'data_collection_equities/us_markets'."""
        return "/".join(str(key[column]) for column in self.key)

    def as_dict(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A row as scripts see it, JSON-ready: its spec fields, then the bookkeeping."""
        return {name: json_ready(row[name]) for name in self.columns if name in row}

    def field_help(self) -> str:
        """One line per settable field: name, default, what it is (for `--help` and docs)."""
        return "\n".join(
            f"{field.name}: {field.help}"
            + ("" if field.required else f" (default {_shown(field)})")
            for field in self.fields
            if not field.is_key
        )


def _shown(field: Field) -> str:
    """A default as it is typed on the command line."""
    default = json_ready(field.default)
    if default is None or isinstance(default, bool):
        return {None: "null", True: "true", False: "false"}[default]
    return str(default)


def json_ready(value: Any) -> Any:
    """A column value as JSON, YAML and CSV show it: times in ISO 8601, UTC as Z (as pydantic)."""
    if isinstance(value, dt.date | dt.time):
        text = value.isoformat()
        return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text
    return value


def _schemas() -> Any:
    return importlib.import_module("hubctl.schemas")


GROUPS = ControlTable("exchange_groups", "exchange group", "exchange_groups", ExchangeGroup)
JOBS = ControlTable("dag_configuration", "job", "jobs", Job)
TICKERS = ControlTable("tickers", "ticker", "tickers", Ticker)
# In dependency order: a job names a group.
CONTROL_TABLES: dict[str, ControlTable] = {table.name: table for table in (GROUPS, JOBS, TICKERS)}
