"""hubctl export / plan / apply: the whole configuration as one YAML file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hubctl.cli.common import (
    ActorOption,
    AtOption,
    BreakGlassOption,
    ReasonOption,
    author,
    change_lines,
    database,
)
from hubctl.cli.output import OutputFormat, OutputOption, echo, render
from hubctl.errors import ValidationError

if TYPE_CHECKING:
    from hubctl.configfile import ConfigDocument, Mode
    from hubctl.services.documents import Plan

FileOption = Annotated[
    Path | None, typer.Option("-f", "--file", help="YAML file to converge to; '-' reads stdin.")
]
DefaultsOption = Annotated[
    bool,
    typer.Option(
        "--defaults", help="The shipped defaults: create what is missing, change nothing else."
    ),
]
_SIGNS = {"create": "+", "update": "~", "delete": "-"}
STDIN = Path("-")


def _document(file: Path | None, defaults: bool) -> tuple[ConfigDocument, Mode]:
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl import configfile

    if defaults == (file is not None):
        raise ValidationError("file: give exactly one of -f FILE or --defaults")
    if defaults:
        return configfile.load_defaults(), "add-missing"
    assert file is not None
    if file == STDIN:
        text = configfile.decode_text(sys.stdin.buffer.read(), source="stdin")
        return configfile.parse_text(text, source="stdin", database=database), "converge"
    return configfile.read_document(file, database=database), "converge"


def plan_dict(plan: Plan) -> dict[str, Any]:
    changes = [
        {
            "action": c.action,
            "table": c.table,
            "key": c.key,
            "version": c.version_before,
            "changes": {name: {"old": old, "new": new} for name, (old, new) in c.changed.items()},
        }
        for c in plan.changes
    ]
    summary = {action: plan.count(action) for action in ("create", "update", "delete")}
    return {
        "mode": plan.mode,
        "fingerprint": plan.fingerprint,
        "summary": summary,
        "changes": changes,
    }


def _print_plan(plan: Plan) -> None:
    if plan.empty:
        echo("No changes: the database already matches.")
        return
    print_changes(plan)
    echo(
        f"Plan: {plan.count('create')} to create, {plan.count('update')} to change, "
        f"{plan.count('delete')} to remove. Fingerprint {plan.fingerprint}."
    )


def print_changes(plan: Plan) -> None:
    """`+ table key`, `~ table key (version N)` with its changed fields, `- table key`."""
    for change in plan.changes:
        version = f" (version {change.version_before})" if change.version_before else ""
        echo(f"{_SIGNS[change.action]} {change.table} {change.label}{version}")
        if change.action == "update":
            for line in change_lines(change):
                echo(f"  {line}")


def export(
    defaults: Annotated[
        bool, typer.Option("--defaults", help="Print the shipped default configuration instead.")
    ] = False,
    at: AtOption = None,
) -> None:
    """Print the whole configuration as YAML; `apply -f` of it reproduces the database.

    --at prints it as it was at a past time, rebuilt from the audit log; `apply -f` of that goes back to it.

    Example: hubctl export --at 3d > three-days-ago.yaml
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl import configfile
    from hubctl.services import documents

    if defaults:
        if at is not None:
            raise ValidationError("at: --defaults are the shipped defaults; they have no history")
        typer.echo(configfile.defaults_text(), nl=False)
        return
    document = documents.export_document(database(), at=at)
    typer.echo(configfile.dump_document(document), nl=False)


def plan(
    file: FileOption = None,
    defaults: DefaultsOption = False,
    detailed_exitcode: Annotated[
        bool,
        typer.Option("--detailed-exitcode", help="Exit 0: no changes, 2: changes, 1: error."),
    ] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Show what apply would change: + create, ~ change, - remove.

    A file's sections (exchange_groups, jobs, tickers) replace the database's: rows the file lacks are removed; sections it omits are left alone. --defaults only ever creates.

    Example: hubctl plan -f hub.yaml --detailed-exitcode
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import documents

    document, mode = _document(file, defaults)
    planned = documents.plan_document(database(), document, mode=mode)
    if output is OutputFormat.table:
        _print_plan(planned)
    else:
        render(plan_dict(planned), output)
    if detailed_exitcode and not planned.empty:
        raise typer.Exit(2)


def apply(
    ctx: typer.Context,
    file: FileOption = None,
    defaults: DefaultsOption = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    expect_plan: Annotated[
        str | None,
        typer.Option("--expect-plan", help="Refuse unless the plan's fingerprint is this one."),
    ] = None,
    actor: ActorOption = None,
    reason: ReasonOption = None,
    break_glass: BreakGlassOption = False,
) -> None:
    """Apply a file (or the defaults) in one transaction: one change set, every row audited.

    Shows the plan and asks first (unless --yes); refuses if the database changed between that plan and the apply. --defaults only creates what is missing and never changes or removes existing rows, so it is safe to run again.

    Example: hubctl apply -f hub.yaml -m "Q3 review"
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import documents

    document, mode = _document(file, defaults)
    who = author(ctx, actor, reason, break_glass=break_glass)
    planned = documents.plan_document(database(), document, mode=mode)
    documents.check_fingerprint(planned, expect_plan)
    _print_plan(planned)
    if planned.empty:
        return
    if not yes:
        if file == STDIN:
            raise ValidationError("yes: the file came from stdin, so confirm with --yes")
        typer.confirm("Apply these changes?", abort=True)
    result = documents.apply_document(
        database(), document, mode=mode, expected_fingerprint=planned.fingerprint, author=who
    )
    typer.echo(f"Applied {len(result.plan.changes)} change(s) in change set {result.change_set}.")


def register(app: typer.Typer) -> None:
    """export, plan and apply are top-level commands."""
    for command in (export, plan, apply):
        app.command(command.__name__)(command)
