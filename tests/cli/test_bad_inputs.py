"""Bad input: every case exits 1 with one `Error:` line naming the field, and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.support.cli import Run, audit_rows, snapshot

DAG, JOB = "data_collection_equities", "us_markets"
SET = ("config", "set", DAG, JOB)
ADD_GROUP = (
    "groups",
    "add",
    "tse",
    "--exchange",
    "TSE",
    "--calendar",
    "XTKS",
    "--timezone",
    "Asia/Tokyo",
)
# Aliases nested five deep: 100 000 values from a few hundred bytes ("billion laughs").
LAUGHS = (
    "{a: &a [x,x,x,x,x,x,x,x,x,x], b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a],"
    " c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b], d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c],"
    " e: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]}"
)
LONG_LAUGHS = f"[&a {'x' * 2000}, *a, *a, *a, *a, *a]"  # few values, but long text repeated
INT4 = "2147483647"

BAD_INPUTS = [
    # (id, argv, a word the message must contain)
    ("bad cpu quantity", [*SET, "cpu_limit=lots"], "cpu_limit"),
    ("bad memory quantity", [*SET, "memory_limit=2GB"], "memory_limit"),
    ("zero cpu", [*SET, "cpu_request=0m"], "cpu_request"),
    ("cpu request over limit", [*SET, "cpu_request=3000m"], "cpu_request"),
    ("memory request over limit", [*SET, "memory_request=4Gi"], "memory_request"),
    ("negative batch size", [*SET, "batch_size=-5"], "batch_size"),
    ("zero timeout", [*SET, "timeout_seconds=0"], "timeout_seconds"),
    ("negative retries", [*SET, "max_retries=-1"], "max_retries"),
    ("negative retry delay", [*SET, "retry_delay_minutes=-2"], "retry_delay_minutes"),
    ("not a number", [*SET, "batch_size=many"], "batch_size"),
    ("priority above 10", [*SET, "priority=11"], "priority"),
    ("not a boolean", [*SET, "enabled=perhaps"], "enabled"),
    ("unknown key", [*SET, "colour=blue"], "colour"),
    ("not KEY=VALUE", [*SET, "batch_size"], "KEY=VALUE"),
    ("unknown group", [*SET, "exchange_group=mars"], "exchange_group"),
    ("bad cron", [*SET, "schedule=61 * * * *"], "schedule"),
    ("cron with four fields", [*SET, "schedule=0 17 * *"], "schedule"),
    ("unknown params key", [*SET, "params.colour=blue"], "params.colour"),
    ("params out of range", [*SET, "params.lookback_days=0"], "params.lookback_days"),
    ("unknown data source", [*SET, "params.source=bloomberg"], "params.source"),
    ("stale version", [*SET, "batch_size=600", "--expect-version", "7"], "version"),
    ("unknown pipeline", ["config", "add", "mining", "x"], "dag_name"),
    ("SQL in a job name", ["config", "add", DAG, "x'; DROP TABLE hub.tickers; --"], "job_name"),
    ("SQL in a group filter", ["config", "list", "--group", "lse' OR '1'='1"], "group"),
    ("NUL in a reason", [*SET, "batch_size=600", "-m", "why\x00not"], "reason"),
    ("NUL in a job name", ["config", "set", DAG, "us\x00markets", "batch_size=1"], "job_name"),
    ("NUL in a group name", ["groups", "disable", "l\x00se"], "group_name"),
    ("empty actor", [*SET, "batch_size=600", "--actor", " "], "actor"),
    ("bad timezone", [*ADD_GROUP[:-1], "Mars/Olympus"], "primary_timezone"),
    ("empty exchange list", ["groups", "set", "lse", "exchanges="], "exchanges"),
    ("lower-case exchange", [*ADD_GROUP[:4], "tse", *ADD_GROUP[5:]], "exchanges"),
    ("open after close", [*ADD_GROUP, "--open", "17:00", "--close", "09:00"], "market_open"),
    ("bad time", [*ADD_GROUP, "--open", "25:00"], "market_open"),
    ("empty display name", [*ADD_GROUP, "--display-name", ""], "display_name"),
    (
        "group name not a slug",
        ["groups", "add", "Tokyo Exchange", "--exchange", "TSE", "--timezone", "Asia/Tokyo"],
        "group_name",
    ),
    ("priority zero", ["groups", "set", "lse", "priority=0"], "priority"),
    ("remove a group in use", ["groups", "remove", "lse"], "group_name"),
    ("unknown group to show", ["groups", "show", "mars"], "group_name"),
    ("SQL in a ticker", ["tickers", "add", "AAPL;DELETE", "--exchange", "NASDAQ"], "ticker"),
    (
        "bad grouping",
        ["tickers", "add", "RIO.L", "--exchange", "LSE", "--grouping", "FTSE 100"],
        "groupings",
    ),
    ("duplicate ticker", ["tickers", "add", "AAPL", "--exchange", "NASDAQ"], "ticker"),
    ("bad --since", ["audit", "log", "--since", "last tuesday"], "since"),
    ("unknown audit table", ["audit", "log", "--table", "users"], "table"),
    ("unknown audit group", ["audit", "log", "--group", "mars"], "group"),
    ("revert a missing entry", ["audit", "revert", "99999", "-m", "x", "--yes"], "id"),
    ("plan without a file", ["plan"], "file"),
    (
        "batch size past the column",
        [*SET, "batch_size=99999999999"],
        f"batch_size: Input should be less than or equal to {INT4}",
    ),
    (
        "timeout past the column",
        [*SET, "timeout_seconds=2147483648"],
        f"timeout_seconds: Input should be less than or equal to {INT4}",
    ),
    ("retries past the column", [*SET, "max_retries=2147483648"], "max_retries"),
    (
        "--limit past its range",
        ["audit", "log", "--limit", "99999999999999999999"],
        f"limit: must be 0 (no limit) to {INT4}",
    ),
    (
        "--expect-version past bigint",
        [*SET, "batch_size=600", "--expect-version", "99999999999999999999"],
        "version",
    ),
    (
        "--max-snapshot-age past a timedelta",
        ["doctor", "--max-snapshot-age", "99999999999999999999"],
        "max-snapshot-age: must be 0 to",
    ),
    (
        "--since before year 1",
        ["audit", "log", "--since", "999999w"],
        "since: '999999w' reaches back before year 1",
    ),
    ("non-UTF-8 in a value", [*SET, "batch_size=5\udcff"], "batch_size: not valid UTF-8"),
    ("non-UTF-8 in a reason", [*SET, "batch_size=600", "-m", "a\udcffb"], "-m: not valid UTF-8"),
    (
        "non-UTF-8 in --actor=",
        [*SET, "batch_size=600", "--actor=\udcc3"],
        "--actor: not valid UTF-8",
    ),
    ("non-UTF-8 in a name", ["groups", "show", "l\udcffse"], "argument 3: not valid UTF-8"),
    (
        "alias bomb in one params key",
        [*SET, f"params.fail_tickers={LAUGHS}"],
        "params.fail_tickers: aliases expand past",
    ),
    ("alias bomb as params", [*SET, f"params={LAUGHS}"], "params: aliases expand past"),
    (
        "long text repeated by aliases",
        [*SET, f"params.fail_tickers={LONG_LAUGHS}"],
        "aliases expand past",
    ),
    (
        "alias holding itself",
        [*SET, "params.x=&a [1, *a]"],
        "params.x: alias *a refers to a value that holds it",
    ),
]


@pytest.mark.parametrize(
    ("argv", "field"), [case[1:] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS]
)
def test_bad_input_exits_1_names_the_field_and_writes_nothing(
    hub: Run, default_config: Engine, argv: list[str], field: str
) -> None:
    before = snapshot(default_config)
    result = hub(*argv)
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    assert field in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert snapshot(default_config) == before


BAD_FILES = [
    ("unknown top-level key", "exchange_group: []\n", "exchange_group"),
    (
        "unknown job key",
        "jobs:\n- {dag_name: calculate_indicators, job_name: all, colour: red}\n",
        "jobs[0].colour",
    ),
    (
        "wrong type",
        "jobs:\n- {dag_name: calculate_indicators, job_name: all, batch_size: [1]}\n",
        "jobs[0].batch_size",
    ),
    ("not YAML", "jobs: [\n", "YAML"),
    ("section is null", "tickers:\n", "tickers"),
    (
        "alias bomb in params",
        f"jobs:\n- {{dag_name: calculate_indicators, job_name: all, params: {LAUGHS}}}\n",
        "aliases expand past",
    ),
    (
        "alias bomb in exchanges",
        "groups:\n- group_name: tse\n  display_name: Tokyo\n  primary_timezone: Asia/Tokyo\n"
        f"  exchanges: {LAUGHS}\n",
        "aliases expand past",
    ),
    (
        "NUL in params",
        'jobs:\n- {dag_name: data_collection_equities, job_name: x, params: {fail_tickers: ["a\\0"]}}\n',
        "jobs[0].params",
    ),
]


@pytest.mark.parametrize(
    ("text", "field"), [case[1:] for case in BAD_FILES], ids=[case[0] for case in BAD_FILES]
)
def test_bad_file_is_refused_before_anything_is_written(
    hub: Run, default_config: Engine, tmp_path: Path, text: str, field: str
) -> None:
    path = tmp_path / "hub.yaml"
    path.write_text(text)
    before = snapshot(default_config)
    for command in ("plan", "apply"):
        result = (
            hub(command, "-f", str(path), "--yes")
            if command == "apply"
            else hub(command, "-f", str(path))
        )
        assert result.exit_code == 1 and field in result.stderr, result.stderr
    assert snapshot(default_config) == before


@pytest.mark.parametrize("command", ["plan", "tickers import"])
def test_a_file_that_is_not_utf8_names_file_and_line(
    hub: Run, default_config: Engine, tmp_path: Path, command: str
) -> None:
    path = tmp_path / "input"
    path.write_bytes(b"ticker,exchange\nAAPL,NASDAQ\nBAD\xff,LSE\n")
    before = snapshot(default_config)
    result = hub(*command.split(), *(["-f"] if command == "plan" else []), str(path))
    assert result.exit_code == 1
    assert result.stderr == f"Error: {path}: line 3: byte 0xff is not valid UTF-8\n"
    stdin = hub("plan", "-f", "-", input=b"jobs: []\n\xc3(\n")  # type: ignore[arg-type]
    assert stdin.stderr == "Error: stdin: line 2: byte 0xc3 is not valid UTF-8\n"
    assert snapshot(default_config) == before


def test_a_uid_without_a_passwd_entry_is_recorded_by_number(
    hub: Run, default_config: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import pwd

    def no_entry(uid: int) -> pwd.struct_passwd:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    for variable in ("HUBCTL_ACTOR", "LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(pwd, "getpwuid", no_entry)  # what a container's unknown uid looks like
    result = hub(*SET, "batch_size=650")
    assert result.exit_code == 0, result.stderr
    assert audit_rows(default_config)[-1]["actor"] == f"uid:{os.getuid()}"


def test_usage_errors_exit_2(hub: Run) -> None:
    assert hub("config", "set", DAG).exit_code == 2
    assert hub("config", "list", "-o", "xml").exit_code == 2
    assert hub("no-such-command").exit_code == 2


def test_unexpected_errors_are_one_line_unless_debugging(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql+psycopg2://nobody@127.0.0.1:1/none")
    from hubctl.settings import get_settings

    get_settings.cache_clear()
    result = run("config", "list")
    assert result.exit_code == 1 and result.stderr.startswith("Error: database unreachable")
    assert "Traceback" not in result.output
    monkeypatch.setenv("HUBCTL_DEBUG", "1")
    with pytest.raises(Exception, match=r"Connection refused|could not connect"):
        run("config", "list")


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("HUB_AIRFLOW_PORT", "80a", "Error: HUB_AIRFLOW_PORT: expected a whole number, got '80a'"),
        (
            "HUB_DATABASE_URL",
            "postgresql+asyncpg://u@h/db",
            "Error: database_url: expected postgresql:// or postgresql+psycopg2://",
        ),
    ],
)
def test_a_bad_setting_is_one_line_naming_it(
    hub: Run, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    from hubctl.settings import get_settings

    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    try:
        result = hub("config", "list")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert result.stderr.startswith(message) and len(result.stderr.splitlines()) == 1


def test_a_timezone_only_zoneinfo_knows_is_refused_naming_the_database(
    hub: Run, default_config: Engine, tmp_path: Path
) -> None:
    """A newer tzdata on the client than on the server: a real zone file under a new name."""
    import zoneinfo

    from hubctl import tables

    zone = tmp_path / "Hub" / "Newly_Named"
    zone.parent.mkdir()
    zone.write_bytes((Path(zoneinfo.TZPATH[0]) / "Europe" / "London").read_bytes())
    system_path = zoneinfo.TZPATH
    zoneinfo.reset_tzpath(to=[*system_path, str(tmp_path)])
    tables._timezones.cache_clear()
    before = snapshot(default_config)
    try:
        result = hub("groups", "set", "lse", "primary_timezone=Hub/Newly_Named")
    finally:
        zoneinfo.reset_tzpath(to=system_path)
        tables._timezones.cache_clear()
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: primary_timezone: 'Hub/Newly_Named' is known to")
    assert "not to the database server's timezone list" in result.stderr
    assert snapshot(default_config) == before
