"""Library exceptions. The CLI turns every one of them into `Error: <message>` and exit 1."""

from collections.abc import Iterable


class HubError(Exception):
    """A problem the user can act on; the message is shown as is."""


class NotFoundError(HubError):
    pass


class ValidationError(HubError):
    pass


class ConflictError(HubError):
    """The row changed since the caller read it (optimistic concurrency)."""


class StaleChangeError(ConflictError):
    """A captured change's target row moved on since its base version was recorded."""


class ChangeRequested(HubError):
    """Not a failure: the change touched a protected group and became a change request.

    The CLI prints the message on stdout and exits 0; the Markets page answers 202.
    """

    def __init__(self, message: str, request_id: int) -> None:
        super().__init__(message)
        self.request_id = request_id


class DatabaseUnavailableError(HubError):
    pass


class DatabaseBusyError(HubError):
    """A lock or a statement outlasted its timeout: nothing was changed."""


def unknown(field_name: str, kind: str, value: str, known: Iterable[str]) -> ValidationError:
    """'group: unknown group 'x'; known: a, b' (what exists, so the user can pick)."""
    listed = ", ".join(sorted(known)) or "(none yet)"
    return ValidationError(f"{field_name}: unknown {kind} {value!r}; known: {listed}")
