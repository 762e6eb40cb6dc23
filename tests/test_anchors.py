"""Signed anchors outside the database catch what a superuser can do to the chain itself."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path

import pytest
import sqlalchemy as sa

from hubctl import anchors
from hubctl.anchors import AnchorKey
from hubctl.db import Database
from hubctl.errors import ConflictError, ValidationError
from hubctl.services import audit
from tests.support.audit import RECOMPUTE_CHAIN, tamper
from tests.test_audit import make_history

KEY = AnchorKey(b"a key the database never sees")


@pytest.fixture
def store(tmp_path: Path, engine: sa.Engine, database: Database) -> Path:
    """Two anchors (after entries 5 and 8) and two entries after the second one."""
    path = tmp_path / "anchors"
    make_history(engine, changes=5)
    audit.anchor(database, store=path, key=KEY)
    make_history_more(engine, 3)
    audit.anchor(database, store=path, key=KEY)
    make_history_more(engine, 2)
    return path / anchors.ANCHOR_FILE


def make_history_more(engine: sa.Engine, changes: int) -> None:
    with engine.begin() as conn:
        for _ in range(changes):
            conn.execute(sa.text("UPDATE hub.dag_configuration SET batch_size = batch_size + 1"))


def stored_anchors(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def check(
    database: Database, path: Path, *, incremental: bool = False
) -> audit.chain.AnchoredReport:
    return audit.verify_anchored(database, store=path, incremental=incremental, key=KEY)


def test_anchors_are_signed_lines_of_where_the_chain_stood(store: Path, database: Database) -> None:
    first, second = stored_anchors(store)
    assert (first["last_id"], first["count"], second["last_id"], second["count"]) == (5, 5, 8, 8)
    assert set(first) == {"last_id", "last_hash", "count", "time", "key_id", "signature"}
    assert first["key_id"] == KEY.key_id and KEY.secret.decode() not in store.read_text()
    full, incremental = check(database, store), check(database, store, incremental=True)
    assert full.ok and full.chain.rows_checked == 10 and full.anchors_checked == 2
    assert incremental.ok and incremental.chain.rows_checked == 2  # only what follows entry 8
    assert incremental.chain.count == 10 and incremental.chain.last_id == 10


def test_plain_verify_is_unchanged_by_anchors(store: Path, database: Database) -> None:
    report = audit.verify(database)
    assert report.ok and report.rows_checked == 10 and report.last_id == 10


def test_a_rewritten_and_rehashed_chain_is_caught_by_the_first_anchor(
    store: Path, engine: sa.Engine, database: Database
) -> None:
    tamper(engine, "UPDATE hub.audit_log SET reason = 'nothing to see' WHERE id = 3")
    tamper(engine, RECOMPUTE_CHAIN)
    assert audit.verify(database).ok  # the gap anchors close
    full = check(database, store)
    assert not full.ok and full.disagreeing_anchor is not None
    assert full.disagreeing_anchor.startswith("anchor on line 1 (last_id 5")
    assert "another hash" in (full.problem or "")
    incremental = check(database, store, incremental=True)
    assert (incremental.disagreeing_anchor or "").startswith("anchor on line 2 (last_id 8")


def test_a_cut_tail_with_the_head_moved_is_caught_by_the_anchor_past_the_cut(
    store: Path, engine: sa.Engine, database: Database
) -> None:
    tamper(engine, "DELETE FROM hub.audit_log WHERE id > 6")
    tamper(
        engine,
        "UPDATE hub.audit_chain_head SET last_id = 6,"
        " last_hash = (SELECT row_hash FROM hub.audit_log WHERE id = 6)",
    )
    plain = audit.verify(database)
    assert plain.problem is None  # the chain itself holds; the tables no longer replay from it
    assert "batch_size is 9, the audit log replays 5" in (plain.failure or "")
    for incremental in (False, True):
        report = check(database, store, incremental=incremental)
        assert (report.disagreeing_anchor or "").startswith("anchor on line 2 (last_id 8")
        assert report.problem == "entry 8 is no longer in the chain"


def test_a_consistent_fake_chain_is_caught(
    store: Path, engine: sa.Engine, database: Database
) -> None:
    """Everything replaced by a chain the triggers themselves wrote, ids and counts alike."""
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM hub.dag_configuration"))
    tamper(engine, "DELETE FROM hub.audit_log")
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER SEQUENCE hub.audit_log_id_seq RESTART WITH 1"))
        conn.execute(sa.text("UPDATE hub.audit_chain_head SET last_id = NULL, last_hash = NULL"))
    make_history(engine, changes=5)
    make_history_more(engine, 5)
    assert audit.verify(database).ok and audit.verify(database).rows_checked == 10
    report = check(database, store)
    assert (report.disagreeing_anchor or "").startswith("anchor on line 1 (last_id 5")
    assert "another hash" in (report.problem or "")


@pytest.mark.parametrize(
    ("forge", "problem"),
    [
        ({"signature": "00" * 32}, "the signature does not match its content (forged or edited)"),
        ({"count": 99}, "the signature does not match its content (forged or edited)"),
        ({"key_id": "0123456789abcdef"}, "signed with another key"),
    ],
)
def test_an_anchor_forged_without_the_key_is_named(
    store: Path, database: Database, forge: dict[str, object], problem: str
) -> None:
    forged = {**stored_anchors(store)[1], **forge, "last_id": 10}
    with store.open("a") as lines:
        lines.write(json.dumps(forged) + "\n")
    for incremental in (False, True):
        report = check(database, store, incremental=incremental)
        assert (report.disagreeing_anchor or "").startswith("anchor on line 3")
        assert (report.problem or "").startswith(problem)


def test_an_anchor_signed_with_another_key_does_not_verify(store: Path, database: Database) -> None:
    other = AnchorKey(b"somebody else's key, not ours")
    report = audit.verify_anchored(database, store=store, key=other)
    assert not report.ok and (report.problem or "").startswith("signed with another key")


def test_anchoring_refuses_a_chain_that_does_not_verify(
    store: Path, engine: sa.Engine, database: Database
) -> None:
    tamper(engine, "UPDATE hub.audit_log SET actor = 'mallory' WHERE id = 10")
    before = store.read_text()
    with pytest.raises(ConflictError, match="not anchoring: audit chain broken at id 10"):
        audit.anchor(database, store=store, key=KEY)
    assert store.read_text() == before


def test_a_key_must_be_configured_and_long_enough(tmp_path: Path) -> None:
    settings = anchors.Settings(audit_key=None, audit_key_file=tmp_path / "missing")
    with pytest.raises(ValidationError, match="HUB_AUDIT_KEY_FILE: cannot read it"):
        anchors.configured_key(settings)
    home = tmp_path / "home"
    with pytest.raises(
        ValidationError, match=re.escape(f"HUB_AUDIT_KEY_FILE (no key file at {home}")
    ):
        anchors.configured_key(anchors.Settings(home=home))
    with pytest.raises(ValidationError, match="at least 16 bytes"):
        AnchorKey(b"short")
    (tmp_path / "key").write_text(KEY.secret.decode() + "\n")
    assert anchors.configured_key(anchors.Settings(audit_key_file=tmp_path / "key")) == KEY


def test_an_anchor_round_trips_through_the_store(tmp_path: Path) -> None:
    made = anchors.new_anchor(KEY, last_id=3, last_hash="ab" * 32, count=3)
    anchors.append_anchor(tmp_path / "a.jsonl", made)
    (read,) = anchors.read_anchors(tmp_path / "a.jsonl")
    assert read.anchor is not None and asdict(read.anchor) == asdict(made)
    assert anchors.signature_problem(read, KEY) is None


def test_a_replayed_anchor_line_is_a_finding_and_anchoring_refuses(
    store: Path, engine: sa.Engine, database: Database
) -> None:
    """Issue 22 item 9: rewrite an entry between two anchors, re-chain, append a copy of line 1.

    The copy is validly signed and entry 5 still has its hash, so --incremental starting from it
    would pass; anchors only move forward, so the copy itself is the finding.
    """
    tamper(engine, "UPDATE hub.audit_log SET reason = 'nothing to see' WHERE id = 7")
    tamper(engine, RECOMPUTE_CHAIN)
    with store.open("a") as lines:
        lines.write(store.read_text().splitlines()[0] + "\n")
    for incremental in (False, True):
        report = check(database, store, incremental=incremental)
        assert (report.disagreeing_anchor or "").startswith("anchor on line 3 (last_id 5")
        assert report.problem == "not past line 2 (last_id 8): replayed or reordered"
    before = store.read_text()
    with pytest.raises(ConflictError, match=r"not anchoring: anchor on line 3 .*not past line 2"):
        audit.anchor(database, store=store, key=KEY)
    assert store.read_text() == before


def test_the_same_point_anchored_again_later_moves_forward(store: Path, database: Database) -> None:
    audit.anchor(database, store=store, key=KEY)
    audit.anchor(database, store=store, key=KEY)  # nothing changed in between: same point
    assert [line["last_id"] for line in stored_anchors(store)] == [5, 8, 10, 10]
    assert check(database, store).ok and check(database, store, incremental=True).ok
    [*_, last] = stored_anchors(store)
    with store.open("a") as lines:
        lines.write(json.dumps(last) + "\n")  # the same line again: not later
    report = check(database, store, incremental=True)
    assert report.problem == "not past line 4 (last_id 10): replayed or reordered"
