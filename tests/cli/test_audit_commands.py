"""hubctl audit: log, show, verify, revert."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl.settings import get_settings
from tests.support.audit import RECOMPUTE_CHAIN, tamper
from tests.support.cli import Run, audit_rows, last_audit_id, snapshot
from tests.support.configuration import ADD_TSE

DAG, JOB = "data_collection_equities", "us_markets"
LOG_FIELDS = {
    "id",
    "occurred_at",
    "actor",
    "via",
    "action",
    "table",
    "key",
    "changes",
    "reason",
    "change_set",
    "row_hash",
}


UNDO = ("-m", "undo it", "--yes")


def set_batch(hub: Run, size: int, *extra: str) -> int:
    result = hub("config", "set", DAG, JOB, f"batch_size={size}", *extra)
    assert result.exit_code == 0, result.stderr
    return int(json.loads(hub("audit", "log", "--limit", "1", "-o", "json").stdout)[0]["id"])


def job_value(engine: Engine, column: str) -> object:
    with engine.connect() as conn:
        query = sa.text(
            f"SELECT {column} FROM hub.dag_configuration WHERE dag_name = :d AND job_name = :j"
        )
        return conn.scalar(query, {"d": DAG, "j": JOB})


def test_log_json_has_the_stable_fields(hub: Run) -> None:
    set_batch(hub, 750, "--actor", "alice", "-m", "bigger batches")
    [entry] = json.loads(hub("audit", "log", "--limit", "1", "-o", "json").stdout)
    assert set(entry) >= LOG_FIELDS
    assert (entry["actor"], entry["via"], entry["action"], entry["table"]) == (
        "alice",
        "hubctl",
        "UPDATE",
        "dag_configuration",
    )
    assert entry["key"] == {"dag_name": DAG, "job_name": JOB}
    assert entry["changes"] == {"batch_size": {"old": 500, "new": 750}}
    assert entry["reason"] == "bigger batches"


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--actor", "alice"], 1),
        (["--table", "tickers"], 28),
        (["--table", "groups"], 4),
        (["--dag", "historical_load_equities"], 4),
        (["--group", "lse"], 1 + 2 + 6),  # the group, its two jobs, its six tickers
        (["--since", "1h"], 45),
        (["--until", "2000-01-01"], 0),
        (["--since", "2000-01-01", "--limit", "5"], 5),
        (["--limit", "0"], 45),
    ],
)
def test_log_filters(hub: Run, flags: list[str], expected: int) -> None:
    set_batch(hub, 750, "--actor", "alice")
    result = hub("audit", "log", *flags, "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)) == expected


def test_log_of_a_removed_group_still_works(hub: Run) -> None:
    assert hub(*ADD_TSE, "--calendar", "XTKS").exit_code == 0
    assert hub("groups", "remove", "tse").exit_code == 0
    actions = [
        e["action"] for e in json.loads(hub("audit", "log", "--group", "tse", "-o", "json").stdout)
    ]
    assert actions == ["DELETE", "INSERT"]


def test_log_csv_and_table(hub: Run) -> None:
    set_batch(hub, 750, "-m", "why, with a comma")
    lines = hub("audit", "log", "--limit", "1", "-o", "csv").stdout.splitlines()
    assert lines[0].startswith("id,occurred_at,actor,via,action,table,key,changes,reason")
    assert '"why, with a comma"' in lines[1]
    table = hub("audit", "log", "--limit", "1")
    assert "batch_size: 500 -> 750" in table.stdout and "showing the 1 newest" in table.stderr


def test_show_puts_old_and_new_side_by_side(hub: Run) -> None:
    entry_id = set_batch(hub, 750)
    table = hub("audit", "show", str(entry_id)).stdout
    assert "batch_size" in table and "500" in table and "750" in table
    shown = json.loads(hub("audit", "show", str(entry_id), "-o", "json").stdout)
    assert shown["old"]["batch_size"] == 500 and shown["new"]["batch_size"] == 750


def test_verify_reports_the_chain(hub: Run, default_config: Engine) -> None:
    result = json.loads(hub("audit", "verify", "-o", "json").stdout)
    assert result["ok"] is True and result["rows_checked"] == 44 and result["last_id"] == 44
    assert len(result["last_hash"]) == 64


def test_verify_exits_1_with_the_first_broken_id_when_tampered(
    hub: Run, default_config: Engine
) -> None:
    with default_config.begin() as conn:
        conn.execute(sa.text("ALTER TABLE hub.audit_log DISABLE TRIGGER ALL"))
        conn.execute(sa.text("UPDATE hub.audit_log SET actor = 'mallory' WHERE id = 7"))
    result = hub("audit", "verify")
    assert result.exit_code == 1
    assert (
        result.stderr.strip()
        == "Error: audit chain broken at id 7: row_hash does not match the row's content"
    )


def test_revert_update_restores_old_values_and_is_audited(hub: Run, default_config: Engine) -> None:
    entry_id = set_batch(hub, 750)
    result = hub("audit", "revert", str(entry_id), "--actor", "carol", "-m", "too big", "--yes")
    assert result.exit_code == 0, result.stderr
    assert job_value(default_config, "batch_size") == 500
    revert_entry = audit_rows(default_config)[-1]
    assert revert_entry["actor"] == "carol"
    assert revert_entry["reason"] == f"revert of audit entry {entry_id}: too big"
    assert revert_entry["changed_fields"] == {"batch_size": {"old": 750, "new": 500}}


def test_revert_of_a_superseded_entry_is_refused(hub: Run, default_config: Engine) -> None:
    first = set_batch(hub, 750)
    later = set_batch(hub, 800)
    before = snapshot(default_config)
    result = hub("audit", "revert", str(first), *UNDO)
    assert result.exit_code == 1 and f"by entry {later}" in result.stderr
    assert snapshot(default_config) == before


@pytest.mark.parametrize(
    ("table", "restore"),
    [("tickers", "hubctl tickers import FILE"), ("dag_configuration", "hubctl apply -f EXPORT")],
)
def test_revert_after_a_truncate_says_how_to_restore_instead(
    hub: Run, default_config: Engine, table: str, restore: str
) -> None:
    """A TRUNCATE cannot be reverted: the message must not send the user to revert it first."""
    entry_id = set_batch(hub, 750)
    if table == "tickers":
        assert hub("tickers", "add", "RIO.L", "--exchange", "LSE").exit_code == 0
        entry_id = last_audit_id(default_config)
    with default_config.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE hub.{table}"))
    truncate_id = last_audit_id(default_config)
    before = snapshot(default_config)
    result = hub("audit", "revert", str(entry_id), *UNDO)
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert f"entry {truncate_id} truncated hub.{table} after audit entry {entry_id}" in line
    assert "a TRUNCATE cannot be reverted" in line and restore in line
    assert f"revert {truncate_id} first" not in line
    assert hub("audit", "revert", str(truncate_id), *UNDO).exit_code == 1  # indeed it cannot
    assert snapshot(default_config) == before


def test_revert_refuses_a_row_changed_behind_the_audit(hub: Run, default_config: Engine) -> None:
    entry_id = set_batch(hub, 750)
    with default_config.begin() as conn:  # a superuser edits the row with the triggers off
        conn.execute(sa.text("ALTER TABLE hub.dag_configuration DISABLE TRIGGER ALL"))
        conn.execute(
            sa.text(
                "UPDATE hub.dag_configuration SET batch_size = 1 WHERE job_name = 'us_markets' AND dag_name = :d"
            ),
            {"d": DAG},
        )
    result = hub("audit", "revert", str(entry_id), *UNDO)
    assert result.exit_code == 1 and "batch_size" in result.stderr


def test_revert_insert_removes_and_revert_delete_restores(hub: Run, default_config: Engine) -> None:
    assert hub("tickers", "add", "RIO.L", "--exchange", "LSE").exit_code == 0
    insert_id = last_audit_id(default_config)
    assert hub("audit", "revert", str(insert_id), *UNDO).exit_code == 0
    assert "RIO.L" not in json.dumps(json.loads(hub("tickers", "list", "-o", "json").stdout))
    assert hub("config", "remove", DAG, JOB).exit_code == 0
    delete_id = last_audit_id(default_config)
    assert hub("audit", "revert", str(delete_id), *UNDO).exit_code == 0
    assert job_value(default_config, "schedule") == "@after_close+90m"
    assert job_value(default_config, "params") == {"source": "sample", "lookback_days": 5}


def test_log_since_accepts_dates_and_durations(hub: Run) -> None:
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert len(json.loads(hub("audit", "log", "--since", today, "-o", "json").stdout)) == 44
    assert (
        json.loads(hub("audit", "log", "--since", "2w", "--until", "1w", "-o", "json").stdout) == []
    )


def test_anchor_then_verify_with_anchors_names_the_disagreeing_anchor(
    hub: Run, default_config: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_AUDIT_KEY", "an anchor key kept far from the database")
    get_settings.cache_clear()
    store = tmp_path / "anchors"
    made = json.loads(hub("audit", "anchor", "--anchors", str(store), "-o", "json").stdout)
    assert made["last_id"] == last_audit_id(default_config) == made["count"]
    checked = hub("audit", "verify", "--anchors", str(store), "-o", "json")
    assert checked.exit_code == 0 and json.loads(checked.stdout)["anchors_checked"] == 1
    assert json.loads(checked.stdout)["rows_per_second"] > 0
    tamper(default_config, "UPDATE hub.audit_log SET reason = 'rewritten' WHERE id = 1")
    tamper(default_config, RECOMPUTE_CHAIN)
    assert hub("audit", "verify").exit_code == 0
    for extra in ((), ("--incremental",)):
        failed = hub("audit", "verify", "--anchors", str(store), *extra)
        assert failed.exit_code == 1
        assert failed.stderr.startswith(f"Error: anchor on line 1 (last_id {made['last_id']}")


def test_log_jsonl_streams_the_same_entries_as_json(hub: Run, default_config: Engine) -> None:
    set_batch(hub, 750)
    streamed = hub("audit", "log", "--limit", "0", "-o", "jsonl").stdout.splitlines()
    listed = json.loads(hub("audit", "log", "--limit", "0", "-o", "json").stdout)
    assert [json.loads(line) for line in streamed] == listed
    assert len(streamed) == last_audit_id(default_config)


def test_since_and_until_bound_the_log_together(hub: Run, default_config: Engine) -> None:
    first = set_batch(hub, 600)
    with default_config.connect() as conn:
        between = conn.scalar(sa.text("SELECT clock_timestamp()")).isoformat()
    second = set_batch(hub, 700)
    window = ["audit", "log", "--dag", DAG, "-o", "json"]
    before = json.loads(hub(*window, "--since", "1h", "--until", between).stdout)
    after = json.loads(hub(*window, "--since", between, "--until", "0m").stdout)
    assert first in [e["id"] for e in before] and second not in [e["id"] for e in before]
    assert [e["id"] for e in after] == [second]


def test_csv_reasons_with_newlines_quotes_and_commas_read_back_identical(hub: Run) -> None:
    import csv
    import io

    reasons = ["line one\nline two", 'she said "stop", then left', "tab\tand\r\nCRLF", "üñí ✓"]
    for size, reason in enumerate(reasons, start=601):
        set_batch(hub, size, "-m", reason)
    # The bytes: click's Result.stdout turns \r\n into \n for convenience.
    text = hub("audit", "log", "--limit", str(len(reasons)), "-o", "csv").stdout_bytes.decode()
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [row["reason"] for row in rows] == reasons[::-1]
    assert [row["actor"] for row in rows] == ["pytest"] * len(reasons)


def test_a_second_shell_finds_the_key_hubctl_up_made(
    hub: Run, hub_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 22 item 12: only HUB_HOME set, as in a new shell next to `hubctl up`'s."""
    from hubctl import anchors

    monkeypatch.delenv("HUB_AUDIT_KEY", raising=False)
    monkeypatch.delenv("HUB_AUDIT_KEY_FILE", raising=False)
    anchors.ensure_local_key(hub_env)  # what `hubctl up` does
    made = hub("audit", "anchor", "-o", "json")
    assert made.exit_code == 0, made.stderr
    store = hub_env / "audit-anchors.jsonl"  # the README tour's path under HUB_HOME=.hub
    assert json.loads(store.read_text())["last_id"] == json.loads(made.stdout)["last_id"]
    assert hub("audit", "verify", "--anchors", str(store)).exit_code == 0


def test_the_readme_tour_says_what_groups_show_prints(hub: Run) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    [line] = [line for line in readme.splitlines() if line.startswith("hubctl groups show ")]
    command, comment = line.split("#", 1)
    shown = hub(*command.split()[1:])
    assert shown.exit_code == 0 and "XNYS" in shown.stdout and "XNYS" in comment
    assert "@after_close" not in comment  # the tour promised a schedule the command never shows
    assert "hubctl audit verify --anchors .hub/audit-anchors.jsonl" in readme  # HUB_HOME is .hub


def test_revert_requires_a_reason_shows_the_change_and_asks(
    hub: Run, default_config: Engine
) -> None:
    """Issue 22 item 13: the tour's `audit revert 42` deleted a ticker without a reason or a word."""
    entry_id = set_batch(hub, 750)
    before = snapshot(default_config)
    unexplained = hub("audit", "revert", str(entry_id), "--yes")
    assert unexplained.exit_code == 1 and unexplained.stderr == "Error: reason: say why (-m)\n"
    declined = hub("audit", "revert", str(entry_id), "-m", "too big", input="n\n")
    assert declined.exit_code == 1 and "would update job" in declined.stdout
    assert "batch_size: 750 -> 500" in declined.stdout
    assert snapshot(default_config) == before  # the preview rolled back, the answer was no
    confirmed = hub("audit", "revert", str(entry_id), "-m", "too big", input="y\n")
    assert confirmed.exit_code == 0 and job_value(default_config, "batch_size") == 500
    assert audit_rows(default_config)[-1]["reason"] == f"revert of audit entry {entry_id}: too big"


LAST_HOUR_OF_9999_IN_NEW_YORK = "9999-12-31T23:00-05:00"  # year 10000 in UTC


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["config", "list", "--at", LAST_HOUR_OF_9999_IN_NEW_YORK], "at"),
        (["audit", "diff", "0m", LAST_HOUR_OF_9999_IN_NEW_YORK], "to"),
        (["audit", "log", "--since", LAST_HOUR_OF_9999_IN_NEW_YORK], "since"),
        (["schedule", "add", "--at", LAST_HOUR_OF_9999_IN_NEW_YORK, "groups", "disable", "lse",
          "-m", "far"], "at"),
    ],
)  # fmt: skip
def test_a_time_past_year_9999_in_utc_is_one_error_line(
    hub: Run, args: list[str], option: str
) -> None:
    """Issue 22 item 14: `--at` in year 10000 printed `ValueError: year 10000 is out of range`."""
    result = hub(*args)
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: {option}: must be before year 10000 (UTC)\n",
    )


@pytest.mark.parametrize("command", [["anchor"], ["verify"], ["verify", "--incremental"]])
def test_an_anchor_path_under_a_file_is_one_error_line(
    hub: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """Issue 22 item 14: it printed a raw NotADirectoryError."""
    monkeypatch.setenv("HUB_AUDIT_KEY", "an anchor key kept far from the database")
    get_settings.cache_clear()
    (tmp_path / "a-file").write_text("")
    under = tmp_path / "a-file" / "anchors"
    result = hub("audit", *command, "--anchors", str(under))
    assert result.exit_code == 1
    assert result.stderr == f"Error: --anchors: {under / 'audit-anchors.jsonl'}: Not a directory\n"
