"""The Author every write takes: what it refuses, whoever builds it (CLI, page, job)."""

from __future__ import annotations

import pytest

from hubctl.author import Apply, Author, Capture
from hubctl.errors import ValidationError


@pytest.mark.parametrize(
    ("actor", "reason", "error"),
    [
        ("", None, "actor: must not be empty"),
        ("  ", None, "actor: must not be empty"),
        ("a\x00b", None, "actor: must not contain NUL characters"),
        ("ann", "why\x00", "reason: must not contain NUL characters"),
        ("\udcc3nn", None, "actor: not valid UTF-8"),
        ("ann", "caf\udce9", "reason: not valid UTF-8"),
    ],
)
def test_an_author_refuses_what_the_audit_cannot_store(
    actor: str, reason: str | None, error: str
) -> None:
    with pytest.raises(ValidationError, match=error):
        Author(actor, reason=reason)


def test_an_author_applies_through_hubctl_unless_told_otherwise() -> None:
    author = Author("zoë", reason="über")
    assert (author.via, author.mode, author.break_glass, author.command_line) == (
        "hubctl",
        Apply(),
        False,
        None,
    )
    web = Author("ann", via="web", mode=Capture())
    assert (web.via, web.mode) == ("web", Capture())
