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


class DatabaseUnavailableError(HubError):
    pass


class DatabaseBusyError(HubError):
    """A lock or a statement outlasted its timeout: nothing was changed."""


def unknown(field_name: str, kind: str, value: str, known: Iterable[str]) -> ValidationError:
    """'group: unknown group 'x'; known: a, b' (what exists, so the user can pick)."""
    listed = ", ".join(sorted(known)) or "(none yet)"
    return ValidationError(f"{field_name}: unknown {kind} {value!r}; known: {listed}")
