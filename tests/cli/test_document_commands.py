"""hubctl export / plan / apply: the whole configuration as one file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import typer
from sqlalchemy.engine import URL, Engine

from hubctl import configfile
from hubctl.author import Author
from hubctl.errors import ConflictError
from hubctl.services import documents
from hubctl.settings import get_settings
from tests.support.cli import Run, audit_rows, last_audit_id, snapshot
from tests.support.databases import database_of, scratch_database

DAG, JOB = "data_collection_equities", "us_markets"


@pytest.fixture
def other_database(pg_server_url: URL, template_database: str) -> Iterator[str]:
    """A second fresh, migrated database (export from one, apply to the other)."""
    with scratch_database(pg_server_url, "hub_other", template_database) as url:
        yield url


def use_database(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    get_settings.cache_clear()


def write(tmp_path: Path, text: str, name: str = "hub.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_export_then_apply_on_an_empty_database_reproduces_the_export(
    hub: Run, other_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert hub("config", "set", DAG, JOB, "batch_size=750", "params.pool=fast_lane").exit_code == 0
    assert hub("groups", "set", "lse", "market_close=17:05").exit_code == 0
    # thresholds and silences (a mapping of ISO times, which YAML must not read as timestamps)
    assert hub("groups", "set", "lse", "data_late_minutes=90").exit_code == 0
    silence = ("alerts", "silence", "data_late", "lse", "--until", "2099-01-01T09:00:00Z")
    assert hub(*silence).exit_code == 0
    exported = hub("export").stdout
    assert "2099-01-01T09:00:00Z" in exported
    use_database(monkeypatch, other_database)
    result = hub("apply", "-f", write(tmp_path, exported), "--yes", "-m", "clone")
    assert result.exit_code == 0, result.stderr
    assert "Applied 44 change(s)" in result.stdout
    assert hub("export").stdout == exported
    assert hub("plan", "-f", write(tmp_path, exported), "--detailed-exitcode").exit_code == 0


def test_apply_twice_the_second_plan_is_empty(run: Run, tmp_path: Path, engine: Engine) -> None:
    path = write(tmp_path, configfile.defaults_text())
    assert run("plan", "-f", path, "--detailed-exitcode").exit_code == 2
    first = run("apply", "-f", path, "--yes", "--actor", "dora", "-m", "initial load")
    assert first.exit_code == 0, first.stderr
    entries = audit_rows(engine)
    assert len(entries) == 44 and len({e["change_set"] for e in entries}) == 1
    assert {(e["actor"], e["reason"]) for e in entries} == {("dora", "initial load")}
    second = run("plan", "-f", path, "--detailed-exitcode")
    assert second.exit_code == 0 and "No changes" in second.stdout
    again = run("apply", "-f", path, "--yes")
    assert again.exit_code == 0 and last_audit_id(engine) == 44


def test_plan_shows_creates_changes_and_removals(hub: Run, tmp_path: Path) -> None:
    text = configfile.defaults_text().replace("priority: 10", "priority: 9")
    text = text.replace("  - {ticker: ASML.AS, exchange: EURONEXT, groupings: [aex]}\n", "")
    text += "  - {ticker: RIO.L, exchange: LSE, groupings: [ftse100]}\n"
    path = write(tmp_path, text)
    result = hub("plan", "-f", path, "--detailed-exitcode")
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert "~ exchange_groups us_markets (version 1)" in lines
    assert "    priority: 10 -> 9" in lines
    assert "+ tickers RIO.L" in lines and "- tickers ASML.AS (version 1)" in lines
    assert "Plan: 1 to create, 1 to change, 1 to remove." in lines[-1]
    data = json.loads(hub("plan", "-f", path, "-o", "json").stdout)
    assert data["summary"] == {"create": 1, "update": 1, "delete": 1}
    assert data["changes"][0]["changes"] == {"priority": {"old": 10, "new": 9}}


def test_apply_converges_only_the_sections_in_the_file(
    hub: Run, default_config: Engine, tmp_path: Path
) -> None:
    path = write(tmp_path, "tickers:\n  - {ticker: AAPL, exchange: NASDAQ, groupings: [sp500]}\n")
    result = hub("apply", "-f", path, "--yes")
    assert result.exit_code == 0, result.stderr
    after = snapshot(default_config)
    assert [t["ticker"] for t in after["tickers"]] == ["AAPL"]
    assert len(after["exchange_groups"]) == 4 and len(after["dag_configuration"]) == 12


def test_apply_defaults_adds_what_is_missing_and_keeps_user_changes(
    hub: Run, default_config: Engine
) -> None:
    assert hub("config", "set", DAG, JOB, "batch_size=750").exit_code == 0
    assert hub("config", "remove", "calculate_indicators", "all").exit_code == 0
    assert hub("tickers", "add", "RIO.L", "--exchange", "LSE").exit_code == 0
    plan = hub("plan", "--defaults")
    assert plan.stdout.splitlines()[0] == "+ dag_configuration calculate_indicators/all"
    assert hub("apply", "--defaults", "--yes").exit_code == 0
    rows = snapshot(default_config)
    jobs = {(j["dag_name"], j["job_name"]): j for j in rows["dag_configuration"]}
    assert jobs[(DAG, JOB)]["batch_size"] == 750 and ("calculate_indicators", "all") in jobs
    assert "RIO.L" in {t["ticker"] for t in rows["tickers"]}
    assert "No changes" in hub("plan", "--defaults").stdout


def test_apply_asks_first_and_aborts_on_no(
    hub: Run, default_config: Engine, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "exchange_groups:\n"
        + configfile.defaults_text()
        .split("exchange_groups:\n")[1]
        .split("\njobs:")[0]
        .replace("priority: 10", "priority: 9")
        + "\n",
    )
    before = snapshot(default_config)
    refused = hub("apply", "-f", path, input="n\n")
    assert refused.exit_code == 1 and "Apply these changes?" in refused.stdout
    assert snapshot(default_config) == before
    accepted = hub("apply", "-f", path, input="y\n")
    assert accepted.exit_code == 0 and "Applied 1 change(s)" in accepted.stdout


def test_apply_refuses_when_the_database_changed_after_the_plan(
    hub: Run, default_config: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path, configfile.defaults_text().replace("batch_size: 1000", "batch_size: 900")
    )

    def someone_else_writes_while_we_confirm(prompt: str, **_: object) -> bool:
        with default_config.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE hub.dag_configuration SET batch_size = 1200 WHERE dag_name = 'calculate_indicators'"
                )
            )
        return True

    monkeypatch.setattr(typer, "confirm", someone_else_writes_while_we_confirm)
    before = last_audit_id(default_config)
    result = hub("apply", "-f", path)
    assert result.exit_code == 1 and "the database changed since the plan" in result.stderr
    assert [e["via"] for e in audit_rows(default_config, before)] == ["sql"]  # only their change


def test_expect_plan_refuses_a_different_plan(
    hub: Run, default_config: Engine, tmp_path: Path
) -> None:
    path = write(
        tmp_path, configfile.defaults_text().replace("batch_size: 1000", "batch_size: 900")
    )
    fingerprint = json.loads(hub("plan", "-f", path, "-o", "json").stdout)["fingerprint"]
    assert hub("config", "set", "calculate_indicators", "all", "priority=6").exit_code == 0
    before = snapshot(default_config)
    result = hub("apply", "-f", path, "--yes", "--expect-plan", fingerprint)
    assert result.exit_code == 1 and fingerprint in result.stderr
    assert snapshot(default_config) == before


def test_library_apply_refuses_a_stale_fingerprint(default_config: Engine) -> None:
    document = configfile.parse_text("jobs: []\n")
    plan = documents.plan_document(database_of(default_config), document)
    assert plan.count("delete") == 12
    with default_config.begin() as conn:
        conn.execute(
            sa.text("UPDATE hub.dag_configuration SET priority = 1 WHERE job_name = 'lse'")
        )
    before = snapshot(default_config)
    with pytest.raises(ConflictError):
        documents.apply_document(
            database_of(default_config),
            document,
            author=Author("t", reason=None),
            expected_fingerprint=plan.fingerprint,
        )
    assert snapshot(default_config) == before


def test_a_file_with_many_problems_reports_them_all_at_once(
    hub: Run, default_config: Engine, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        """
exchange_groups:
  - {group_name: tse, display_name: Tokyo, exchanges: [TSE], primary_timezone: Asia/Nowhere}
jobs:
  - {dag_name: calculate_indicators, job_name: all, batch_size: 0}
  - {dag_name: data_collection_equities, job_name: x, params: {source: telex}}
  - {dag_name: calculate_indicators, job_name: all}
  - {dag_name: calculate_indicators, job_name: all}
""",
    )
    result = hub("plan", "-f", path)
    assert result.exit_code == 1
    for expected in (
        "exchange_groups[0].primary_timezone",
        "jobs[0].batch_size",
        "jobs[1]: params.source",
        "jobs[3]: duplicate job",
    ):
        assert expected in result.stderr, result.stderr


def test_a_job_needs_a_group_from_the_file_or_the_database(
    hub: Run, default_config: Engine, tmp_path: Path
) -> None:
    job = "jobs:\n  - {dag_name: historical_load_equities, job_name: lse, exchange_group: %s}\n"
    assert hub("plan", "-f", write(tmp_path, job % "lse")).exit_code == 0
    result = hub("plan", "-f", write(tmp_path, job % "mars"))
    assert result.exit_code == 1 and "jobs[0].exchange_group: unknown group 'mars'" in result.stderr
    groups_only = "exchange_groups: []\n"
    refused = hub("plan", "-f", write(tmp_path, groups_only))
    assert refused.exit_code == 1 and "would be removed but job" in refused.stderr


def test_stdin_needs_yes(hub: Run) -> None:
    exported = hub("export").stdout
    refused = hub("apply", "-f", "-", input=exported.replace("priority: 10", "priority: 9"))
    assert refused.exit_code == 1 and "--yes" in refused.stderr
    assert "No changes" in hub("apply", "-f", "-", "--yes", input=exported).stdout


def test_times_are_not_read_as_base_60_numbers(run: Run, engine: Engine, tmp_path: Path) -> None:
    """YAML 1.1 reads an unquoted 16:00 as the integer 960; it must stay 16:00."""
    text = (
        "exchange_groups:\n  - {group_name: tse, display_name: Tokyo, exchanges: [TSE],"
        " primary_timezone: Asia/Tokyo, calendar: XTKS, market_open: 08:00, market_close: 16:00}\n"
    )
    assert run("apply", "-f", write(tmp_path, text), "--yes").exit_code == 0
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT market_open, market_close FROM hub.exchange_groups")
        ).one()
    assert (str(row[0]), str(row[1])) == ("08:00:00", "16:00:00")
    short = run("plan", "-f", write(tmp_path, text.replace("08:00", "8:00")))
    assert short.exit_code == 1 and "market_open" in short.stderr


def test_export_defaults_prints_the_shipped_file(run: Run) -> None:
    assert run("export", "--defaults").stdout == configfile.defaults_text()
