"""hubctl tickers: the universe of securities each group collects."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hubctl.cli.common import ActorOption, BreakGlassOption, ReasonOption, author, database, report
from hubctl.cli.output import OutputFormat, OutputOption, render

app = typer.Typer(help="The ticker universe: which securities are collected.", no_args_is_help=True)
TickerArgument = Annotated[
    str, typer.Argument(help="Ticker symbol as the source knows it, e.g. AZN.L.")
]


@app.command("list")
def list_tickers(
    group: Annotated[
        str | None, typer.Option("--group", help="Only tickers on this group's exchanges.")
    ] = None,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List tickers.

    Example: hubctl tickers list --group lse -o csv
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import reads

    render(
        reads.list_tickers(database(), group=group),
        output,
        columns=("ticker", "exchange", "groupings", "enabled", "version", "updated_by"),
    )


@app.command("add")
def add_ticker(
    ctx: typer.Context,
    ticker: TickerArgument,
    exchange: Annotated[str, typer.Option("--exchange", help="Exchange code, e.g. LSE.")],
    grouping: Annotated[
        list[str] | None,
        typer.Option("--grouping", help="Index or list it belongs to (repeat), e.g. ftse100."),
    ] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it disabled.")] = False,
    actor: ActorOption = None,
    reason: ReasonOption = None,
    break_glass: BreakGlassOption = False,
) -> None:
    """Add a ticker.

    Example: hubctl tickers add RIO.L --exchange LSE --grouping ftse100
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import tickers

    change = tickers.add_ticker(
        database(),
        ticker=ticker,
        exchange=exchange,
        groupings=grouping or [],
        enabled=not disabled,
        author=author(ctx, actor, reason, break_glass=break_glass),
    )
    report(change)


@app.command("remove")
def remove_ticker(
    ctx: typer.Context,
    ticker: TickerArgument,
    actor: ActorOption = None,
    reason: ReasonOption = None,
    break_glass: BreakGlassOption = False,
) -> None:
    """Remove a ticker from the universe (its stored prices stay).

    Example: hubctl tickers remove RIO.L -m "delisted"
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import tickers

    report(
        tickers.remove_ticker(
            database(), ticker=ticker, author=author(ctx, actor, reason, break_glass=break_glass)
        )
    )


@app.command("import")
def import_tickers(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV: ticker,exchange[,groupings][,enabled].")],
    actor: ActorOption = None,
    reason: ReasonOption = None,
    break_glass: BreakGlassOption = False,
) -> None:
    """Create and update tickers from a CSV file in one change set (removes none).

    The header names the columns; groupings are separated by ';'. Every bad line is reported and nothing is written unless the whole file is valid.

    Example: hubctl tickers import ftse.csv
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import tickers

    result = tickers.import_tickers(
        database(), path=file, author=author(ctx, actor, reason, break_glass=break_glass)
    )
    plan = result.plan
    typer.echo(
        f"imported {file}: {plan.count('create')} created, {plan.count('update')} updated"
        f" (change set {result.change_set})"
    )
