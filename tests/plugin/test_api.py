"""The Markets page's API against a real database, through FastAPI's TestClient.

Airflow's auth manager is the one part replaced: its two dependencies (may this user read/edit
DAGs, who is signed in) are overridden to a signed-in user the test picks, since deciding that is
Airflow's job (the e2e page tests sign in for real). CSRF is the app's own and is checked here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
from airflow.api_fastapi.core_api.security import get_user
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from hubctl.author import Author
from hubctl.db import Database
from hubctl.plugin import app as page
from hubctl.services import groups, reads
from hubctl.settings import get_settings
from tests.support.configuration import execute, protect_group
from tests.support.databases import web_login
from tests.support.stacks import HUBCTL

TOKEN = "csrf-token-of-this-session"
JOB = "data_collection_equities/lse"


class Page:
    """The app as one signed-in user at a time sees it; writes carry the session's CSRF token."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.user = "ann"

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(f"/api/{path}", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def send(self, method: str, path: str, body: dict[str, Any]) -> Any:
        headers = {page.CSRF_HEADER: TOKEN}
        return self.client.request(method, f"/api/{path}", json=body, headers=headers)


@pytest.fixture
def web(
    default_config: Engine, db_url: str, hub_env: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Page]:
    """The page as Airflow's api-server runs it, on its own web login (HUB_WEB_DATABASE_URL)."""
    with web_login(db_url) as url:
        monkeypatch.setenv("HUB_WEB_DATABASE_URL", url)
        get_settings.cache_clear()
        yield from _signed_in_page()


def _signed_in_page() -> Iterator[Page]:
    app = page.create_app()
    holder = Page(TestClient(app, cookies={page.CSRF_COOKIE: TOKEN}))
    app.dependency_overrides[page.CanRead.dependency] = lambda: None
    app.dependency_overrides[page.CanEdit.dependency] = lambda: None
    app.dependency_overrides[get_user] = lambda: SimpleAuthManagerUser(
        username=holder.user, role="admin"
    )
    page.database.cache_clear()
    yield holder
    page.database.cache_clear()


def job_row(web: Page) -> dict[str, Any]:
    found = web.get("jobs", q=JOB)["jobs"]
    return next(j for j in found if f"{j['dag_name']}/{j['job_name']}" == JOB)


def test_jobs_come_a_page_at_a_time_with_the_total(web: Page, database: Database) -> None:
    everything = reads.list_jobs(database)  # what `hubctl config list` shows
    keys = [f"{j['dag_name']}/{j['job_name']}" for j in everything]
    assert len(keys) > 3
    seen: list[str] = []
    for offset in range(0, len(keys), 2):
        page_ = web.get("jobs", limit=2, offset=offset)
        assert page_["total"] == len(keys) and len(page_["jobs"]) <= 2
        seen += [f"{j['dag_name']}/{j['job_name']}" for j in page_["jobs"]]
    assert seen == keys
    assert web.get("jobs", offset=len(keys))["jobs"] == []
    assert len(web.get("jobs")["jobs"]) == min(len(keys), page.JOBS_PAGE)
    assert web.client.get("/api/jobs", params={"limit": 0}).status_code == 422


def test_the_jobs_filter_matches_dag_job_or_group_literally(web: Page) -> None:
    lse = web.get("jobs", q="LSE")  # any case; "dag/job group", as the tab shows a job
    assert lse["total"] == len(lse["jobs"]) >= 1
    assert all(
        "lse" in f"{j['dag_name']}/{j['job_name']} {j['exchange_group']}" for j in lse["jobs"]
    )
    assert [j["job_name"] for j in web.get("jobs", q=JOB)["jobs"]] == ["lse"]
    group = web.get("jobs", q="german_markets")["jobs"]
    assert group and all(j["exchange_group"] == "german_markets" for j in group)
    for literal in ("%", "data_collection_%", "\\", "\x00"):  # wildcards and NUL match as text
        assert web.get("jobs", q=literal) | {"fields": 0, "params_schemas": 0} == {
            "fields": 0,
            "params_schemas": 0,
            "jobs": [],
            "total": 0,
            "offset": 0,
            "limit": 100,
        }


def test_markets_show_the_last_change_and_no_alert_yet(web: Page) -> None:
    before = {row["group"]: row for row in web.get("markets")}
    assert before["lse"]["last_change"]["actor"] == "pytest"
    assert before["lse"]["open_alerts"] == [] and before["lse"]["last_run_record"] is None
    assert before["lse"]["thresholds"] == {"data_late_minutes": 60, "unreachable_fetches": 3}
    web.user = "ann"
    done = web.send("POST", "markets/lse/enabled", {"enabled": False, "reason": "holiday"})
    assert done.status_code == 200, done.text
    after = {row["group"]: row for row in web.get("markets")}
    assert after["lse"]["enabled"] is False
    assert {k: after["lse"]["last_change"][k] for k in ("actor", "via", "reason")} == {
        "actor": "ann",
        "via": "web",
        "reason": "holiday",
    }


def test_every_change_needs_a_reason_and_the_csrf_token(web: Page) -> None:
    market = web.send("POST", "markets/lse/enabled", {"enabled": False, "reason": " "})
    assert market.status_code == 422 and "reason" in market.json()["fields"]
    row = job_row(web)
    edit = web.send(
        "PUT", f"jobs/{JOB}", {"version": row["version"], "fields": {"batch_size": "7"}}
    )
    assert edit.status_code == 422 and "reason" in edit.json()["fields"]
    forged = web.client.post("/api/markets/lse/enabled", json={"enabled": False, "reason": "x"})
    assert forged.status_code == 403


def test_params_edit_through_the_familys_model_with_errors_by_field(web: Page) -> None:
    schemas = web.get("jobs")["params_schemas"]
    assert "lookback_days" in schemas["data_collection_equities"]["properties"]
    row = job_row(web)
    bad = web.send(
        "PUT",
        f"jobs/{JOB}",
        {"version": row["version"], "params": {"lookback_days": 0}, "reason": "r"},
    )
    assert bad.status_code == 422, bad.text
    assert "params.lookback_days" in bad.json()["fields"]
    good = web.send(
        "PUT",
        f"jobs/{JOB}",
        {"version": row["version"], "params": {"lookback_days": 30}, "reason": "longer window"},
    )
    assert good.status_code == 200, good.text
    assert good.json()["changed"]["params"]["new"]["lookback_days"] == 30


def test_a_version_conflict_says_who_changed_the_job_and_when(web: Page) -> None:
    row = job_row(web)
    body = {"version": row["version"], "fields": {"batch_size": "7"}, "reason": "smaller"}
    web.user = "bob"
    assert web.send("PUT", f"jobs/{JOB}", body).status_code == 200
    web.user = "ann"
    stale = web.send("PUT", f"jobs/{JOB}", {**body, "fields": {"batch_size": "9"}})
    assert stale.status_code == 409
    assert "changed by bob at " in stale.json()["error"]
    assert "version" in stale.json()["fields"]


def test_requests_approved_by_another_user_then_applied(web: Page, database: Database) -> None:
    protect_group(database, "lse", author=Author("admin"))
    asked = web.send("POST", "markets/lse/enabled", {"enabled": False, "reason": "holiday"})
    assert asked.status_code == 202
    request_id = asked.json()["requested"]
    (listed,) = web.get("requests", state="open")
    assert listed["diff"][0]["changed"] == {"enabled": {"old": True, "new": False}}
    own = web.send("POST", f"requests/{request_id}/approve", {"reason": ""})
    assert own.status_code == 422 and "cannot approve it" in own.json()["error"]
    web.user = "bob"
    approved = web.send("POST", f"requests/{request_id}/approve", {"reason": "ok"})
    assert approved.json()["state"] == "approved", approved.text
    applied = web.send("POST", f"requests/{request_id}/apply", {"reason": ""})
    assert applied.status_code == 200 and applied.json()["applied"][0]["label"] == "lse"
    assert web.get("requests", state="applied")[0]["id"] == request_id
    about_lse = web.get("history", group="lse", limit=50)["entries"]
    assert any(e["change_set"] == f"request:{request_id}" and e["via"] == "web" for e in about_lse)
    assert any(e["table"] == "change_request_approvals" for e in about_lse)


def test_history_pages_by_keyset_past_200_entries(web: Page, default_config: Engine) -> None:
    with default_config.begin() as conn:
        conn.execute(
            sa.text(
                "DO $$ BEGIN FOR i IN 1..250 LOOP UPDATE hub.exchange_groups SET priority = 1 + i % 10"
                " WHERE group_name = 'lse'; END LOOP; END $$"
            )
        )
    with default_config.connect() as conn:
        everything = conn.execute(sa.text("SELECT id FROM hub.audit_log ORDER BY id DESC"))
        expected = [row.id for row in everything]
    seen: list[int] = []
    before_id = None
    while True:
        page_ = web.get("history", limit=100, **({"before_id": before_id} if before_id else {}))
        seen += [entry["id"] for entry in page_["entries"]]
        before_id = page_["next_before_id"]
        if before_id is None:
            break
    assert len(expected) > 250 and seen == expected
    raw_sql = web.get("history", via="sql", limit=300)["entries"]
    assert len(raw_sql) == 250 and {e["via"] for e in raw_sql} == {"sql"}
    assert {e["actor"] for e in web.get("history", actor="pytest", limit=300)["entries"]} == {
        "pytest"
    }


def test_revert_is_offered_only_where_it_works(web: Page, database: Database) -> None:
    row = job_row(web)
    for size in ("7", "8"):
        body = {"version": row["version"], "fields": {"batch_size": size}, "reason": "r"}
        assert web.send("PUT", f"jobs/{JOB}", body).status_code == 200
        row = job_row(web)
    protect_group(database, "us_markets", author=Author("x"))
    assert (
        web.send(
            "POST", "markets/us_markets/enabled", {"enabled": False, "reason": "r"}
        ).status_code
        == 202
    )
    entries = web.get("history", limit=10)["entries"]
    request_entry = next(e for e in entries if e["table"] == "change_requests")
    newest_job, older_job = [e for e in entries if e["table"] == "dag_configuration"][:2]
    assert newest_job["revertible"] and newest_job["revert_refusal"] is None
    assert not older_job["revertible"] and "revert" in older_job["revert_refusal"]
    assert not request_entry["revertible"]
    refused = web.send("POST", f"history/{request_entry['id']}/revert", {"reason": "undo"})
    assert refused.status_code == 422
    assert refused.json()["error"] == request_entry["revert_refusal"]
    refused = web.send("POST", f"history/{older_job['id']}/revert", {"reason": "undo"})
    assert (refused.status_code, refused.json()["error"]) == (409, older_job["revert_refusal"])
    assert web.send("POST", f"history/{newest_job['id']}/revert", {"reason": ""}).status_code == 422
    done = web.send("POST", f"history/{newest_job['id']}/revert", {"reason": "undo"})
    assert done.status_code == 200 and done.json()["changed"]["batch_size"]["new"] == 7


def test_export_round_trips_with_audit_log_json(web: Page) -> None:
    web.send("POST", "markets/lse/enabled", {"enabled": False, "reason": "=cmd|' /C calc'!A0"})
    cli = subprocess.run(
        [
            HUBCTL,
            "audit",
            "log",
            "-o",
            "json",
            "--limit",
            "0",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    expected = json.loads(cli.stdout)
    jsonl = web.client.get("/api/history/export", params={"format": "jsonl"})
    assert jsonl.headers["content-disposition"].startswith("attachment")
    assert [json.loads(line) for line in jsonl.text.splitlines()] == expected
    exported = web.client.get("/api/history/export", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(exported.text, newline="")))
    assert [int(row["id"]) for row in rows] == [entry["id"] for entry in expected]
    assert rows[0]["reason"] == "'=cmd|' /C calc'!A0"  # a spreadsheet never runs it
    only_lse = web.client.get("/api/history/export", params={"format": "jsonl", "group": "lse"})
    assert 0 < len(only_lse.text.splitlines()) < len(expected)


def test_schedule_a_market_switch_then_cancel_it(web: Page) -> None:
    run_at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    added = web.send(
        "POST",
        "schedule",
        {"run_at": run_at, "reason": "closure", "market": {"group": "lse", "enabled": False}},
    )
    assert added.status_code == 200, added.text
    scheduled = added.json()
    assert (scheduled["state"], scheduled["actor"]) == ("scheduled", "ann")
    assert scheduled["diff"][0]["changed"] == {"enabled": {"old": True, "new": False}}
    assert web.get("schedule", state="scheduled")[0]["id"] == scheduled["id"]
    assert {row["group"]: row for row in web.get("markets")}["lse"]["enabled"] is True
    cancelled = web.send("POST", f"schedule/{scheduled['id']}/cancel", {"reason": "reopened"})
    assert cancelled.json()["state"] == "cancelled"
    row = job_row(web)
    job_edit = {"dag": "data_collection_equities", "job": "lse", "version": row["version"]}
    edit = web.send(
        "POST",
        "schedule",
        {"run_at": run_at, "reason": "r", "job": {**job_edit, "params": {"lookback_days": 9}}},
    )
    assert (
        edit.status_code == 200
        and "lookback_days" in edit.json()["diff"][0]["changed"]["params"]["new"]
    )


def test_head_verify_and_as_of(web: Page) -> None:
    head = web.get("head")["audit_id"]
    moment = dt.datetime.now(dt.UTC).isoformat()
    web.send("POST", "markets/lse/enabled", {"enabled": False, "reason": "holiday"})
    assert web.get("head")["audit_id"] > head
    checked = web.get("verify")
    assert checked["ok"] and checked["rows_checked"] > 0
    assert checked["anchors"].startswith("not checked: ")
    then = web.get("as-of", at=moment)
    assert {g["group_name"]: g["enabled"] for g in then["groups"]}["lse"] is True
    assert any(j["job_name"] == "lse" for j in then["jobs"])
    assert web.client.get("/api/as-of", params={"at": "yesterday-ish"}).status_code == 422


def test_every_route_needs_airflows_permission_and_every_change_the_csrf_token() -> None:
    routes = [route for route in page.router.routes if isinstance(route, APIRoute)]
    assert len(routes) >= 20
    for route in routes:
        needs = {dependency.call for dependency in route.dependant.dependencies}
        changes = route.methods != {"GET"}
        permission = page.CanEdit.dependency if changes else page.CanRead.dependency
        assert permission in needs, route.path
        assert (page.same_origin_with_token in needs) == changes, route.path


def test_break_glass_waits_for_a_second_persons_acknowledgement(
    web: Page, database: Database
) -> None:
    protect_group(database, "lse", author=Author("x"))
    groups.set_group_enabled(
        database,
        group_name="lse",
        enabled=False,
        author=Author("ann", reason="exchange outage", break_glass=True),
    )
    (waiting,) = web.get("break-glass")
    assert (waiting["actor"], waiting["reason"]) == ("ann", "exchange outage")
    path = f"break-glass/{waiting['change_set']}/acknowledge"
    assert web.send("POST", path, {"reason": ""}).status_code == 422
    web.user = "bob"
    assert web.send("POST", path, {"reason": "reviewed the outage"}).status_code == 200
    assert web.get("break-glass") == []
    rejected = web.send("POST", "markets/lse/enabled", {"enabled": True, "reason": "reopen"})
    request_id = rejected.json()["requested"]
    done = web.send("POST", f"requests/{request_id}/reject", {"reason": "not yet"})
    assert done.json()["state"] == "rejected"
    web.user = "ann"
    again = web.send("POST", f"requests/{request_id}/approve", {"reason": ""})
    assert again.status_code == 422 and "rejected" in again.json()["error"]


LSE_COLLECTION = "data_collection_equities__lse"


def open_alert(engine: Engine, rule: str, subject: str, group: str, dag_id: str | None) -> None:
    execute(
        engine,
        "INSERT INTO hub.alerts (rule, subject, exchange_group, dag_id, value, threshold, detail,"
        " first_seen, last_seen) VALUES (:rule, :subject, :group, :dag, 25, 5, :detail,"
        " now() - interval '1 hour', now())",
        rule=rule, subject=subject, group=group, dag=dag_id, detail=HOSTILE_DETAIL,
    )  # fmt: skip


HOSTILE_DETAIL = "<img src=x onerror=alert(1)> 5 of 20 runs failed"


def test_markets_show_open_alerts_with_value_threshold_and_silence(
    web: Page, default_config: Engine, database: Database
) -> None:
    open_alert(default_config, "failure_rate", LSE_COLLECTION, "lse", LSE_COLLECTION)
    open_alert(default_config, "data_late", "lse", "lse", None)
    open_alert(default_config, "data_late", "us_markets", "us_markets", None)
    execute(
        default_config, "UPDATE hub.alerts SET resolved_at = now() WHERE subject = 'us_markets'"
    )
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat(timespec="seconds")
    done = web.send(
        "POST", "alerts/silence",
        {"rule": "failure_rate", "subject": LSE_COLLECTION, "until": until, "reason": "known"},
    )  # fmt: skip
    assert done.status_code == 200, done.text
    rows = {row["group"]: row for row in web.get("markets")}
    assert rows["us_markets"]["open_alerts"] == []
    shown = {alert["rule"]: alert for alert in rows["lse"]["open_alerts"]}
    assert set(shown) == {"failure_rate", "data_late"}
    assert (shown["failure_rate"]["value"], shown["failure_rate"]["threshold"]) == (25, 5)
    assert shown["failure_rate"]["detail"] == HOSTILE_DETAIL
    assert shown["failure_rate"]["silenced_until"] == until
    assert shown["data_late"]["silenced_until"] is None
    assert rows["lse"]["alerts"] == 2 and rows["lse"]["alert_rules"] == [
        "data_late",
        "failure_rate",
    ]
    entry = web.get("history", job="data_collection_equities")["entries"][0]
    assert (entry["actor"], entry["via"], entry["reason"]) == ("ann", "web", "known")


def test_a_silence_with_a_past_time_or_unknown_subject_is_refused_by_field(web: Page) -> None:
    past = {"rule": "data_late", "subject": "lse", "until": "2020-01-01T00:00:00Z", "reason": "r"}
    refused = web.send("POST", "alerts/silence", past)
    assert refused.status_code == 422 and "future" in refused.json()["fields"]["until"]
    unknown = {**past, "subject": "atlantis", "until": "2999-01-01T00:00:00Z"}
    missing = web.send("POST", "alerts/silence", unknown)
    assert missing.status_code == 404 and "atlantis" in missing.json()["fields"]["subject"]


def insert_run(engine: Engine, dag_id: str, run: int, state: str, seconds: float | None) -> None:
    """A run the monitor recorded: started ``run`` hours after 2026-12-01, ``seconds`` long
    (None: still running)."""
    execute(
        engine,
        "INSERT INTO hub.monitored_runs (dag_id, run_id, state, start_date, end_date,"
        " duration_seconds, updated_at) VALUES (:dag, :run_id, :state, :start,"
        " :start + make_interval(secs => :seconds), :seconds, now())",
        dag=dag_id, run_id=f"scheduled__{run}", state=state,
        start=dt.datetime(2026, 12, 1, tzinfo=dt.UTC) + dt.timedelta(hours=run), seconds=seconds,
    )  # fmt: skip


def test_market_runs_are_the_newest_finished_runs_of_its_dags_oldest_first(
    web: Page, default_config: Engine
) -> None:
    for run in range(5):
        insert_run(default_config, LSE_COLLECTION, run, "failed" if run == 3 else "success", 60.0)
    insert_run(default_config, "historical_load_equities__lse", 10, "success", 600.0)
    insert_run(default_config, "historical_load_equities__lse", 11, "running", None)
    insert_run(default_config, "data_collection_equities__us_markets", 12, "success", 5.0)
    runs = web.get("markets/lse/runs", limit=3)
    assert [(r["dag_id"], r["run_id"], r["state"]) for r in runs] == [
        (LSE_COLLECTION, "scheduled__3", "failed"),
        (LSE_COLLECTION, "scheduled__4", "success"),
        ("historical_load_equities__lse", "scheduled__10", "success"),
    ]
    assert runs[-1]["duration_seconds"] == 600.0 and runs[-1]["end_date"] > runs[-1]["start_date"]
    assert len(web.get("markets/lse/runs", limit=50)) == 6
    assert web.client.get("/api/markets/atlantis/runs").status_code == 404


def test_thresholds_edit_is_audited_via_web_with_errors_by_field(
    web: Page, database: Database
) -> None:
    version = {row["group"]: row for row in web.get("markets")}["lse"]["version"]
    path = "markets/lse/thresholds"
    bad = web.send("PUT", path, {"version": version, "fields": {"data_late_minutes": "-5"},
                                 "reason": "r"})  # fmt: skip
    assert bad.status_code == 422 and "data_late_minutes" in bad.json()["fields"]
    other = web.send("PUT", path, {"version": version, "fields": {"enabled": "false"},
                                   "reason": "r"})  # fmt: skip
    assert other.status_code == 422
    body = {"version": version, "fields": {"data_late_minutes": "90"}, "reason": "slow feed"}
    assert web.send("PUT", path, {**body, "reason": ""}).status_code == 422
    done = web.send("PUT", path, body)
    assert done.status_code == 200, done.text
    assert done.json()["changed"] == {"data_late_minutes": {"old": 60, "new": 90}}
    entry = web.get("history", group="lse")["entries"][0]
    assert (entry["actor"], entry["via"], entry["reason"]) == ("ann", "web", "slow feed")
    stale = web.send("PUT", path, {**body, "fields": {"unreachable_fetches": "5"}})
    assert stale.status_code == 409
    protect_group(database, "lse", author=Author("admin"))
    version = {row["group"]: row for row in web.get("markets")}["lse"]["version"]
    requested = web.send("PUT", path, {**body, "version": version, "fields": {
        "unreachable_fetches": "5"}})  # fmt: skip
    assert requested.status_code == 202 and requested.json()["requested"]


def test_the_jobs_form_edits_the_job_thresholds_but_not_silences(web: Page) -> None:
    names = {field["name"] for field in web.get("jobs")["fields"]}
    assert {"failure_rate_percent", "failure_rate_runs", "task_minutes"} <= names
    assert "silences" not in names
    row = job_row(web)
    body = {"version": row["version"], "fields": {"task_minutes": "0"}, "reason": "r"}
    refused = web.send("PUT", f"jobs/{JOB}", body)
    assert refused.status_code == 422 and "task_minutes" in refused.json()["fields"]
