"""Generate docs/cli.md from the Typer app, so the reference never drifts from the code.

python -m hubctl.cli.docgen > docs/cli.md
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import typer

from hubctl.cli import app

INTRO = """\
# hubctl command reference

Generated from the code by `python -m hubctl.cli.docgen > docs/cli.md`; do not edit by hand
(tests/cli/test_docs.py fails when this file and the code disagree).

## Conventions

- **Who and why.** Every command that writes takes `--actor NAME` (default: `$HUBCTL_ACTOR`, else
  the OS user) and `-m/--reason TEXT`; both land in the audit row of each changed row, with one
  change-set id per command. The command passes them, with `--break-glass` and the command line,
  to the library as one `Author` value (hubctl.author); nothing is carried on the side.
- **Output.** Every read command takes `-o/--output table|json|csv|yaml`: `table` is for people,
  the others keep the same field names for scripts (in CSV, lists and objects are JSON text).
- **Errors.** One line `Error: ...` on stderr naming the field, exit 1; usage errors exit 2; set
  `HUBCTL_DEBUG=1` for a traceback. A refused command writes nothing: no row, no audit entry.
- **KEY=VALUE.** `config set` and `groups set` take the row's field names. A list field
  (`exchanges`) takes comma-separated values; `null` (or an empty value) clears a nullable field
  such as `schedule`. `params.NAME=VALUE` sets one key of a job's params; the value is read as YAML
  (`params.years_back=5` is a number, `params.fail_tickers=[AAPL, MSFT]` a list) and
  `params.NAME=null` removes the key, so the pipeline's default applies again.
- **Optimistic concurrency.** `--expect-version N` refuses the write, showing the current
  version, unless the row is still at version N. Concurrent writers are serialised by a row lock.
- **Files.** `apply -f FILE` converges the database to the file for the sections the file
  contains (`exchange_groups`, `jobs`, `tickers`): rows the file lacks are removed, and `plan`
  lists them as removals (`-`); sections the file leaves out are not touched. `apply --defaults`
  only creates what is missing from the shipped defaults: it never changes or removes a row, so
  it is safe to run on a database operators have changed. `hubctl export` writes a file that
  `apply` reproduces exactly. Apply runs in one transaction and refuses if the database changed
  since the plan it showed.
- **Revert.** `audit revert ID -m WHY` shows the inverse of one entry and asks (`--yes` for
  scripts), then writes it as a new audited change; it is refused when a later entry changed the
  same row (revert that one first).
"""


def _walk(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    yield path, command
    for name in getattr(command, "list_commands", lambda ctx: [])(None):
        yield from _walk(command.get_command(None, name), [*path, name])


def _usage(command: Any, path: list[str]) -> str:
    pieces = ["hubctl", *path]
    if getattr(command, "params", None) and any(
        p.param_type_name == "option" for p in command.params
    ):
        pieces.append("[OPTIONS]")
    for param in command.params:
        if param.param_type_name == "argument":
            name = (param.name or "").upper()
            pieces.append(name if param.required else f"[{name}]")
            if param.nargs == -1:
                pieces[-1] += "..."
    if hasattr(command, "list_commands"):
        pieces.append("COMMAND [ARGS]...")
    return " ".join(pieces)


_TYPE_NAMES = {"str": "TEXT", "int": "INTEGER"}


def _value_hint(param: Any) -> str:
    """What an option takes: ` `TEXT``, ` `table|json|...`` (nothing for a flag)."""
    if getattr(param, "is_flag", False):
        return ""
    choices = getattr(param.type, "choices", None)
    if choices:
        return f" `{'|'.join(str(getattr(choice, 'value', choice)) for choice in choices)}`"
    return f" `{_TYPE_NAMES.get(param.type.name, param.type.name.upper())}`"


def _escape_pipes(text: str) -> str:
    """A | inside a Markdown table cell must be escaped, even inside `code`."""
    return text.replace("|", "\\|")


def _parameter_rows(command: Any) -> list[str]:
    rows = []
    for param in command.params:
        if param.param_type_name == "argument":
            names = f"`{(param.name or '').upper()}`"
        else:
            names = ", ".join(f"`{opt}`" for opt in [*param.opts, *param.secondary_opts])
            names += _value_hint(param)
        text = " ".join((getattr(param, "help", None) or "").split())
        rows.append(f"| {_escape_pipes(names)} | {_escape_pipes(text)} |")
    return rows


def _section(path: list[str], command: Any) -> str:
    title = " ".join(["hubctl", *path])
    lines = [f"## {title}", "", f"`{_usage(command, path)}`", ""]
    lines += [inspect.cleandoc(command.help or ""), ""]
    rows = _parameter_rows(command)
    if rows:
        lines += ["| argument / option | meaning |", "|---|---|", *rows, ""]
    return "\n".join(lines)


def generate() -> str:

    root = typer.main.get_command(app)
    sections = [_section(path, command) for path, command in _walk(root, [])]
    return INTRO + "\n" + "\n".join(sections)


def command_paths() -> list[tuple[list[str], str]]:
    """(path, help) of every command and group, for tests."""

    root = typer.main.get_command(app)
    return [(path, inspect.cleandoc(cmd.help or "")) for path, cmd in _walk(root, [])]


if __name__ == "__main__":
    print(generate(), end="")
