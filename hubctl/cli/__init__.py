"""hubctl: the command line. Each command parses options, makes one library call and renders.

Library exceptions become `Error: ...` and exit 1 here, in `main`, and nowhere else.
"""

from __future__ import annotations

import os
import sys

import typer

from hubctl import __version__
from hubctl.cli import db
from hubctl.errors import HubError

app = typer.Typer(
    name="hubctl",
    help="Control plane for Apache Airflow: configuration in Postgres, every change audited.\n\n"
    "Example: hubctl db upgrade",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"hubctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Show the version and exit.",
    ),
) -> None:
    """Control plane for Apache Airflow: configuration in Postgres, every change audited."""


def main() -> None:
    try:
        app(standalone_mode=False)
    except HubError as error:
        _fail(str(error))
    except Exception as error:  # the one place unexpected errors are turned into one line
        import click

        if isinstance(error, click.exceptions.Exit):
            sys.exit(error.exit_code)
        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(error.exit_code)
        if isinstance(error, click.exceptions.Abort):
            _fail("aborted")
        if os.environ.get("HUBCTL_DEBUG") == "1":
            raise
        _fail(describe_unexpected(error))


def describe_unexpected(error: Exception) -> str:
    from sqlalchemy.exc import DBAPIError, OperationalError

    if isinstance(error, OperationalError):
        return f"database unreachable: {str(error.orig).strip().splitlines()[0]}"
    if isinstance(error, DBAPIError) and error.orig is not None:
        return f"database refused the change: {str(error.orig).strip().splitlines()[0]}"
    return f"{type(error).__name__}: {error} (set HUBCTL_DEBUG=1 for the traceback)"


def _fail(message: str) -> None:
    typer.echo(f"Error: {message}", err=True)
    sys.exit(1)
