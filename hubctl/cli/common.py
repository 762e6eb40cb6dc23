"""What the command groups share: who writes (the Author), the database, change reports."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hubctl.author import Apply, Author, WriteMode
from hubctl.cli.output import cell, echo

if TYPE_CHECKING:
    from hubctl.db import Database
    from hubctl.services.rows import RowChange

ActorOption = Annotated[
    str | None,
    typer.Option(
        "--actor",
        envvar="HUBCTL_ACTOR",
        help="Who makes the change, recorded in the audit log. Default: $HUBCTL_ACTOR, else the OS user.",
        show_envvar=False,
    ),
]
ReasonOption = Annotated[
    str | None, typer.Option("-m", "--reason", help="Why, recorded in the audit log.")
]


BreakGlassOption = Annotated[
    bool,
    typer.Option(
        "--break-glass",
        help="Emergency only: write a protected group's change without approval. Needs -m; the"
        " audit flags it and `hubctl doctor` reports it until acknowledged.",
    ),
]
ExpectVersionOption = Annotated[
    int | None,
    typer.Option("--expect-version", help="Refuse unless the row is still at this version."),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Validate and show the change; write nothing.")
]
AssignmentsArgument = Annotated[
    list[str],
    typer.Argument(
        help="KEY=VALUE pairs, e.g. batch_size=750 params.years_back=5 (see the fields below)."
    ),
]
_VERBS = {"create": "created", "update": "updated", "delete": "removed"}


def _os_user() -> str:
    """The login name; in a container the uid often has no passwd entry, so then `uid:1234`."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # KeyError before Python 3.13, OSError since
        return f"uid:{os.getuid()}"


@dataclass(frozen=True)
class Invocation:
    """What ``main`` hands every command as the root Click context's ``obj``: the command line
    typed, and how to write (``hubctl schedule add`` runs a command with mode Capture)."""

    command_line: str | None = None
    mode: WriteMode = field(default_factory=Apply)


def author(
    ctx: typer.Context, actor: str | None, reason: str | None, *, break_glass: bool = False
) -> Author:
    """Who writes: --actor, else $HUBCTL_ACTOR, else the OS user; with this run's command line and
    write mode (a command run without ``main``, e.g. by a test's runner, applies)."""
    invocation = ctx.find_root().obj or Invocation()
    return Author(
        actor=_os_user() if actor is None else actor,
        reason=reason,
        command_line=invocation.command_line,
        break_glass=break_glass,
        mode=invocation.mode,
    )


def database() -> Database:
    """The hub database of the settings (the embedded one when no URL is set)."""
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.db import Database

    return Database.from_settings()


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) and value == "" else cell(value) or "null"


def change_lines(change: RowChange) -> list[str]:
    """`  field: old -> new` for each changed field (all set fields for a new row)."""
    if change.action == "delete":
        return []
    return [
        f"  {name}: {_shown(old)} -> {_shown(new)}"
        if change.action == "update"
        else f"  {name}: {_shown(new)}"
        for name, (old, new) in change.changed.items()
    ]


def report(change: RowChange, *, dry_run: bool = False) -> None:
    """One line saying what happened to which row, then its changed fields."""
    what = f"{change.noun} {change.label}"
    if change.action == "none":
        echo(f"no change: {what} already has these values (version {change.version_before})")
        return
    if dry_run:
        echo(
            f"dry run: would {change.action} {what} (version {change.version_before});"
            " nothing written"
        )
    elif change.action == "delete":
        echo(f"removed {what} (was version {change.version_before})")
    else:
        versions = f"version {change.version_before} -> {change.version_after}"
        echo(
            f"{_VERBS[change.action]} {what} "
            f"({versions if change.version_before else f'version {change.version_after}'})"
        )
    for line in change_lines(change):
        echo(line)


AtOption = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="As it was then, rebuilt from the audit log: 3d, 12h (ago) or a time (UTC): 2026-03-03T14:00.",
    ),
]
