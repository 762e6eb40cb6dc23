"""hubctl requests: four-eyes change requests for protected groups, and break-glass reviews."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hubctl.cli.common import ActorOption, ReasonOption, author, database, report
from hubctl.cli.output import OutputFormat, OutputOption, echo, render

if TYPE_CHECKING:
    from hubctl.db import Database
    from hubctl.services.requests import ChangeRequest

app = typer.Typer(
    help="Change requests: a write to a group with approvals_required >= 1 waits here for"
    " another person's approval (docs/governance.md).",
    no_args_is_help=True,
)
RequestArgument = Annotated[int, typer.Argument(help="The request's number, e.g. 12.")]
LoginOption = Annotated[
    str | None,
    typer.Option(
        "--login",
        envvar="HUBCTL_LOGIN",
        show_envvar=False,
        help="Your own database login (hubctl db add-login NAME --approver): only a person's"
        " login counts. Password: PGPASSWORD, ~/.pgpass, else asked for. Default: $HUBCTL_LOGIN.",
    ),
]


def _database_as(login: str | None) -> Database:
    """The hub database as the person's own login (a password prompt on a terminal when libpq
    has none), else as configured."""
    if login is None:
        return database()
    known = (
        os.environ.get("PGPASSWORD")
        or Path(os.environ.get("PGPASSFILE", "~/.pgpass")).expanduser().exists()
    )
    password = (
        None if known or not sys.stdin.isatty() else getpass.getpass(f"password for {login}: ")
    )
    return database().as_login(login, password)


LIST_COLUMNS = ("id", "state", "groups", "requester", "approvals", "created_at", "command")


def _row(request: ChangeRequest) -> dict[str, Any]:
    return {
        **request.to_dict(),
        "approvals": f"{len(request.approvers)}/{request.approvals_required}",
    }


@app.command("list")
def list_requests(
    state: Annotated[
        str | None,
        typer.Option(
            "--state", help="Only requests in this state: open, approved, rejected, applied, stale."
        ),
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List change requests, oldest first.

    Example: hubctl requests list --state open -o json
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import requests

    rows = [_row(request) for request in requests.list_requests(database(), state=state)]
    render(rows, output, columns=LIST_COLUMNS)


@app.command("show")
def show_request(request_id: RequestArgument, output: OutputOption = OutputFormat.table) -> None:
    """Show one request: what it changes (with each row's base version), who asked and approved.

    Example: hubctl requests show 12 -o yaml
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import requests

    render(_row(requests.show_request(database(), request_id=request_id)), output)


def _decided(request: ChangeRequest, verb: str) -> None:
    echo(
        f"{verb} request #{request.id}: now {request.state}"
        f" ({len(request.approvers)} of {request.approvals_required} approvals)"
    )


@app.command("approve")
def approve(
    ctx: typer.Context,
    request_id: RequestArgument,
    login: LoginOption = None,
    actor: ActorOption = None,
    reason: ReasonOption = None,
) -> None:
    """Approve another person's request with your own login (the requester cannot approve).

    Only a person's login counts (--login, or the Markets page): the shared runtime login's
    approvals are refused, whatever --actor claims.

    Example: hubctl requests approve 12 --login bob -m "checked the batch size"
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import requests

    approved = requests.approve(
        _database_as(login), request_id=request_id, author=author(ctx, login or actor, reason)
    )
    _decided(approved, "approved")


@app.command("reject")
def reject(
    ctx: typer.Context,
    request_id: RequestArgument,
    actor: ActorOption = None,
    reason: ReasonOption = None,
) -> None:
    """Reject (or, as its requester, withdraw) an open or approved request.

    Example: hubctl requests reject 12 -m "not during the close"
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import requests

    _decided(
        requests.reject(database(), request_id=request_id, author=author(ctx, actor, reason)),
        "rejected",
    )


@app.command("apply")
def apply(
    ctx: typer.Context,
    request_id: RequestArgument,
    actor: ActorOption = None,
    reason: ReasonOption = None,
) -> None:
    """Apply an approved request in one transaction; refused as stale if a target row changed since.

    Example: hubctl requests apply 12
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import requests

    for change in requests.apply(
        database(), request_id=request_id, author=author(ctx, actor, reason)
    ):
        report(change)


@app.command("ack-break-glass")
def ack_break_glass(
    ctx: typer.Context,
    change_set: Annotated[
        str, typer.Argument(help="The break-glass change set, as doctor shows it.")
    ],
    login: LoginOption = None,
    actor: ActorOption = None,
    reason: ReasonOption = None,
) -> None:
    """Record with your own login that you reviewed another person's break-glass change, so
    doctor stops reporting it (audited).

    Example: hubctl requests ack-break-glass break-glass:4f1c... --login bob -m "reviewed"
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import requests

    item = requests.acknowledge_break_glass(
        _database_as(login), change_set=change_set, author=author(ctx, login or actor, reason)
    )
    echo(f"acknowledged {item.change_set} ({item.actor}: {item.reason})")


@app.command("break-glass")
def list_break_glass(output: OutputOption = OutputFormat.table) -> None:
    """List break-glass changes nobody has acknowledged yet.

    Example: hubctl requests break-glass -o json
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import requests

    pending = requests.unacknowledged_break_glass(database())
    render([vars(item) for item in pending], output)
