"""Four-eyes through hubctl: protected writes become requests; approve, apply, stale, break-glass."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import Result

from hubctl.db import Database
from hubctl.db.urls import with_login
from hubctl.settings import get_settings
from tests.support.cli import Run, audit_rows, last_audit_id, snapshot

JOB = ("data_collection_equities", "lse")


def control_rows(engine: Engine) -> dict[str, list[dict]]:
    rows = snapshot(engine)
    del rows["audit_log"]
    return rows


PEOPLE = ("alice", "bob", "carol", "dave")


@pytest.fixture
def people(
    hub: Run, default_config: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """Approver logins (hub_operator, hub_approver) for alice, bob, carol and dave: {person: login}
    (unique: roles are cluster-wide). hubctl then runs on alice's own login (HUB_DATABASE_URL)."""
    logins = {person: f"{person}_{uuid.uuid4().hex[:6]}" for person in PEOPLE}
    with default_config.begin() as conn:
        for name in logins.values():
            conn.execute(sa.text(f"CREATE ROLE {name} LOGIN IN ROLE hub_operator, hub_approver"))
    monkeypatch.setenv("HUB_DATABASE_URL", with_login(db_url, logins["alice"]))
    get_settings.cache_clear()
    yield logins
    with default_config.begin() as conn:
        for name in logins.values():
            conn.execute(sa.text(f"DROP OWNED BY {name}; DROP ROLE {name}"))


@pytest.fixture
def protected(hub: Run, people: dict[str, str], default_config: Engine) -> Engine:
    """lse requires one approval (raising the policy needs none)."""
    result = hub(
        "groups", "set", "lse", "approvals_required=1", "--actor", "alice", "-m", "four eyes"
    )
    assert result.exit_code == 0, result.stderr
    return default_config


def _request_id(stdout: str, approvals: str = "1 approval") -> int:
    assert f"lse requires {approvals}: request #" in stdout, stdout
    return int(stdout.split("request #", 1)[1].split(" ", 1)[0])


def _request(hub: Run, *args: str, actor: str = "alice") -> int:
    result = hub(*args, "--actor", actor, "-m", "asked")
    assert result.exit_code == 0, result.stderr
    return _request_id(result.stdout)


def _approve(hub: Run, request_id: int, login: str, *more: str) -> Result:
    return hub("requests", "approve", str(request_id), "--login", login, *more)


def _audit_revert_target(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(
            conn.scalar(
                sa.text(
                    "SELECT max(id) FROM hub.audit_log WHERE table_name = 'dag_configuration'"
                    " AND row_key ->> 'job_name' = 'lse'"
                )
            )
        )


def _ticker_csv(tmp_path: Path) -> str:
    path = tmp_path / "t.csv"
    path.write_text("ticker,exchange\nBARC.L,LSE\n")
    return str(path)


def _document(hub: Run, tmp_path: Path) -> str:
    exported = hub("export").stdout.replace("batch_size: 500", "batch_size: 123")
    path = tmp_path / "hub.yaml"
    path.write_text(exported)
    return str(path)


WRITES = {
    "config set": lambda e, t, h: ["config", "set", *JOB, "batch_size=750"],
    "config disable": lambda e, t, h: ["config", "disable", *JOB],
    "config enable": lambda e, t, h: ["config", "enable", *JOB],
    "config add": lambda e, t, h: [
        "config",
        "add",
        "historical_load_equities",
        "lse2",
        "exchange_group=lse",
    ],
    "config remove": lambda e, t, h: ["config", "remove", *JOB],
    "groups set": lambda e, t, h: ["groups", "set", "lse", "priority=9"],
    "groups lower policy": lambda e, t, h: ["groups", "set", "lse", "approvals_required=0"],
    "groups disable": lambda e, t, h: ["groups", "disable", "lse"],
    "groups enable": lambda e, t, h: ["groups", "enable", "lse"],
    "groups remove": lambda e, t, h: ["groups", "remove", "lse"],
    "tickers add": lambda e, t, h: ["tickers", "add", "BARC.L", "--exchange", "LSE"],
    "tickers remove": lambda e, t, h: ["tickers", "remove", "HSBA.L"],
    "tickers import": lambda e, t, h: ["tickers", "import", _ticker_csv(t)],
    "apply": lambda e, t, h: ["apply", "-f", _document(h, t), "--yes"],
    "audit revert": lambda e, t, h: ["audit", "revert", _audit_revert_target(e), "--yes"],
}


SETUP = {
    "config enable": "UPDATE hub.dag_configuration SET enabled = false WHERE job_name = 'lse'",
    "audit revert": "UPDATE hub.dag_configuration SET enabled = false WHERE job_name = 'lse'",
    "groups enable": "UPDATE hub.exchange_groups SET enabled = false WHERE group_name = 'lse'",
    "groups remove": "DELETE FROM hub.dag_configuration WHERE exchange_group = 'lse'",
}


@pytest.mark.parametrize("name", WRITES)
def test_every_write_to_a_protected_group_becomes_a_request(
    name: str, hub: Run, protected: Engine, tmp_path: Path
) -> None:
    if name in SETUP:  # something to undo first, written past four-eyes
        with protected.begin() as conn:
            conn.execute(
                sa.text(
                    "SELECT set_config('hub.change_set', 'break-glass:setup', true),"
                    " set_config('hub.reason', 'test setup', true)"
                )
            )
            conn.execute(sa.text(SETUP[name]))
    args = WRITES[name](protected, tmp_path, hub)
    before = control_rows(protected)
    result = hub(*args, "--actor", "alice", "-m", "asked")
    assert result.exit_code == 0, result.stderr
    request_id = _request_id(result.stdout)  # alice's own login: exactly the policy
    assert control_rows(protected) == before
    shown = json.loads(hub("requests", "show", str(request_id), "-o", "json").stdout)
    assert shown["state"] == "open" and shown["requester"] == "alice" and shown["groups"] == ["lse"]
    assert shown["command"].startswith(f"hubctl {' '.join(args[:2])}")
    assert shown["changes"]


def test_self_approval_is_refused_then_approval_and_apply_write_exactly_the_request(
    hub: Run, protected: Engine, people: dict[str, str]
) -> None:
    request_id = _request(hub, "config", "set", *JOB, "batch_size=750", "max_retries=5")
    for refused in (
        hub("requests", "approve", str(request_id), "--actor", "bob"),  # alice's login
        _approve(hub, request_id, people["alice"]),
    ):
        assert refused.exit_code == 1
        assert f"{people['alice']} requested" in refused.stderr, refused.stderr
        assert "cannot approve" in refused.stderr
    not_yet = hub("requests", "apply", str(request_id), "--actor", "alice")
    assert not_yet.exit_code == 1 and "is open (0 of 1 approvals)" in not_yet.stderr
    approved = _approve(hub, request_id, people["bob"], "-m", "ok")
    assert approved.exit_code == 0 and "now approved (1 of 1 approvals)" in approved.stdout
    since = last_audit_id(protected)
    applied = hub("requests", "apply", str(request_id), "--actor", "alice")
    assert applied.exit_code == 0, applied.stderr
    entries = audit_rows(protected, since)
    written = [e for e in entries if e["table_name"] == "dag_configuration"]
    assert [e["changed_fields"] for e in written] == [
        {"batch_size": {"old": 500, "new": 750}, "max_retries": {"old": 3, "new": 5}}
    ]
    assert {e["change_set"] for e in entries} == {f"request:{request_id}"}
    linked = json.loads(hub("audit", "log", "-o", "json").stdout)
    trail = [(e["table"], e["actor"]) for e in linked if e["change_set"] == f"request:{request_id}"]
    assert sorted(trail) == sorted(
        [
            ("change_requests", "alice"),  # created
            ("change_request_approvals", people["bob"]),
            ("change_requests", people["bob"]),  # approved
            ("change_requests", "alice"),  # applied
            ("dag_configuration", "alice"),
        ]
    )
    again = hub("requests", "apply", str(request_id), "--actor", "alice")
    assert again.exit_code == 1 and "is applied" in again.stderr


def test_the_shared_login_cannot_approve_and_its_requests_need_one_more(
    hub: Run,
    protected: Engine,
    people: dict[str, str],
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", db_url)  # a shared login: nobody in particular
    get_settings.cache_clear()
    result = hub("config", "set", *JOB, "batch_size=750", "--actor", "alice", "-m", "asked")
    assert "lse requires 2 approvals (1 + 1: the shared login cannot tell" in result.stdout
    request_id = _request_id(
        result.stdout,
        "2 approvals (1 + 1: the shared login cannot tell who"
        " asked; ask with your own login to need 1)",
    )
    claimed = hub("requests", "approve", str(request_id), "--actor", "bob")
    assert claimed.exit_code == 1 and "--login NAME" in claimed.stderr, claimed.stderr
    assert "now open (1 of 2 approvals)" in _approve(hub, request_id, people["bob"]).stdout
    assert "now approved (2 of 2" in _approve(hub, request_id, people["carol"]).stdout


def test_a_stale_request_is_refused_and_marked_stale(
    hub: Run, protected: Engine, people: dict[str, str]
) -> None:
    request_id = _request(hub, "config", "set", *JOB, "batch_size=750")
    assert _approve(hub, request_id, people["bob"]).exit_code == 0
    other = _request(hub, "config", "set", *JOB, "priority=9", actor="carol")
    assert _approve(hub, other, people["bob"]).exit_code == 0
    assert hub("requests", "apply", str(other), "--actor", "bob").exit_code == 0
    before = control_rows(protected)
    stale = hub("requests", "apply", str(request_id), "--actor", "bob")
    assert stale.exit_code == 1
    assert f"#{request_id} is stale" in stale.stderr and "version 1, now 2" in stale.stderr
    assert control_rows(protected) == before
    listed = json.loads(hub("requests", "list", "--state", "stale", "-o", "json").stdout)
    assert [row["id"] for row in listed] == [request_id]


def test_break_glass_writes_is_flagged_and_reported_until_acknowledged(
    hub: Run, protected: Engine, people: dict[str, str]
) -> None:
    no_reason = hub("config", "set", *JOB, "batch_size=750", "--break-glass")
    assert no_reason.exit_code == 1 and "--break-glass needs a reason" in no_reason.stderr
    since = last_audit_id(protected)
    result = hub(
        "config",
        "set",
        *JOB,
        "batch_size=750",
        "--break-glass",
        "-m",
        "feed down",
        "--actor",
        "alice",
    )
    assert result.exit_code == 0 and "updated job" in result.stdout
    (entry,) = audit_rows(protected, since)
    assert entry["change_set"].startswith("break-glass:") and entry["reason"] == "feed down"
    doctor = hub("doctor", "-o", "json")
    assert f"break-glass {entry['change_set']}" in doctor.stdout
    assert "alice wrote 1 row change(s)" in doctor.stdout
    ack = ["requests", "ack-break-glass", entry["change_set"], "-m", "reviewed"]
    own = hub(*ack, "--login", people["alice"])  # the login that broke the glass
    assert own.exit_code == 1 and "cannot acknowledge" in own.stderr, own.stderr
    shared = hub(*ack, "--actor", "bob")  # alice's login, claiming bob
    assert shared.exit_code == 1
    acked_by_bob = hub(*ack, "--login", people["bob"])
    assert acked_by_bob.exit_code == 0, acked_by_bob.stderr
    assert "break-glass" not in hub("doctor", "-o", "json").stdout
    acked = audit_rows(protected, entry["id"])
    assert [e["table_name"] for e in acked] == ["break_glass_acks"]
    assert acked[0]["new_row"]["acknowledged_by"] == people["bob"]


def test_an_unprotected_group_is_written_directly(hub: Run, protected: Engine) -> None:
    result = hub("config", "set", "data_collection_equities", "us_markets", "batch_size=750")
    assert result.exit_code == 0 and "updated job" in result.stdout
    assert hub("requests", "list", "-o", "json").stdout.strip() == "[]"


def test_two_approvals_need_two_other_people(
    hub: Run, protected: Engine, people: dict[str, str]
) -> None:
    policy = _request(hub, "groups", "set", "lse", "approvals_required=2")  # lowering or raising
    assert _approve(hub, policy, people["bob"]).exit_code == 0
    assert hub("requests", "apply", str(policy), "--actor", "bob").exit_code == 0
    result = hub("groups", "disable", "lse", "--actor", "alice", "-m", "holiday")
    request_id = _request_id(result.stdout, "2 approvals")
    assert _approve(hub, request_id, people["bob"]).exit_code == 0
    twice = _approve(hub, request_id, people["bob"])
    assert twice.exit_code == 1 and f"{people['bob']} already approved" in twice.stderr
    early = hub("requests", "apply", str(request_id), "--actor", "bob")
    assert early.exit_code == 1 and "(1 of 2 approvals)" in early.stderr
    assert _approve(hub, request_id, people["carol"]).exit_code == 0
    assert hub("requests", "apply", str(request_id), "--actor", "dave").exit_code == 0
    shown = json.loads(hub("requests", "show", str(request_id), "-o", "json").stdout)
    assert (shown["state"], shown["approvers"], shown["decided_by"]) == (
        "applied",
        [people["bob"], people["carol"]],
        "dave",
    )
    groups = json.loads(hub("groups", "list", "-o", "json").stdout)
    assert next(g for g in groups if g["group_name"] == "lse")["enabled"] is False


def test_a_rejected_request_is_never_applied(
    hub: Run, protected: Engine, people: dict[str, str]
) -> None:
    request_id = _request(hub, "config", "disable", *JOB)
    rejected = hub("requests", "reject", str(request_id), "--actor", "bob", "-m", "no")
    assert rejected.exit_code == 0 and "now rejected" in rejected.stdout
    refused = _approve(hub, request_id, people["carol"])
    assert refused.exit_code == 1 and "is rejected" in refused.stderr
    before = control_rows(protected)
    assert hub("requests", "apply", str(request_id), "--actor", "bob").exit_code == 1
    assert control_rows(protected) == before


def test_a_due_scheduled_change_to_a_protected_group_becomes_a_request(
    hub: Run, protected: Engine, database: Database
) -> None:
    from hubctl.services import schedule

    added = hub(
        "schedule", "add", "--at", "2099-12-29T07:00Z", "groups", "disable", "lse", "-m", "x"
    )
    assert added.exit_code == 0, added.stderr
    before = control_rows(protected)
    (settled,) = schedule.apply_due(database, now=dt.datetime(2100, 1, 1, tzinfo=dt.UTC))
    # the scheduler runs on the shared login: one approval more than the policy
    assert settled.state == "failed" and "lse requires 2 approvals (1 + 1" in (settled.note or "")
    assert control_rows(protected) == before
    (request,) = json.loads(hub("requests", "list", "-o", "json").stdout)
    assert request["state"] == "open" and request["groups"] == ["lse"]
    assert schedule.apply_due(database, now=dt.datetime(2100, 1, 2, tzinfo=dt.UTC)) == []


def test_a_groups_history_includes_its_requests_approvals_and_scheduled_changes(
    hub: Run, protected: Engine, database: Database, people: dict[str, str]
) -> None:
    """Issue 22 item 14: `audit log --group lse` (and so the page's History) left them out."""
    from hubctl.services import audit

    request_id = _request(hub, "config", "set", *JOB, "batch_size=750")
    approved = _approve(hub, request_id, people["bob"], "-m", "ok")
    assert approved.exit_code == 0, approved.stderr
    assert hub("requests", "apply", str(request_id), "--actor", "alice").exit_code == 0
    at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat()
    scheduled = hub("schedule", "add", "--at", at, "groups", "disable", "lse", "-m", "holiday")
    assert scheduled.exit_code == 0, scheduled.stderr
    other = hub("schedule", "add", "--at", at, "groups", "disable", "us_markets", "-m", "other")
    assert other.exit_code == 0, other.stderr
    logged = json.loads(hub("audit", "log", "--group", "lse", "-o", "json").stdout)
    tables = {entry["table"] for entry in logged}
    assert {"change_requests", "change_request_approvals", "scheduled_changes"} <= tables
    assert any(entry["change_set"] == f"request:{request_id}" for entry in logged)
    assert len([e for e in logged if e["table"] == "scheduled_changes"]) == 1  # not us_markets' one
    page = audit.audit_log(database, audit.AuditQuery(group="lse"), limit=100)  # the History
    assert [entry.id for entry in page] == [entry["id"] for entry in logged]
    requests = json.loads(hub("audit", "log", "--table", "requests", "-o", "json").stdout)
    assert [entry["key"] for entry in requests if entry["action"] == "INSERT"] == [
        {"id": request_id}
    ]
