"""Every write path goes through hubctl.services.rows, so each table's write rules apply on all."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl.author import Author
from hubctl.db import Database
from hubctl.errors import ConflictError, ValidationError
from hubctl.services import audit, config, groups, rows
from hubctl.services.changes import audited_change
from hubctl.services.rows import FieldChanges, RowChange
from hubctl.tables import JOBS
from tests.support.configuration import add_tse_group
from tests.support.databases import database_of

HISTORICAL = {"dag_name": "historical_load_equities", "job_name": "tse"}


def _stored_params(engine: Engine, key: dict[str, str]) -> object:
    query = sa.text(
        "SELECT params FROM hub.dag_configuration WHERE dag_name = :dag_name AND job_name = :job_name"
    )
    with engine.connect() as conn:
        return conn.execute(query, key).scalar()


def test_a_planned_change_is_applied_through_the_tables_rules(default_config: Engine) -> None:
    """apply: the job's prepare rule normalises params ("5" -> 5) and checks the group."""
    database = database_of(default_config)
    after = {**HISTORICAL, "exchange_group": "lse", "params": {"years_back": "5"}}
    with audited_change(database, author=Author("t")) as conn:
        rows.apply_change(conn, RowChange(JOBS.name, HISTORICAL, "create", None, after))
    assert _stored_params(default_config, HISTORICAL) == {"years_back": 5}
    unknown = {**after, "job_name": "x", "exchange_group": "nowhere"}
    with (
        pytest.raises(ValidationError, match="exchange_group: unknown group 'nowhere'"),
        audited_change(database, author=Author("t")) as conn,
    ):
        key = {"dag_name": unknown["dag_name"], "job_name": "x"}
        rows.apply_change(conn, RowChange(JOBS.name, key, "create", None, unknown))


def test_a_revert_is_held_to_the_same_rules(default_config: Engine) -> None:
    """Reverting a job's removal after its group is gone is refused by the job's rule."""
    database = database_of(default_config)
    add_tse_group(database)
    config.add_job(database, **HISTORICAL, values={"exchange_group": "tse"}, author=Author("t"))
    config.remove_job(database, **HISTORICAL, author=Author("t"))
    with default_config.connect() as conn:
        removal = conn.execute(sa.text("SELECT max(id) FROM hub.audit_log")).scalar()
    groups.remove_group(database, group_name="tse", author=Author("t"))
    with pytest.raises(ValidationError, match="exchange_group: unknown group 'tse'"):
        audit.revert(database, entry_id=int(removal or 0), author=Author("t"))


def test_enable_and_disable_are_typed_edits(default_config: Engine) -> None:
    database = database_of(default_config)
    key = {"dag_name": "calculate_indicators", "job_name": "all"}
    change = config.set_job_enabled(database, **key, enabled=False, author=Author("t"))
    assert change.changed == {"enabled": (True, False)}
    again = config.set_job(
        database,
        **key,
        changes=FieldChanges({"enabled": False}),
        author=Author("t"),
        expect_version=2,
    )
    assert again.action == "none"
    with pytest.raises(ConflictError, match="at version 2, not 1"):
        config.set_job(
            database,
            **key,
            changes=FieldChanges({"enabled": True}),
            author=Author("t"),
            expect_version=1,
        )


def test_a_group_in_use_is_guarded_on_every_removal_path(default_config: Engine) -> None:
    database = Database(default_config.url.render_as_string(hide_password=False))
    with pytest.raises(ConflictError, match="group 'lse' is used by"):
        groups.remove_group(database, group_name="lse", author=Author("t"))
    with (
        pytest.raises(ConflictError, match="group 'lse' is used by"),
        audited_change(database, author=Author("t")) as conn,
    ):
        rows.apply_change(
            conn, RowChange("exchange_groups", {"group_name": "lse"}, "delete", {}, None)
        )
