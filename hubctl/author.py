"""Who makes a change, why, through which interface, and how it is to be written.

Every write takes one ``Author``: the CLI builds it from a command's options, the Markets page from
the signed-in Airflow user, the hub_scheduler job from the actor who scheduled a change. It travels
as an argument into ``hubctl.services.changes.audited_change``, which writes its actor, reason and
via into the audit log and follows its mode. Nothing else carries who acts or how.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from hubctl.errors import ValidationError

if TYPE_CHECKING:
    from psycopg2.extensions import connection as Connection

# Which interface made a change (audit_log.via): hubctl, the Markets page, or the hub_scheduler job
# applying a scheduled change; raw SQL is recorded as 'sql' by the trigger itself.
Via = Literal["hubctl", "web", "schedule"]

# The most characters the database stores (migration 0016; docs/audit.md): a reason or note, an
# actor, and other free text such as a scheduled command line or a scheduler's note.
REASON_LIMIT = 2000
ACTOR_LIMIT = 200
TEXT_LIMIT = 4000


@dataclass(frozen=True)
class Apply:
    """Write the change. One to a protected group is stored as a change request instead."""


@dataclass(frozen=True)
class Capture:
    """Record what the change would write, then roll it back (``hubctl schedule add``).

    ``prepare`` runs first in the transaction, e.g. to make the changes scheduled before this
    one, so the change sees the rows as they will be (its writes roll back with the rest).
    """

    prepare: Callable[[Connection], None] | None = None


WriteMode = Apply | Capture


@dataclass(frozen=True)
class Author:
    """The person (or job) behind a write, and how the write is to be made.

    ``command_line``: what a person typed, shown by a change request instead of its row changes.
    ``break_glass``: write a protected group's change without approval; the audit flags it.
    """

    actor: str
    reason: str | None = None
    via: Via = "hubctl"
    command_line: str | None = None
    break_glass: bool = False
    mode: WriteMode = field(default_factory=Apply)

    def __post_init__(self) -> None:
        for name, value in (("actor", self.actor), ("reason", self.reason or "")):
            if "\x00" in value:
                raise ValidationError(f"{name}: must not contain NUL characters")
            if not value.isascii() and _undecodable(value):
                raise ValidationError(f"{name}: not valid UTF-8 (e.g. from $HUBCTL_ACTOR)")
        if not self.actor.strip():
            raise ValidationError("actor: must not be empty")
        for name, value, limit in (
            ("actor", self.actor, ACTOR_LIMIT),
            ("reason", self.reason or "", REASON_LIMIT),
        ):
            if len(value) > limit:
                raise ValidationError(f"{name}: at most {limit} characters (got {len(value)})")


def _undecodable(text: str) -> bool:
    """Python keeps bytes that are not UTF-8 as lone surrogates; the database cannot store them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
