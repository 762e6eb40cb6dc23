"""Stored text is shown as text: never rich markup, never terminal control, never a formula.

Hostile values go in through the real commands (an actor, a group's display name, a reason);
every table view the issue names must show them literally, with control characters escaped,
and the CSV views must neutralise formulas the OWASP way while keeping the text otherwise intact.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubctl.cli.output import OutputFormat, render
from hubctl.text import visible
from tests.support.cli import Run

DAG, JOB = "data_collection_equities", "lse"
ACTOR = "[/]"
DISPLAY = "LSE [/x] [link=https://evil.example]click[/link] :smile:"
REASON = '=HYPERLINK("https://evil.example")\n\x1b[31mred\x1b[0m "quoted", \x1b]8;;https://x\x07'
FORMULA_ACTOR = "-2+3"


@pytest.fixture
def hostile(hub: Run) -> Run:
    for argv in (
        ["groups", "set", "lse", f"display_name={DISPLAY}", "--actor", ACTOR, "-m", REASON],
        ["config", "set", DAG, JOB, "batch_size=501", "--actor", ACTOR, "-m", "@SUM(1)"],
        ["config", "set", DAG, "us_markets", "batch_size=502", "--actor", FORMULA_ACTOR],
    ):
        result = hub(*argv)
        assert result.exit_code == 0, result.stderr
    return hub


def newest_entry_id(hub: Run) -> str:
    return str(json.loads(hub("audit", "log", "--limit", "1", "-o", "json").stdout)[0]["id"])


@pytest.mark.parametrize(
    "argv",
    [
        ["config", "list"],
        ["config", "get", DAG, JOB],
        ["groups", "list"],
        ["groups", "show", "lse"],
        ["audit", "log"],
        ["audit", "show", "<group change>"],
    ],
    ids=lambda argv: " ".join(argv[:2]),
)
def test_every_table_view_shows_stored_text_literally(
    hostile: Run, argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if argv[-1] == "<group change>":
        entries = json.loads(hostile("audit", "log", "--table", "groups", "-o", "json").stdout)
        argv = [*argv[:2], str(entries[0]["id"])]
    monkeypatch.setenv("FORCE_COLOR", "1")  # render as on a terminal: styles and links live
    result = hostile(*argv)
    assert result.exit_code == 0, result.stderr
    shown = result.stdout
    assert "\x1b]8;" not in shown  # no hyperlink escape: neither rich's nor the stored one
    assert "\x1b[31mred" not in shown and "\x07" not in shown
    if argv[0] == "groups" or argv[:2] == ["audit", "show"]:
        assert "[link=https://evil.example]click[/link]" in shown
        assert ":smile:" in shown
    if argv[0] == "audit" or argv[:2] == ["config", "get"]:
        assert ACTOR in shown
    if argv[:2] == ["audit", "show"]:
        assert "\\x1b[31mred\\x1b[0m" in shown and "\\n" in shown


def test_change_reports_and_errors_escape_control_characters(hub: Run) -> None:
    result = hub("groups", "set", "lse", "display_name=a\x1b[2Jb", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "a\\x1b[2Jb" in result.stdout and "\x1b" not in result.stdout
    refused = hub("groups", "show", "x\x1b[2J")
    assert refused.exit_code == 1 and "\x1b" not in refused.stderr
    assert refused.stderr.count("\n") == 1


def neutralised(text: str) -> str:
    """The documented rule, undone: a leading ' before = + - @ tab CR was added by hubctl."""
    return text[1:] if text[:1] == "'" and text[1:2] in ("=", "+", "-", "@", "\t", "\r") else text


@pytest.mark.parametrize("argv", [["config", "list"], ["audit", "log"]], ids=" ".join)
def test_csv_neutralises_formulas_and_otherwise_round_trips(hostile: Run, argv: list[str]) -> None:
    as_json = json.loads(hostile(*argv, "-o", "json").stdout)
    rows = list(csv.DictReader(io.StringIO(hostile(*argv, "-o", "csv").stdout)))
    assert len(rows) == len(as_json)
    cells = [
        (row[name], value)
        for row, entry in zip(rows, as_json, strict=True)
        for name, value in entry.items()
    ]
    for text, value in cells:
        if isinstance(value, str):
            assert text[:1] not in ("=", "+", "-", "@", "\t", "\r")
            assert neutralised(text) == value  # newlines, quotes, ESC: all intact
    texts = [text for text, value in cells if isinstance(value, str)]
    if argv[0] == "audit":
        assert f"'{REASON}" in texts and "'@SUM(1)" in texts and f"'{FORMULA_ACTOR}" in texts
    else:
        assert f"'{FORMULA_ACTOR}" in texts and ACTOR in texts  # updated_by of the two jobs


def test_csv_numbers_stay_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    rows: list[dict[str, Any]] = [{"count": -5, "ratio": -0.5, "text": "-5", "flag": True}]
    render(rows, OutputFormat.csv)
    assert capsys.readouterr().out.splitlines()[1] == "-5,-0.5,'-5,true"


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.text(max_size=40))
def test_any_text_renders_as_itself_in_every_format(text: str) -> None:
    """Generated text, control characters and markup included: no error, nothing raw."""
    rows = [{"value": text, "number": -1}]
    for data in (rows, rows[0]):
        table = rendered(data, OutputFormat.table)
        assert not CONTROL.search(table.replace("\n", ""))
        assert text == "" or visible(text).split("\n")[0][:20] in table.replace("\n", "")
    [row] = list(csv.DictReader(io.StringIO(rendered(rows, OutputFormat.csv))))
    assert neutralised(row["value"]) == text
    assert row["number"] == "-1"
    assert json.loads(rendered(rows, OutputFormat.json)) == rows


CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def rendered(data: Any, output: OutputFormat) -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        render(data, output)
    return buffer.getvalue()
