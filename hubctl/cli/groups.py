"""hubctl groups: exchange groups (markets sharing a timezone and trading hours)."""

from __future__ import annotations

from typing import Annotated

import typer

from hubctl.author import Author
from hubctl.cli.common import (
    ActorOption,
    AssignmentsArgument,
    BreakGlassOption,
    DryRunOption,
    ExpectVersionOption,
    ReasonOption,
    author,
    database,
    report,
)
from hubctl.cli.output import OutputFormat, OutputOption, render
from hubctl.tables import GROUPS

app = typer.Typer(
    help="Exchange groups: enable or disable a market's DAGs, change its hours.",
    no_args_is_help=True,
)
GroupArgument = Annotated[str, typer.Argument(help="Group name, e.g. lse.")]
LIST_COLUMNS = (*GROUPS.spec_fields, "version", "updated_by")


@app.command("list")
def list_groups(
    enabled: Annotated[
        bool | None, typer.Option("--enabled/--disabled", help="Only enabled or disabled groups.")
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List exchange groups.

    Example: hubctl groups list -o json
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import reads

    render(reads.list_groups(database(), enabled=enabled), output, columns=LIST_COLUMNS)


@app.command("show")
def show_group(group: GroupArgument, output: OutputOption = OutputFormat.table) -> None:
    """Show one group with its jobs and the tickers on its exchanges.

    Example: hubctl groups show lse
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import reads

    render(reads.show_group(database(), group_name=group), output)


@app.command("add")
def add_group(
    ctx: typer.Context,
    group: GroupArgument,
    exchange: Annotated[
        list[str], typer.Option("--exchange", help="Exchange code (repeat for several), e.g. LSE.")
    ],
    timezone: Annotated[
        str, typer.Option("--timezone", help="IANA timezone of the market, e.g. Europe/London.")
    ],
    display_name: Annotated[
        str | None, typer.Option("--display-name", help="Default: from the group name.")
    ] = None,
    market_open: Annotated[
        str | None, typer.Option("--open", help="Local opening time, HH:MM (default 09:30).")
    ] = None,
    market_close: Annotated[
        str | None, typer.Option("--close", help="Local closing time, HH:MM (default 16:00).")
    ] = None,
    priority: Annotated[int | None, typer.Option("--priority", help="1 to 10 (default 5).")] = None,
    calendar: Annotated[
        str | None,
        typer.Option(
            "--calendar",
            help="Trading calendar: XNYS, XLON, XETR, XPAR, ... or weekday"
            " (default: the exchanges' own, when they have one).",
        ),
    ] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it disabled.")] = False,
    actor: ActorOption = None,
    reason: ReasonOption = None,
    break_glass: BreakGlassOption = False,
) -> None:
    """Add an exchange group.

    Example: hubctl groups add tse --exchange TSE --timezone Asia/Tokyo --open 09:00 --close 15:00 --calendar XTKS
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import groups

    change = groups.add_group(
        database(),
        group_name=group,
        exchanges=exchange,
        timezone=timezone,
        display_name=display_name,
        market_open=market_open,
        market_close=market_close,
        priority=priority,
        calendar=calendar,
        enabled=not disabled,
        author=author(ctx, actor, reason, break_glass=break_glass),
    )
    report(change)


@app.command("set", epilog=f"Fields:\n\n{GROUPS.field_help()}")
def set_group(
    ctx: typer.Context,
    group: GroupArgument,
    assignments: AssignmentsArgument,
    expect_version: ExpectVersionOption = None,
    dry_run: DryRunOption = False,
    actor: ActorOption = None,
    reason: ReasonOption = None,
    break_glass: BreakGlassOption = False,
) -> None:
    """Change fields of a group; exchanges take a comma-separated list.

    Example: hubctl groups set lse market_close=17:00 exchanges=LSE,AIM -m "AIM joins"
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.cli.assignments import parse_assignments
    from hubctl.services import groups

    change = groups.set_group(
        database(),
        group_name=group,
        changes=parse_assignments(assignments, table=GROUPS),
        expect_version=expect_version,
        dry_run=dry_run,
        author=author(ctx, actor, reason, break_glass=break_glass),
    )
    report(change, dry_run=dry_run)


def _set_enabled(group: str, enabled: bool, who: Author) -> None:
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import groups

    change = groups.set_group_enabled(database(), group_name=group, enabled=enabled, author=who)
    report(change)


@app.command("enable")
def enable_group(
    ctx: typer.Context,
    group: GroupArgument,
    actor: ActorOption = None,
    reason: ReasonOption = None,
    break_glass: BreakGlassOption = False,
) -> None:
    """Enable a group: the DAGs of its enabled jobs come back within seconds.

    Example: hubctl groups enable lse
    """
    _set_enabled(group, True, author(ctx, actor, reason, break_glass=break_glass))


@app.command("disable")
def disable_group(
    ctx: typer.Context,
    group: GroupArgument,
    actor: ActorOption = None,
    reason: ReasonOption = None,
    break_glass: BreakGlassOption = False,
) -> None:
    """Disable a group: its DAGs stop within seconds; jobs, tickers and history are kept.

    Example: hubctl groups disable lse -m "LSE outage"
    """
    _set_enabled(group, False, author(ctx, actor, reason, break_glass=break_glass))


@app.command("remove")
def remove_group(
    ctx: typer.Context,
    group: GroupArgument,
    actor: ActorOption = None,
    reason: ReasonOption = None,
    break_glass: BreakGlassOption = False,
) -> None:
    """Remove a group no job uses (refused, listing the jobs, otherwise).

    Example: hubctl groups remove tse -m "market dropped"
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import groups

    report(
        groups.remove_group(
            database(), group_name=group, author=author(ctx, actor, reason, break_glass=break_glass)
        )
    )
