"""Hostile and malformed input, generated: every hubctl write command and the YAML apply file.

Each generated command runs in-process through hubctl's real entry point (`main`). Whatever the
input — SQL metacharacters, any unicode, strings of tens of thousands of characters, NUL bytes —
the outcome is one of three, and never a traceback:

* exit 0: accepted, and stored literally: the text read back is the text given, the audit holds
  exactly the rows the change implies with the actor and reason given, and an applied file
  planned again shows no change;
* exit 1: refused with one `Error: ` line, by hubctl's own validation (neither an unexpected
  exception nor a change only the database refused); nothing written;
* exit 2: a usage error (the command line itself is malformed: an unknown option, a missing
  argument, a value that is not of the option's type such as `--priority abc` or
  `audit revert abc`); nothing written.

Runs are repeatable (derandomize=True, no example database); docs/reliability.md has the counts.
"""

from __future__ import annotations

import csv
import io
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer.main
from click.testing import Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from hubctl import yamlio
from hubctl.tables import EXCHANGE_CODE_PATTERN, SLUG_PATTERN, TICKER_PATTERN
from tests.support.cli import Run, audit_rows, snapshot
from tests.support.reliability import Figures

pytestmark = pytest.mark.reliability

PIPELINES = ("data_collection_equities", "historical_load_equities", "calculate_indicators")
GROUPS = ("us_markets", "lse", "german_markets", "european_markets")
JOBS = [(dag, group) for dag in PIPELINES[:2] for group in GROUPS] + [(PIPELINES[2], "all")]
TICKERS = ("AAPL", "MSFT", "AZN.L", "SAP.DE")

SQL = [
    "'; DROP TABLE hub.tickers; --",
    "lse' OR '1'='1",
    '"; DELETE FROM hub.audit_log; --',
    "x'); TRUNCATE hub.dag_configuration; --",
    "$$; SELECT pg_sleep(30); $$",
    "1; UPDATE hub.exchange_groups SET enabled = false",
    "' UNION SELECT row_hash FROM hub.audit_log --",
    "\\'; COPY hub.tickers TO PROGRAM 'id'; --",
    "%s%s%s%n",
    "{0.__class__}",
    "${HUB_DATABASE_URL}",
    "`id`",
    "null",
    "",
    " ",
]
short_text = st.text(max_size=30)
hostile = st.one_of(
    st.sampled_from(SQL),
    short_text,
    st.builds(lambda text, times: (text or "x") * times, short_text, st.integers(300, 3000)),
    st.builds(lambda left, right: f"{left}\x00{right}", short_text, short_text),
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=60),
)


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, each with its chance in percent.

    The choice is an integer draw, not st.one_of: Hypothesis never repeats an input, so it soon
    leaves a branch whose values it has used up and, through one_of, would draw hostile values
    almost only, and too few inputs would be accepted to check what is stored.
    """

    def pick(draw: int) -> st.SearchStrategy[Any]:
        for percent, strategy in choices:
            if draw < percent:
                return strategy
            draw -= percent
        return choices[-1][1]

    return st.integers(0, 99).flatmap(pick)


def mostly(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return weighted((70, plausible), (30, hostile))


def rarely_bad(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Where one hostile value spoils a whole input (a file's entries, a CSV's cells)."""
    return weighted((92, plausible), (8, hostile))


def numbers(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(str)


def clock(first_hour: int, last_hour: int) -> st.SearchStrategy[str]:
    return st.tuples(st.integers(first_hour, last_hour), st.integers(0, 59)).map(
        lambda time: f"{time[0]:02d}:{time[1]:02d}"
    )


def quantity(low: int, high: int, unit: str) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda amount: f"{amount}{unit}")


cron_fields = st.tuples(
    st.integers(0, 61), st.integers(0, 24), st.sampled_from(["*", "1-5", "MON", "8"])
)
crons = cron_fields.map(lambda cron: f"{cron[0]} {cron[1]} * * {cron[2]}") | st.sampled_from(
    ["@daily", "@hourly", "@once", "*/15 * * * *", "@after_close+30m", "@after_close+1440m"]
)
calendar_names = st.sampled_from(["XNYS", "XTKS", "weekday", "XXXX", "xnys", "EURONEXT", "null"])
zones = st.sampled_from(sorted(zoneinfo.available_timezones())) | st.sampled_from(
    ["Mars/Olympus", "europe/london", "GMT+25"]
)
booleans = st.sampled_from(["true", "false", "yes", "0", "perhaps"])
slugs = mostly(st.from_regex(SLUG_PATTERN, fullmatch=True))
exchange_codes = mostly(st.from_regex(EXCHANGE_CODE_PATTERN, fullmatch=True))
ticker_symbols = mostly(st.from_regex(TICKER_PATTERN, fullmatch=True))
grouping_names = st.from_regex(r"^[a-z0-9][a-z0-9_]{0,20}$", fullmatch=True)
groupings = mostly(grouping_names)
free_text = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=80
)

JOB_VALUES: dict[str, st.SearchStrategy[str]] = {
    "exchange_group": st.sampled_from([*GROUPS, "mars"]),
    "schedule": crons,
    "cpu_request": quantity(1, 2100, "m"),
    "cpu_limit": quantity(400, 9000, "m"),
    "memory_request": quantity(1, 2100, "Mi"),
    "memory_limit": quantity(900, 9000, "Mi"),
    "batch_size": numbers(-5, 10**7),
    "timeout_seconds": numbers(-5, 10**6),
    "max_retries": numbers(-2, 100),
    "retry_delay_minutes": numbers(-2, 600),
    "max_active_tasks": numbers(-1, 640),
    "enabled": booleans,
    "priority": numbers(-1, 12),
    "params.lookback_days": numbers(-1, 4000),
    "params.source": st.sampled_from(["sample", "yfinance", "bloomberg"]),
    "params.pool": slugs,
    "params.fail_tickers": st.lists(ticker_symbols, max_size=3).map(
        lambda names: "[" + ", ".join(names) + "]"
    ),
}
GROUP_VALUES: dict[str, st.SearchStrategy[str]] = {
    "display_name": mostly(free_text),
    "exchanges": st.lists(st.from_regex(EXCHANGE_CODE_PATTERN, fullmatch=True), max_size=3).map(
        ",".join
    ),
    "primary_timezone": zones,
    "market_open": clock(0, 8),
    "market_close": clock(17, 24),
    "enabled": booleans,
    "priority": numbers(-1, 12),
    "calendar": mostly(calendar_names),
}
# Fields whose accepted value is stored as the very text given.
LITERAL_FIELDS = (
    "schedule",
    "cpu_request",
    "cpu_limit",
    "memory_request",
    "memory_limit",
    "primary_timezone",
    "display_name",
)


def assignments(known: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[list[str]]:
    """KEY=VALUE arguments: mostly known keys with values of their kind, some malformed."""
    pair = st.sampled_from(sorted(known)).flatmap(
        lambda key: st.tuples(st.just(key), mostly(known[key])).map("=".join)
    )
    junk = st.one_of(
        st.tuples(hostile, hostile).map("=".join),
        hostile,
        st.sampled_from(["batch_size", "=5", "version=9", "params=[1]"]),
    )
    return st.lists(weighted((85, pair), (15, junk)), min_size=1, max_size=3)


REPEATABLE = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
# Generated inputs per command: together at least 1,000 (docs/reliability.md reports those run).
EXAMPLES = {
    "config set": 250,
    "config add": 100,
    "config remove/enable/disable": 60,
    "groups add": 120,
    "groups set": 120,
    "groups remove/enable/disable": 40,
    "tickers add": 100,
    "tickers remove": 30,
    "tickers import": 60,
    "apply -f": 150,
    "audit revert": 20,
}


def examples(command: str) -> settings:
    return settings(REPEATABLE, max_examples=EXAMPLES[command])


Who = tuple[str | None, str | None]  # --actor, -m (None: not given)
who = st.tuples(
    weighted((35, st.none()), (35, free_text), (30, hostile)),
    weighted((35, st.none()), (35, free_text), (30, hostile)),
)


@dataclass
class Hubctl:
    """hubctl in-process against one database (the default configuration to start with)."""

    run: Run
    db: Engine
    figures: Figures
    files: Path

    def attempt(self, *argv: str, who: Who = (None, None), says: str | None = None) -> Any:
        """Run a write command. Refused: check it wrote nothing, return None. Accepted: return its
        audit rows, checked to carry the actor and reason given (``says``: the reason expected).
        """
        before = snapshot(self.db)
        actor, reason = who
        result = self.run(
            *argv,
            *(["--actor", actor] if actor is not None else []),
            *(["-m", reason] if reason is not None else []),
        )
        if not self._accepted(result, before):
            return None
        entries = audit_rows(self.db, before["audit_log"][-1]["id"] if before["audit_log"] else 0)
        assert len({entry["change_set"] for entry in entries}) <= 1
        for entry in entries:
            assert entry["actor"] == ("pytest" if actor is None else actor)
            assert (entry["reason"] or "") == (reason or "" if says is None else says)
            assert entry["via"] == "hubctl"
        return entries

    def _accepted(self, result: Result, before: dict[str, Any]) -> bool:
        self.figures.add("inputs tried")
        assert "Traceback" not in result.output, result.output
        if result.exit_code == 0:
            self.figures.add("inputs accepted")
            return True
        if result.exit_code == 1:
            assert result.stderr.startswith("Error: "), result.stderr
            assert result.stderr.count("\n") == 1, result.stderr
            assert "(set HUBCTL_DEBUG=1" not in result.stderr, f"unexpected: {result.stderr}"
            assert "refused the change" not in result.stderr, f"not validated: {result.stderr}"
            self.figures.add("inputs refused (exit 1)")
        else:
            assert result.exit_code == 2, (result.exit_code, result.output)
            assert "Usage:" in result.stderr and "Error" in result.stderr, result.stderr
            self.figures.add("inputs refused as usage errors (exit 2)")
        assert snapshot(self.db) == before, "a refused command wrote something"
        return False

    def row(self, table: str, where: str, **binds: Any) -> dict[str, Any] | None:
        with self.db.connect() as conn:
            row = conn.execute(sa.text(f"SELECT * FROM hub.{table} WHERE {where}"), binds).first()
        return None if row is None else dict(row._mapping)

    def file(self, name: str, text: str) -> str:
        path = self.files / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    def assert_export_reproduces(self) -> None:
        """`hubctl export` of what was stored is a file in which `plan` finds nothing to change."""
        exported = self.file("exported.yaml", self.run("export").stdout)
        assert self.run("plan", "-f", exported, "--detailed-exitcode").exit_code == 0


@pytest.fixture
def hubctl(
    run: Run,
    default_config: Engine,
    figures: Figures,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Hubctl]:
    # Typer builds hubctl's click command at every call (~80 ms): build it once.
    real, built = typer.main.get_command, {}

    def get_command(app: typer.Typer) -> Any:
        if id(app) not in built:
            built[id(app)] = real(app)
        return built[id(app)]

    monkeypatch.setattr(typer.main, "get_command", get_command)
    pooled = sa.create_engine(default_config.url)  # checked before and after every input
    yield Hubctl(run, pooled, figures, tmp_path)
    pooled.dispose()


def assert_literal(row: dict[str, Any] | None, pairs: list[str]) -> None:
    """Each text field assigned (the last assignment of a key wins) holds the text given."""
    for key, value in dict(pair.partition("=")[::2] for pair in pairs).items():
        if key in LITERAL_FIELDS and value not in ("", "null"):
            assert row is not None and row[key] == value, (key, value)


def job_key(job: tuple[str, str]) -> dict[str, str]:
    return {"dag_name": job[0], "job_name": job[1]}


jobs = mostly(st.sampled_from(JOBS).map("/".join)).map(lambda name: name.partition("/")[::2])

# ---------------------------------------------------------------------------------- config


@examples("config set")
@given(
    job=jobs,
    pairs=assignments(JOB_VALUES),
    expect=weighted((70, st.none()), (20, numbers(0, 3)), (10, hostile)),
    who=who,
)
def test_config_set(
    hubctl: Hubctl, job: tuple[str, str], pairs: list[str], expect: str | None, who: Who
) -> None:
    version = ["--expect-version", expect] if expect is not None else []
    entries = hubctl.attempt("config", "set", *job, *pairs, *version, who=who)
    if entries is not None:
        assert [(e["action"], e["row_key"]) for e in entries] in ([], [("UPDATE", job_key(job))])
        assert_literal(
            hubctl.row("dag_configuration", "dag_name = :d AND job_name = :j", d=job[0], j=job[1]),
            pairs,
        )


JOB_FIELDS_ONLY = {key: value for key, value in JOB_VALUES.items() if "." not in key}


@examples("config add")
@given(
    dag=mostly(st.sampled_from(PIPELINES)),
    job=slugs,
    who=who,
    pairs=weighted((80, assignments(JOB_FIELDS_ONLY)), (20, st.just([]))),
)
def test_config_add(hubctl: Hubctl, dag: str, job: str, pairs: list[str], who: Who) -> None:
    entries = hubctl.attempt("config", "add", dag, job, *pairs, who=who)
    if entries is not None:
        [entry] = entries
        assert (entry["action"], entry["row_key"]) == ("INSERT", job_key((dag, job)))
        assert_literal(entry["new_row"], pairs)


@examples("config remove/enable/disable")
@given(verb=st.sampled_from(["remove", "enable", "disable"]), job=jobs, who=who)
def test_config_remove_enable_disable(
    hubctl: Hubctl, verb: str, job: tuple[str, str], who: Who
) -> None:
    entries = hubctl.attempt("config", verb, *job, who=who)
    if entries is not None:
        assert [entry["row_key"] for entry in entries] in ([], [job_key(job)])


# ---------------------------------------------------------------------------------- groups


@examples("groups add")
@given(
    name=slugs,
    exchanges=weighted((90, st.lists(exchange_codes, min_size=1, max_size=3)), (10, st.just([]))),
    options=st.fixed_dictionaries(
        {
            "--timezone": mostly(zones),
            "--display-name": weighted((30, st.none()), (50, free_text), (20, hostile)),
            "--open": weighted((50, st.none()), (40, clock(0, 12)), (10, hostile)),
            "--close": weighted((50, st.none()), (40, clock(12, 24)), (10, hostile)),
            "--priority": weighted((50, st.none()), (40, numbers(0, 11)), (10, hostile)),
            "--calendar": weighted((30, st.none()), (70, mostly(calendar_names))),
        }
    ),
    who=who,
)
def test_groups_add(
    hubctl: Hubctl, name: str, exchanges: list[str], options: dict[str, str | None], who: Who
) -> None:
    argv = [part for exchange in exchanges for part in ("--exchange", exchange)]
    argv += [
        part for option, value in options.items() if value is not None for part in (option, value)
    ]
    entries = hubctl.attempt("groups", "add", name, *argv, who=who)
    if entries is not None:
        [entry] = entries
        row = entry["new_row"]
        assert (entry["action"], entry["row_key"]) == ("INSERT", {"group_name": name})
        assert (row["exchanges"], row["primary_timezone"]) == (exchanges, options["--timezone"])
        assert options["--display-name"] in (None, row["display_name"])
        assert options["--calendar"] in (None, row["calendar"])


@examples("groups set")
@given(
    group=mostly(st.sampled_from(GROUPS)),
    pairs=assignments(GROUP_VALUES),
    expect=weighted((70, st.none()), (30, numbers(0, 3))),
    who=who,
)
def test_groups_set(
    hubctl: Hubctl, group: str, pairs: list[str], expect: str | None, who: Who
) -> None:
    version = ["--expect-version", expect] if expect is not None else []
    entries = hubctl.attempt("groups", "set", group, *pairs, *version, who=who)
    if entries is not None:
        assert [entry["row_key"] for entry in entries] in ([], [{"group_name": group}])
        assert_literal(hubctl.row("exchange_groups", "group_name = :g", g=group), pairs)
        hubctl.assert_export_reproduces()


@examples("groups remove/enable/disable")
@given(
    verb=st.sampled_from(["remove", "enable", "disable"]),
    group=mostly(st.sampled_from(GROUPS)),
    who=who,
)
def test_groups_remove_enable_disable(hubctl: Hubctl, verb: str, group: str, who: Who) -> None:
    entries = hubctl.attempt("groups", verb, group, who=who)
    if entries is not None:
        assert [entry["row_key"] for entry in entries] in ([], [{"group_name": group}])


# ---------------------------------------------------------------------------------- tickers


@examples("tickers add")
@given(
    ticker=ticker_symbols, exchange=exchange_codes, names=st.lists(groupings, max_size=3), who=who
)
def test_tickers_add(
    hubctl: Hubctl, ticker: str, exchange: str, names: list[str], who: Who
) -> None:
    argv = [part for name in names for part in ("--grouping", name)]
    entries = hubctl.attempt("tickers", "add", ticker, "--exchange", exchange, *argv, who=who)
    if entries is not None:
        [entry] = entries
        row = entry["new_row"]
        assert (row["ticker"], row["exchange"], row["groupings"]) == (ticker, exchange, names)


@examples("tickers remove")
@given(ticker=mostly(st.sampled_from(TICKERS)), who=who)
def test_tickers_remove(hubctl: Hubctl, ticker: str, who: Who) -> None:
    entries = hubctl.attempt("tickers", "remove", ticker, who=who)
    if entries is not None:
        assert [(e["action"], e["row_key"]) for e in entries] == [("DELETE", {"ticker": ticker})]


@examples("tickers import")
@given(
    header=rarely_bad(st.sampled_from(["ticker,exchange,groupings,enabled", "ticker,exchange"])),
    rows=st.lists(
        st.tuples(
            rarely_bad(st.from_regex(TICKER_PATTERN, fullmatch=True)),
            rarely_bad(st.from_regex(EXCHANGE_CODE_PATTERN, fullmatch=True)),
            st.lists(rarely_bad(grouping_names), max_size=2).map(";".join),
            rarely_bad(st.sampled_from(["true", "false", ""])),
        ),
        max_size=6,
    ),
    raw=weighted((85, st.none()), (15, hostile)),
    who=who,
)
def test_tickers_import(
    hubctl: Hubctl, header: str, rows: list[tuple[str, ...]], raw: str | None, who: Who
) -> None:
    buffer = io.StringIO()
    columns = header.split(",")
    csv.writer(buffer).writerows([columns, *(row[: len(columns)] for row in rows)])
    path = hubctl.file("tickers.csv", buffer.getvalue() if raw is None else raw)
    if hubctl.attempt("tickers", "import", path, who=who) is not None and raw is None:
        for ticker, exchange, *_ in rows:
            stored = hubctl.row("tickers", "ticker = :t", t=ticker.strip())
            assert stored is not None and stored["exchange"] == exchange.strip()


# ---------------------------------------------------------------------------------- apply -f

group_items = st.fixed_dictionaries(
    {
        "group_name": rarely_bad(
            st.sampled_from(GROUPS) | st.from_regex(SLUG_PATTERN, fullmatch=True)
        ),
        "display_name": rarely_bad(free_text),
        "exchanges": st.lists(rarely_bad(exchange_codes), min_size=1, max_size=2),
        "primary_timezone": rarely_bad(zones),
    },
    optional={
        "market_open": clock(0, 12),
        "market_close": clock(12, 24),
        "enabled": st.booleans(),
        "priority": st.integers(0, 11),
    },
)
job_items = st.fixed_dictionaries(
    {
        "dag_name": rarely_bad(st.sampled_from(PIPELINES)),
        "job_name": rarely_bad(
            st.sampled_from(GROUPS) | st.from_regex(SLUG_PATTERN, fullmatch=True)
        ),
    },
    optional={
        "exchange_group": st.sampled_from([*GROUPS, "mars"]),
        "schedule": rarely_bad(crons),
        "batch_size": rarely_bad(st.integers(-5, 10**7)),
        "cpu_limit": JOB_VALUES["cpu_limit"],
        "params": st.fixed_dictionaries(
            {},
            optional={
                "lookback_days": rarely_bad(st.integers(1, 30)),
                "fail_tickers": st.lists(mostly(free_text), max_size=2),
                "pool": rarely_bad(st.from_regex(SLUG_PATTERN, fullmatch=True)),
            },
        ),
    },
)
ticker_items = st.fixed_dictionaries(
    {
        "ticker": rarely_bad(st.from_regex(TICKER_PATTERN, fullmatch=True)),
        "exchange": rarely_bad(st.from_regex(EXCHANGE_CODE_PATTERN, fullmatch=True)),
    },
    optional={
        "groupings": st.lists(rarely_bad(grouping_names), max_size=2),
        "enabled": rarely_bad(st.booleans()),
    },
)
sections = {
    "exchange_groups": st.lists(group_items, max_size=4),
    "jobs": st.lists(job_items, max_size=4),
    "tickers": st.lists(ticker_items, max_size=4),
}
documents = st.fixed_dictionaries({}, optional=sections).flatmap(
    lambda data: weighted((85, st.just(data)), (15, hostile.map(lambda key: {**data, key: 1})))
)
files = weighted(
    (75, documents.map(yamlio.dump)),
    (15, hostile),
    (
        10,
        st.sampled_from(
            [
                "jobs: [\n",
                "tickers:\n",
                "- 1\n- 2\n",
                "jobs: {a: 1}\n",
                "!!python/object/apply:os.system [id]\n",
                "a: &x [*x]\n",
            ]
        ),
    ),
)


@examples("apply -f")
@given(text=files, who=who)
def test_apply_file(hubctl: Hubctl, text: str, who: Who) -> None:
    path = hubctl.file("hub.yaml", text)
    if hubctl.attempt("apply", "-f", path, "--yes", who=who) is not None:
        planned = hubctl.run("plan", "-f", path, "--detailed-exitcode")
        assert planned.exit_code == 0, planned.output  # the database now holds the file, exactly


@examples("audit revert")
@given(
    entry=weighted((90, numbers(-5, 40)), (10, hostile)),
    reason=weighted((50, st.none()), (50, free_text)),
)
def test_audit_revert(hubctl: Hubctl, entry: str, reason: str | None) -> None:
    says = f"revert of audit entry {entry}" + (f": {reason}" if reason else "")
    written = hubctl.attempt("audit", "revert", entry, "--yes", who=(None, reason), says=says)
    assert written is None or len(written) == 1


def test_the_generated_inputs_add_up_to_at_least_1000() -> None:
    assert sum(EXAMPLES.values()) >= 1000
