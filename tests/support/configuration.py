"""The hub configuration tests start from (the shipped defaults) and the rows they add to it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hubctl import configfile
from hubctl.author import Author, Capture
from hubctl.db import Database
from hubctl.services import documents, groups, schedule
from hubctl.services.changes import ChangesCaptured
from hubctl.services.rows import FieldChanges

# A port nothing listens on: every connection is refused at once.
CLOSED_PORT_URL = "postgresql+psycopg2://nobody@127.0.0.1:1/hub"
DEFAULT_GROUPS = ("us_markets", "lse", "german_markets", "european_markets")
DEFAULT_DAG_IDS = frozenset(
    {f"{dag}__{group}" for dag in ("data_collection_equities", "historical_load_equities")
     for group in DEFAULT_GROUPS}
    | {"calculate_indicators__all", "audit_anchor__hub", "hub_scheduler__hub", "hub_monitor__hub"}
)  # fmt: skip

# Tokyo: the group tests add, which the defaults do not have. As `hubctl groups add` arguments,
# and as a raw hub.exchange_groups row.
ADD_TSE = ("groups", "add", "tse", "--exchange", "TSE", "--timezone", "Asia/Tokyo")
TSE_ROW: dict[str, Any] = {
    "group_name": "tse",
    "display_name": "Tokyo",
    "exchanges": ["TSE"],
    "primary_timezone": "Asia/Tokyo",
    "calendar": "XTKS",
}


def apply_defaults(database: Database) -> None:
    """hubctl apply --defaults: the one place tests apply the shipped configuration."""
    documents.apply_document(
        database,
        configfile.load_defaults(),
        author=Author("pytest", reason="default configuration"),
    )


PYTEST = Author("pytest")


def add_tse_group(database: Database, calendar: str = "XTKS", author: Author = PYTEST) -> None:
    """Add the Tokyo group through the service, as `hubctl groups add` does."""
    groups.add_group(
        database,
        group_name="tse",
        exchanges=["TSE"],
        timezone="Asia/Tokyo",
        calendar=calendar,
        author=author,
    )


def protect_group(database: Database, group: str, author: Author = PYTEST) -> None:
    """Four-eyes on ``group``: one approval required (raising the policy needs none)."""
    groups.set_group(
        database,
        group_name=group,
        changes=FieldChanges({"approvals_required": 1}),
        author=author,
    )


def execute(engine: Engine, statement: str, **binds: Any) -> None:
    """One raw SQL statement, committed at once."""
    with engine.begin() as conn:
        conn.execute(sa.text(statement), binds)


def schedule_change(
    database: Database, run_at: dt.datetime, write: Callable[[Capture], Any]
) -> int:
    """What `hubctl schedule add` does: capture the write as it will run at ``run_at``, store it."""
    with pytest.raises(ChangesCaptured) as captured:
        write(schedule.capture_at(run_at))
    return schedule.add(database, run_at=run_at, command="test", captured=captured.value).id
