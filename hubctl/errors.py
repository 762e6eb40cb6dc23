"""Library exceptions. The CLI turns every one of them into `Error: <message>` and exit 1."""


class HubError(Exception):
    """A problem the user can act on; the message is shown as is."""


class NotFoundError(HubError):
    pass


class ValidationError(HubError):
    pass


class ConflictError(HubError):
    """The row changed since the caller read it (optimistic concurrency)."""


class DatabaseUnavailableError(HubError):
    pass
