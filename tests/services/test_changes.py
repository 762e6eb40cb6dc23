"""audited_change follows the Author it is given: break-glass and the mode travel in it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl.author import Author, Capture
from hubctl.errors import ChangeRequested
from hubctl.services import groups
from hubctl.services.changes import ChangesCaptured
from hubctl.services.rows import FieldChanges
from tests.support.databases import database_of


def _protect_lse(engine: Engine) -> None:
    groups.set_group(
        database_of(engine),
        group_name="lse",
        changes=FieldChanges({"approvals_required": 1}),
        author=Author("admin"),
    )


def _last_entry(engine: Engine) -> dict[str, object]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT actor, reason, via, change_set FROM hub.audit_log ORDER BY id DESC")
        ).mappings()
        return dict(next(iter(row)))


def test_break_glass_reaches_the_audit_through_the_author(default_config: Engine) -> None:
    _protect_lse(default_config)
    database = database_of(default_config)
    with pytest.raises(ChangeRequested):
        groups.set_group_enabled(database, group_name="lse", enabled=False, author=Author("ann"))
    breaking = Author("ann", reason="feed down", via="web", break_glass=True)
    change = groups.set_group_enabled(database, group_name="lse", enabled=False, author=breaking)
    assert change.changed == {"enabled": (True, False)}
    entry = _last_entry(default_config)
    assert str(entry["change_set"]).startswith("break-glass:")
    assert (entry["actor"], entry["reason"], entry["via"]) == ("ann", "feed down", "web")


def test_a_captured_change_to_a_protected_group_is_captured_not_requested(
    default_config: Engine,
) -> None:
    """Capture records what the write would do; four-eyes applies when it is written later."""
    _protect_lse(default_config)
    with pytest.raises(ChangesCaptured) as captured:
        groups.set_group_enabled(
            database_of(default_config),
            group_name="lse",
            enabled=False,
            author=Author("ann", mode=Capture()),
        )
    assert [change.changed for change in captured.value.changes] == [{"enabled": (True, False)}]
    with default_config.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM hub.change_requests")).scalar() == 0
