"""hubctl schedule: write commands to apply at a later time (the hub_scheduler job applies them)."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import shlex
from typing import TYPE_CHECKING, Annotated

import typer

from hubctl.cli.common import ActorOption, Invocation, ReasonOption, author, database
from hubctl.cli.output import OutputFormat, OutputOption, echo, render
from hubctl.errors import ValidationError

if TYPE_CHECKING:
    from hubctl.services.changes import ChangesCaptured

app = typer.Typer(
    help="Scheduled changes: any write command, applied at a later time by hub_scheduler.",
    no_args_is_help=True,
)
# The commands whose writes are configuration changes (one audited transaction each).
SCHEDULABLE = (("config",), ("groups",), ("tickers",), ("apply",), ("audit", "revert"))
LIST_COLUMNS = ("id", "run_at", "state", "summary", "actor", "reason", "note")
# Everything after the first word of the command belongs to that command, options included.
_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


def _require_schedulable(command: list[str]) -> None:
    if not any(tuple(command[: len(prefix)]) == prefix for prefix in SCHEDULABLE):
        known = ", ".join(" ".join(prefix) for prefix in SCHEDULABLE)
        raise ValidationError(
            f"command: {shlex.join(command[:2])!r} cannot be scheduled; schedule one of: {known}"
        )


def _captured(
    ctx: typer.Context, command: list[str], run_at: dt.datetime
) -> ChangesCaptured | None:
    """Run ``hubctl COMMAND`` in this process as it will run at ``run_at``, in Capture mode: what
    it would write (None: it made no audited change). Its output is discarded, its errors are not."""
    # deferred: the library takes ~170 ms to import; `hubctl --help` must not pay for it
    from hubctl.services.changes import ChangesCaptured
    from hubctl.services.schedule import capture_at

    root = ctx.find_root()
    capture = Invocation(command_line=shlex.join(["hubctl", *command]), mode=capture_at(run_at))
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            root.command.main(command, root.info_name, obj=capture, standalone_mode=False)
    except ChangesCaptured as captured:
        return captured
    except typer.TyperException as error:  # a usage error: unknown command, bad option
        raise ValidationError(f"command: {error}") from None
    return None


@app.command("add", context_settings=_PASS_THROUGH)
def add(
    ctx: typer.Context,
    at: Annotated[
        str,
        typer.Option(
            "--at", help="When to apply it: an ISO time with its zone, e.g. 2026-12-29T07:00Z."
        ),
    ],
    command: Annotated[
        list[str],
        typer.Argument(
            help="A write command and its options, as typed after hubctl.", metavar="COMMAND..."
        ),
    ],
) -> None:
    """Schedule a write command: it is checked now and applied at --at, if its target is unchanged.

    Example: hubctl schedule add --at 2026-12-29T07:00Z groups disable lse -m "closure"
    """
    from hubctl.services import schedule  # deferred: ~170 ms, as in _captured

    run_at = schedule.parse_run_at(at)
    _require_schedulable(command)
    change = schedule.add(
        database(),
        run_at=run_at,
        command=shlex.join(["hubctl", *command]),
        captured=_captured(ctx, command, run_at),
    )
    echo(f"scheduled #{change.id} for {change.run_at.isoformat()}: {change.summary}")


@app.command("list")
def list_changes(
    state: Annotated[
        str | None,
        typer.Option(
            "--state", help="Only these: scheduled, applied, suspended, cancelled, failed."
        ),
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List scheduled changes by time, with their state (and why one is suspended or failed).

    Example: hubctl schedule list --state suspended
    """
    from hubctl.services import schedule  # deferred: ~170 ms, as in _captured

    changes = schedule.list_changes(database(), state=state)
    render([change.to_dict() for change in changes], output, columns=LIST_COLUMNS)


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    change_id: Annotated[
        int, typer.Argument(help="The change's id (schedule list).", metavar="ID")
    ],
    actor: ActorOption = None,
    reason: ReasonOption = None,
) -> None:
    """Cancel a scheduled or suspended change; it is never applied.

    Example: hubctl schedule cancel 3 -m "LSE opens after all"
    """
    from hubctl.services import schedule  # deferred: ~170 ms, as in _captured

    change = schedule.cancel(database(), change_id=change_id, author=author(ctx, actor, reason))
    echo(f"cancelled #{change.id}: {change.summary}; it will not be applied")
