"""What asked for the change being made: the command line a person typed, when there is one.

A change request shows it (hubctl.services.requests) beside the captured row changes. The CLI's
entry point sets it once per run; library callers (the Markets page, jobs) leave it unset.
"""

from contextvars import ContextVar

command_line: ContextVar[str | None] = ContextVar("command_line", default=None)
