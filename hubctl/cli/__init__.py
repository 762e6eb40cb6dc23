"""hubctl: the command line. Each command parses options, makes one library call and renders.

Library exceptions become `Error: ...` and exit 1 here, in `main`, and nowhere else. Command
modules import the library inside each command, so `hubctl --help` stays fast.
"""

from __future__ import annotations

import inspect
import logging
import os
import shlex
import sys
from typing import Any

import typer

from hubctl import __version__
from hubctl.cli import (
    alerts,
    audit,
    config,
    dags,
    db,
    document,
    groups,
    ops,
    requests,
    runs,
    schedule,
    tickers,
    up,
)
from hubctl.cli.common import Invocation
from hubctl.cli.output import echo
from hubctl.errors import ChangeRequested, HubError, ValidationError
from hubctl.tables import CONTROL_TABLES

app = typer.Typer(
    name="hubctl",
    help="Control plane for Apache Airflow: configuration in Postgres, every change audited.\n\n"
    "Example: hubctl config list --group lse",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(config.app, name="config")
app.add_typer(groups.app, name="groups")
app.add_typer(tickers.app, name="tickers")
app.add_typer(audit.app, name="audit")
app.add_typer(dags.app, name="dags")
app.add_typer(runs.app, name="runs")
app.add_typer(requests.app, name="requests")
app.add_typer(schedule.app, name="schedule")
app.add_typer(alerts.app, name="alerts")
document.register(app)
app.command(name="up")(up.up)
app.command(name="listen")(up.listen)
app.command(name="status")(ops.status)
app.command(name="doctor")(ops.doctor)


def unwrapped_help(text: str) -> str:
    """``text`` with each paragraph on one line: Typer keeps a docstring's hard line breaks and
    rich then wraps those lines again at the terminal's width, into ragged lines. Blank lines
    and each `Example:` line stay as written."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(_joined(paragraph.splitlines()) for paragraph in paragraphs)


def _joined(lines: list[str]) -> str:
    joined: list[str] = []
    for line in lines:
        if joined and not line.lstrip().startswith("Example"):
            joined[-1] = f"{joined[-1]} {line.strip()}"
        else:
            joined.append(line.strip())
    return "\n".join(joined)


def _unwrap_every_help(group: typer.Typer) -> None:
    """Apply unwrapped_help to every command's docstring (and group help) under ``group``, once."""
    for command in group.registered_commands:
        text = command.help or inspect.getdoc(command.callback)
        command.help = None if text is None else unwrapped_help(text)
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _unwrap_every_help(sub.typer_instance)


_unwrap_every_help(app)


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


def main(args: list[str] | None = None) -> None:
    """The console script: run the app; turn every failure into one `Error:` line and exit 1.

    Usage errors exit 2 and `typer.Exit(code)` exits with its code (Typer's standalone mode).
    A write that became a change request (a protected group) is no failure: its message goes
    to stdout and the exit code is 0. The command line reaches every command as the root
    context's ``obj`` (an Invocation), so a change request can show what was typed.
    """
    _show_library_warnings()
    argv = sys.argv[1:] if args is None else args
    try:
        _refuse_undecodable(argv)
        app(args=argv, obj=Invocation(command_line=shlex.join(["hubctl", *argv])))
    except ChangeRequested as request:
        echo(str(request))
        sys.exit(0)
    except HubError as error:
        _fail(str(error))
    except Exception as error:  # the one place unexpected errors are turned into one line
        if os.environ.get("HUBCTL_DEBUG") == "1":
            raise
        _fail(describe_unexpected(error))


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test runners swap it between invocations)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _show_library_warnings() -> None:
    """The library logs what the user should know but that is no failure (e.g. Airflow unreachable)."""
    library_logger = logging.getLogger("hubctl")
    if any(isinstance(handler, _CurrentStderr) for handler in library_logger.handlers):
        return
    handler = _CurrentStderr()
    handler.setFormatter(logging.Formatter("Warning: %(message)s"))
    library_logger.addHandler(handler)
    library_logger.propagate = False


def _argument_field(args: list[str], index: int) -> str:
    """What an argument is: the key of KEY=VALUE, the option it is the value of, or its position."""
    argument = args[index]
    if "=" in argument and (argument.startswith("--") or not argument.startswith("-")):
        return argument.split("=", 1)[0]
    if index and args[index - 1].startswith("-"):
        return args[index - 1]
    return f"argument {index + 1}"


def _refuse_undecodable(args: list[str]) -> None:
    """Python keeps bytes that are not UTF-8 as lone surrogates; the database cannot store them."""
    for index, argument in enumerate(args):
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError as error:
            field = _argument_field(args, index).encode("utf-8", "backslashreplace").decode()
            raise ValidationError(
                f"{field}: not valid UTF-8 (character {error.start + 1} of the argument)"
            ) from None


def _constraint_field(constraint: str, table: str | None) -> str:
    """ck_dag_configuration_batch_size_positive -> batch_size (the column the rule is about)."""

    control = CONTROL_TABLES.get(table or "")
    rest = constraint.removeprefix("ck_").removeprefix("fk_").removeprefix(f"{table}_")
    columns = sorted(control.columns if control else [], key=len, reverse=True)
    return next((column for column in columns if rest.startswith(column)), rest)


def _driver_error(error: Exception) -> Exception | None:
    """The psycopg2 error behind ``error``: itself (read commands) or SQLAlchemy's ``orig``."""
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    import psycopg2

    if isinstance(error, psycopg2.Error):
        return error
    orig = getattr(error, "orig", None)
    return orig if isinstance(orig, psycopg2.Error) else None


def describe_unexpected(error: Exception) -> str:
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    import psycopg2

    driver_error = _driver_error(error)
    if driver_error is None:
        return f"{type(error).__name__}: {error} (set HUBCTL_DEBUG=1 for the traceback)"
    first_line = str(driver_error).strip().splitlines()[0]
    lost = (psycopg2.OperationalError, psycopg2.InterfaceError)
    if isinstance(driver_error, lost) and driver_error.pgcode is None:
        return f"database unreachable: {first_line}"
    diag = getattr(driver_error, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    if constraint:
        field = _constraint_field(constraint, getattr(diag, "table_name", None))
        return f"{field}: the database refused the change ({constraint}): {first_line}"
    return f"database refused the change: {first_line}"


def _fail(message: str) -> None:

    echo(f"Error: {message}", err=True)
    sys.exit(1)
