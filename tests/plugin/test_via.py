"""Changes made on the Markets page are audited with via = 'web'; the CLI's stay 'hubctl'."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from hubctl.author import Author
from hubctl.db import Database
from hubctl.errors import ChangeRequested, ValidationError
from hubctl.plugin.app import change_requested
from hubctl.services import audit, config, groups, requests
from hubctl.services.rows import FieldChanges
from tests.support.configuration import protect_group
from tests.support.databases import web_login


def _last_entry(engine: Engine) -> dict[str, object]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT actor, via, reason FROM hub.audit_log ORDER BY id DESC LIMIT 1")
        ).mappings()
        return dict(row.one())


def test_each_service_the_page_calls_records_via_web(
    default_config: Engine, database: Database
) -> None:
    groups.set_group_enabled(
        database,
        group_name="lse",
        enabled=False,
        author=Author("ann", reason="holiday", via="web"),
    )
    assert _last_entry(default_config) == {"actor": "ann", "via": "web", "reason": "holiday"}
    change = config.set_job(
        database,
        dag_name="data_collection_equities",
        job_name="lse",
        changes=FieldChanges({"batch_size": 42}),
        author=Author("ann", via="web"),
    )
    assert change.changed == {"batch_size": (500, 42)}
    assert _last_entry(default_config)["via"] == "web"
    entry_id = audit.audit_log(database, limit=1)[0].id
    audit.revert(database, entry_id=entry_id, author=Author("bob", via="web"))
    assert _last_entry(default_config)["via"] == "web"
    config.set_job_enabled(
        database,
        dag_name="data_collection_equities",
        job_name="lse",
        enabled=False,
        author=Author("cli"),
    )
    assert _last_entry(default_config)["via"] == "hubctl"  # the default stays the CLI's


def test_the_database_refuses_an_unknown_via(default_config: Engine) -> None:
    with pytest.raises(IntegrityError), default_config.begin() as conn:
        conn.execute(
            sa.text("SELECT set_config('hub.actor', 'x', true), set_config('hub.via', 'ftp', true)")
        )
        conn.execute(
            sa.text("UPDATE hub.exchange_groups SET priority = 9 WHERE group_name = 'lse'")
        )


@pytest.fixture
def web_database(default_config: Engine, db_url: str) -> Iterator[Database]:
    """The Markets page's own login: it vouches for the signed-in user."""
    with web_login(db_url) as url:
        yield Database(url)


def test_a_page_write_to_a_protected_group_becomes_the_web_users_request(
    default_config: Engine, database: Database, web_database: Database
) -> None:
    protect_group(database, "lse", author=Author("ann"))
    with pytest.raises(ChangeRequested) as requested:
        groups.set_group_enabled(
            web_database,
            group_name="lse",
            enabled=False,
            author=Author("ann", reason="holiday", via="web"),
        )
    request = requests.show_request(database, request_id=requested.value.request_id)
    assert (request.requester, request.state, request.groups) == ("ann", "open", ["lse"])
    assert request.requested_by == "ann"  # vouched for by the page's login: needs exactly 1
    assert request.command.startswith("update ") and "lse: enabled true -> false" in request.command
    assert _last_entry(default_config) == {"actor": "ann", "via": "web", "reason": "holiday"}
    response = change_requested(None, requested.value)  # type: ignore[arg-type]
    assert response.status_code == 202
    assert json.loads(response.body)["requested"] == request.id
    assert "lse requires 1 approval" in json.loads(response.body)["message"]


def test_approvals_on_the_page_count_for_its_signed_in_user_only(
    default_config: Engine, database: Database, web_database: Database
) -> None:
    protect_group(database, "lse", author=Author("x"))
    with pytest.raises(ChangeRequested) as requested:
        groups.set_group_enabled(
            web_database, group_name="lse", enabled=False, author=Author("ann", via="web")
        )
    request_id = requested.value.request_id
    with pytest.raises(ValidationError, match="ann requested it and cannot approve it"):
        requests.approve(web_database, request_id=request_id, author=Author("ann", via="web"))
    with pytest.raises(ValidationError, match="cannot approve"):  # a claimed web user elsewhere
        requests.approve(database, request_id=request_id, author=Author("bob", via="web"))
    approved = requests.approve(
        web_database, request_id=request_id, author=Author("Bob", via="web")
    )
    assert (approved.state, approved.approvers) == ("approved", ["bob"])
    requests.apply(web_database, request_id=request_id, author=Author("bob", via="web"))
    assert requests.show_request(database, request_id=request_id).state == "applied"
