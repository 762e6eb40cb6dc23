"""Capture mode: a write recorded, not written, and what it wrote raised; applied later only on
its base."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl.author import Author, Capture
from hubctl.errors import StaleChangeError, ValidationError
from hubctl.services import config, deferred, groups, reads
from hubctl.services.changes import ChangesCaptured, audited_change
from hubctl.services.recorded import from_json, to_json
from hubctl.services.rows import FieldChanges
from tests.support.configuration import add_tse_group
from tests.support.databases import database_of

LSE = {"group_name": "lse"}


def _capturing(actor: str, reason: str | None = None, capture: Capture | None = None) -> Author:
    return Author(actor, reason=reason, mode=capture or Capture())


def _log_size(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM hub.audit_log")).scalar() or 0)


def _lse(engine: Engine) -> tuple[bool, int]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT enabled, version FROM hub.exchange_groups WHERE group_name = 'lse'")
        ).one()
    return row.enabled, row.version


def test_a_captured_change_is_not_written_and_applies_later(default_config: Engine) -> None:
    database, size, (_, version) = (
        database_of(default_config),
        _log_size(default_config),
        _lse(default_config),
    )
    with pytest.raises(ChangesCaptured) as raised:
        groups.set_group_enabled(
            database, group_name="lse", enabled=False, author=_capturing("ann", "x")
        )
    captured = raised.value
    assert (_lse(default_config), _log_size(default_config)) == ((True, version), size)
    [change] = captured.changes
    assert (change.table, change.key, change.action) == ("exchange_groups", LSE, "update")
    assert change.changed == {"enabled": (True, False)}
    author = captured.author
    assert (change.version_before, author.actor, author.reason) == (version, "ann", "x")

    stored = from_json(json.loads(json.dumps(to_json(captured.changes))))
    assert stored == captured.changes
    with audited_change(database, author=Author("ann")) as conn:
        [written] = deferred.apply_captured(conn, stored)
    assert (written.version_after, _lse(default_config)) == (version + 1, (False, version + 1))


def test_a_change_whose_row_moved_on_is_stale(default_config: Engine) -> None:
    database = database_of(default_config)
    with pytest.raises(ChangesCaptured) as captured:
        groups.set_group(
            database,
            group_name="lse",
            changes=FieldChanges({"priority": 2}),
            author=_capturing("a"),
        )
    groups.set_group_enabled(database, group_name="lse", enabled=False, author=Author("b"))
    size = _log_size(default_config)
    with (
        pytest.raises(
            StaleChangeError, match="group 'lse' changed since: it was at version 1, now 2"
        ),
        audited_change(database, author=Author("a")) as conn,
    ):
        deferred.apply_captured(conn, captured.value.changes)
    assert _log_size(default_config) == size


def test_a_create_is_stale_once_its_key_exists(default_config: Engine) -> None:
    database = database_of(default_config)
    with pytest.raises(ChangesCaptured) as captured:
        add_tse_group(database, author=_capturing("a"))
    assert [change.action for change in captured.value.changes] == ["create"]
    add_tse_group(database)
    with (
        pytest.raises(StaleChangeError, match="was created since"),
        audited_change(database, author=Author("a")) as conn,
    ):
        deferred.apply_captured(conn, captured.value.changes)


def test_reads_dry_runs_and_refusals_capture_nothing(default_config: Engine) -> None:
    database, size = database_of(default_config), _log_size(default_config)
    reads.list_groups(database)  # no audited change: nothing to capture, nothing raised
    with pytest.raises(ChangesCaptured) as captured:
        groups.set_group_enabled(
            database, group_name="lse", enabled=True, author=_capturing("a")
        )  # no change
    assert captured.value.changes == []
    with pytest.raises(ValidationError, match="batch_size"):
        config.set_job(
            database,
            dag_name="data_collection_equities",
            job_name="lse",
            changes=FieldChanges({"batch_size": -1}),
            author=_capturing("a"),
        )
    assert _log_size(default_config) == size


def test_prepare_runs_first_and_rolls_back_with_the_rest(default_config: Engine) -> None:
    """A capture can start from the rows as earlier captured changes will leave them."""
    database = database_of(default_config)
    with pytest.raises(ChangesCaptured) as disable:
        groups.set_group_enabled(database, group_name="lse", enabled=False, author=_capturing("a"))
    after_disable = Capture(
        prepare=lambda conn: deferred.apply_captured(conn, disable.value.changes)
    )
    with pytest.raises(ChangesCaptured) as enable:
        groups.set_group_enabled(
            database, group_name="lse", enabled=True, author=_capturing("a", capture=after_disable)
        )
    [change] = enable.value.changes
    assert (change.changed, change.version_before) == ({"enabled": (False, True)}, 2)
    assert _lse(default_config) == (True, 1)
