"""The Markets page's FastAPI app, mounted under Airflow's api-server at /hub.

Who may do what is Airflow's decision: every route depends on the core API's own security
dependencies (`requires_access_dag`), so the user is the one Airflow's auth manager (simple, FAB,
or any other) authenticated from its JWT cookie or bearer token. Reading needs GET on DAGs;
changing needs PUT on DAGs, the permission that edits a DAG in Airflow itself. The actor of a
change is that user's name, never a value from the request; its audit entry says via = 'web'.

Each route is one call to the same typed service the CLI calls; validation and SQL live there.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import functools
import hmac
import io
import itertools
import json
import secrets
from collections.abc import Callable, Iterator
from typing import Any, Literal

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from hubctl import registry
from hubctl.author import Author
from hubctl.csvcells import csv_cell
from hubctl.db import Database
from hubctl.errors import ChangeRequested, ConflictError, HubError, NotFoundError, ValidationError
from hubctl.plugin.bundle import BUNDLE, bundle_hash
from hubctl.services import alerts, audit, config, groups, markets, reads, requests, schedule
from hubctl.services.change_requests import describe
from hubctl.services.changes import ChangesCaptured
from hubctl.services.rows import FieldChanges, RowChange
from hubctl.settings import get_settings
from hubctl.tables import GROUPS, JOBS

IMMUTABLE = "public, max-age=31536000, immutable"
CSRF_COOKIE = "hub_csrf"
CSRF_HEADER = "X-Hub-CSRF"
HISTORY_PAGE = 100  # entries per history page unless the page asks for another limit
JOBS_PAGE = 100  # jobs per Jobs tab page: the tab shows one page, never all 10,000
MAX_JOBS_PAGE = 1000
STATUS = {ValidationError: 422, ConflictError: 409, NotFoundError: 404}
# The knobs the Jobs form edits: every settable field but the switch (its own button) and
# params (a pipeline's own mapping, edited through its family's schema: `params` in JobEdit).
FORM_FIELDS = [
    field
    for field in JOBS.fields
    if not field.is_key and not field.is_json and field.name != "enabled"
]

CanRead = Depends(requires_access_dag(method="GET"))
CanEdit = Depends(requires_access_dag(method="PUT"))


class Reason(BaseModel):
    reason: str = ""


class Switch(Reason):
    enabled: bool


class JobEdit(Reason):
    version: int
    fields: dict[str, str | None] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)  # a key set to null is removed


class ThresholdEdit(Reason):
    """A market's alert thresholds (GROUPS.threshold_fields), as typed; the group's version carried."""

    version: int
    fields: dict[str, str] = Field(default_factory=dict)


class Silence(Reason):
    rule: str
    subject: str
    until: str  # ISO 8601 with its zone


class MarketSwitch(BaseModel):
    group: str
    enabled: bool


class JobChange(BaseModel):
    dag: str
    job: str
    version: int
    fields: dict[str, str | None] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)


class ScheduledEdit(Reason):
    """A market switch or a job edit, to apply at ``run_at`` (ISO with its zone)."""

    run_at: str
    market: MarketSwitch | None = None
    job: JobChange | None = None


@functools.cache
def database() -> Database:
    """The page's own login (HUB_WEB_DATABASE_URL): it vouches for the signed-in user."""
    return Database.web()


def web_author(user: BaseUser, reason: str | None) -> Author:
    """The signed-in Airflow user, never a name from the request, through the page."""
    return Author(actor=user.get_name(), reason=reason, via="web")


def required_reason(body: Reason) -> str:
    if not body.reason.strip():
        raise ValidationError("reason: required: say why (it is kept in the audit log)")
    return body.reason


def same_origin_with_token(request: Request) -> None:
    """CSRF: a change riding on the session cookie must come from this origin with its token.

    A bearer token is no ambient credential (another site cannot make the browser send one),
    so those requests need neither.
    """
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise HTTPException(403, "cross-origin request refused")
    expected = request.cookies.get(CSRF_COOKIE, "")
    given = request.headers.get(CSRF_HEADER, "")
    if not expected or not hmac.compare_digest(expected, given):
        raise HTTPException(403, f"missing or wrong {CSRF_HEADER} header: reload the page")


Csrf = Depends(same_origin_with_token)


def problems_by_field(message: str) -> dict[str, str]:
    """hubctl.validation's `field: message; field: message` as {field: message}; others under ''."""
    found: dict[str, str] = {}
    for part in message.split("; "):
        name, colon, text = part.partition(": ")
        known = (
            name in JOBS.field
            or name in GROUPS.field
            or name in {"reason", "version", "rule", "subject", "until"}
            or name.startswith("params.")
        )
        key = name if colon and known else ""
        found[key] = f"{found[key]}; {part}" if key in found else (text if key else part)
    return found


def hub_error(_request: Request, error: Exception) -> JSONResponse:
    message = str(error)
    status = next((code for kind, code in STATUS.items() if isinstance(error, kind)), 400)
    return JSONResponse({"error": message, "fields": problems_by_field(message)}, status)


def change_requested(_request: Request, error: Exception) -> JSONResponse:
    """A write to a protected group became a change request (made by the signed-in user): 202."""
    request_id = error.request_id if isinstance(error, ChangeRequested) else None
    return JSONResponse({"requested": request_id, "message": str(error)}, 202)


def change_summary(change: RowChange) -> dict[str, Any]:
    """One row change as the page shows it: what, and each changed field's old and new value."""
    return {
        "table": change.table,
        "noun": change.noun,
        "label": change.label,
        "action": change.action,
        "changed": {name: {"old": old, "new": new} for name, (old, new) in change.changed.items()},
        "version": change.version_after,
    }


router = APIRouter()


@router.get("/static/markets.js", dependencies=[CanRead])
def bundle(request: Request) -> FileResponse:
    """The page's bundle. Airflow's UI loads it with import(), which insists on a JavaScript MIME
    type; the URL it asks for carries the content hash, so that URL never goes stale."""
    if not BUNDLE.is_file():
        raise HTTPException(404, "the Markets page is not built: run `make install`")
    fresh = request.query_params.get("v") == bundle_hash()
    headers = {"Cache-Control": IMMUTABLE if fresh else "no-cache"}
    return FileResponse(BUNDLE, media_type="text/javascript", headers=headers)


@router.get("/api/session", dependencies=[CanRead])
def session(request: Request, user: GetUserDep) -> Response:
    """Who is signed in, whether they may change things, and this session's CSRF token."""
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    edit = requires_access_dag(method="PUT")
    try:
        edit(request, user)
        can_edit = True
    except HTTPException:
        can_edit = False
    response = JSONResponse({"user": user.get_name(), "can_edit": can_edit, "csrf": token})
    response.set_cookie(
        CSRF_COOKIE, token, httponly=True, samesite="strict", path=router_prefix(request)
    )
    return response


def router_prefix(request: Request) -> str:
    return str(request.scope.get("root_path") or "/")


@router.get("/api/head", dependencies=[CanRead])
def head() -> dict[str, Any]:
    """The newest audit entry's id: the page polls it and re-reads when it moves."""
    return {"audit_id": audit.head(database())}


@router.get("/api/markets", dependencies=[CanRead])
def markets_view() -> list[dict[str, Any]]:
    return markets.market_status(database(), settings=get_settings())


@router.post("/api/markets/{group}/enabled", dependencies=[CanEdit, Csrf])
def switch_market(group: str, body: Switch, user: GetUserDep) -> dict[str, Any]:
    change = groups.set_group_enabled(
        database(),
        group_name=group,
        enabled=body.enabled,
        author=web_author(user, required_reason(body)),
    )
    return change_summary(change)


@router.get("/api/markets/{group}/runs", dependencies=[CanRead])
def market_runs(group: str, limit: int = 20) -> list[dict[str, Any]]:
    """The newest ``limit`` finished runs of the group's DAGs, oldest first (the charts)."""
    return markets.market_runs(database(), group=group, limit=limit)


@router.put("/api/markets/{group}/thresholds", dependencies=[CanEdit, Csrf])
def edit_thresholds(group: str, body: ThresholdEdit, user: GetUserDep) -> dict[str, Any]:
    """The group's alert thresholds, through the same group service as its switch (so four-eyes
    makes the change a request on a protected group)."""
    unknown = sorted(set(body.fields) - set(GROUPS.threshold_fields))
    if unknown:
        raise ValidationError(f"{unknown[0]}: not a threshold the page edits")
    change = groups.set_group(
        database(),
        group_name=group,
        changes=FieldChanges(dict(body.fields)),
        expect_version=body.version,
        author=web_author(user, required_reason(body)),
    )
    return change_summary(change)


@router.post("/api/alerts/silence", dependencies=[CanEdit, Csrf])
def silence_alert(body: Silence, user: GetUserDep) -> dict[str, Any]:
    """Silence a rule for a subject until a time: an audited change of its job's or group's
    ``silences`` (a request on a protected group)."""
    change = alerts.silence(
        database(),
        web_author(user, required_reason(body)),
        rule=body.rule,
        subject=body.subject,
        until=body.until,
        now=dt.datetime.now(dt.UTC),
    )
    return change_summary(change)


def params_schemas() -> dict[str, dict[str, Any]]:
    """Each pipeline family's params as JSON Schema (its own pydantic model's)."""
    return {
        name: family.params_model.model_json_schema()
        for name, family in registry.families().items()
    }


@router.get("/api/jobs", dependencies=[CanRead])
def jobs(
    q: str = "",
    limit: int = Query(JOBS_PAGE, ge=1, le=MAX_JOBS_PAGE),
    offset: int = Query(0, ge=0),
) -> JSONResponse:
    """One page of the jobs whose "dag/job group" contains ``q``, how many match in all, the
    form's fields and each family's params schema. A JSONResponse, not a dict: the rows are
    JSON-ready already (FastAPI's encoder walking them again doubled the call)."""
    page = reads.job_page(database(), text=q, limit=limit, offset=offset)
    fields = [{"name": f.name, "help": f.help, "nullable": f.nullable} for f in FORM_FIELDS]
    return JSONResponse({
        "fields": fields,
        "params_schemas": params_schemas(),
        "jobs": page.rows,
        "total": page.total,
        "offset": offset,
        "limit": limit,
    })  # fmt: skip


def job_changes(fields: dict[str, str | None], params: dict[str, Any]) -> FieldChanges:
    editable = {field.name for field in FORM_FIELDS}
    unknown = sorted(set(fields) - editable)
    if unknown:
        raise ValidationError(f"{unknown[0]}: not a field the form edits")
    return FieldChanges({name: text or None for name, text in fields.items()}, params)


def explained_conflict(dag_name: str, job_name: str, error: ConflictError) -> ConflictError:
    """A version conflict, with who changed the job since the page read it, and when."""
    key = {"dag_name": dag_name, "job_name": job_name}
    last = audit.last_change_of_row(database(), table=JOBS.name, key=key)
    if last is None:
        return error
    return ConflictError(
        f"{error}: changed by {last.actor} at {last.occurred_at.isoformat()} since you opened"
        " it: reload the row"
    )


@router.put("/api/jobs/{dag_name}/{job_name}", dependencies=[CanEdit, Csrf])
def edit_job(dag_name: str, job_name: str, body: JobEdit, user: GetUserDep) -> dict[str, Any]:
    try:
        change = config.set_job(
            database(),
            dag_name=dag_name,
            job_name=job_name,
            changes=job_changes(body.fields, body.params),
            expect_version=body.version,
            author=web_author(user, required_reason(body)),
        )
    except ConflictError as error:
        if not str(error).startswith("version:"):
            raise
        raise explained_conflict(dag_name, job_name, error) from None
    return change_summary(change)


@router.post("/api/jobs/{dag_name}/{job_name}/enabled", dependencies=[CanEdit, Csrf])
def switch_job(dag_name: str, job_name: str, body: Switch, user: GetUserDep) -> dict[str, Any]:
    change = config.set_job_enabled(
        database(),
        dag_name=dag_name,
        job_name=job_name,
        enabled=body.enabled,
        author=web_author(user, required_reason(body)),
    )
    return change_summary(change)


def request_view(request: requests.ChangeRequest) -> dict[str, Any]:
    """A change request with its field-by-field diff (``diff``: one item per row change)."""
    return {**request.to_dict(), "diff": [change_summary(change) for change in request.changes]}


@router.get("/api/requests", dependencies=[CanRead])
def list_requests(state: str | None = None) -> list[dict[str, Any]]:
    return [request_view(item) for item in requests.list_requests(database(), state=state or None)]


Decision = Callable[..., Any]
DECISIONS: dict[str, Decision] = {
    "approve": requests.approve,
    "reject": requests.reject,
    "apply": requests.apply,
}


@router.post("/api/requests/{request_id}/{decision}", dependencies=[CanEdit, Csrf])
def decide_request(
    request_id: int,
    decision: Literal["approve", "reject", "apply"],
    body: Reason,
    user: GetUserDep,
) -> dict[str, Any]:
    """Approve, reject or apply as the signed-in user; the database's refusals come back as 4xx."""
    decided = DECISIONS[decision](
        database(), request_id=request_id, author=web_author(user, body.reason or None)
    )
    if decision == "apply":
        return {"applied": [change_summary(change) for change in decided]}
    return request_view(decided)


@router.get("/api/break-glass", dependencies=[CanRead])
def break_glass() -> list[dict[str, Any]]:
    return [
        {**vars(item), "occurred_at": item.occurred_at.isoformat()}
        for item in requests.unacknowledged_break_glass(database())
    ]


@router.post("/api/break-glass/{change_set}/acknowledge", dependencies=[CanEdit, Csrf])
def acknowledge(change_set: str, body: Reason, user: GetUserDep) -> dict[str, Any]:
    done = requests.acknowledge_break_glass(
        database(), change_set=change_set, author=web_author(user, required_reason(body))
    )
    return {**vars(done), "occurred_at": done.occurred_at.isoformat()}


def scheduled_view(change: schedule.ScheduledChange) -> dict[str, Any]:
    return {**change.to_dict(), "diff": [change_summary(row) for row in change.changes]}


@router.get("/api/schedule", dependencies=[CanRead])
def list_scheduled(state: str | None = None) -> list[dict[str, Any]]:
    return [scheduled_view(item) for item in schedule.list_changes(database(), state=state or None)]


@router.post("/api/schedule/{change_id}/cancel", dependencies=[CanEdit, Csrf])
def cancel_scheduled(change_id: int, body: Reason, user: GetUserDep) -> dict[str, Any]:
    cancelled = schedule.cancel(
        database(), change_id=change_id, author=web_author(user, required_reason(body))
    )
    return scheduled_view(cancelled)


def capture(edit: ScheduledEdit, author: Author) -> ChangesCaptured | None:
    """Run the edit's service call in Capture mode (as hubctl schedule add runs its command)."""
    try:
        if edit.market is not None:
            groups.set_group_enabled(
                database(), group_name=edit.market.group, enabled=edit.market.enabled, author=author
            )
        elif edit.job is not None:
            config.set_job(
                database(),
                dag_name=edit.job.dag,
                job_name=edit.job.job,
                changes=job_changes(edit.job.fields, edit.job.params),
                expect_version=edit.job.version,
                author=author,
            )
        else:
            raise ValidationError("market: say what to schedule: a market switch or a job edit")
    except ChangesCaptured as captured:
        return captured
    return None


@router.post("/api/schedule", dependencies=[CanEdit, Csrf])
def schedule_change(body: ScheduledEdit, user: GetUserDep) -> dict[str, Any]:
    run_at = schedule.parse_run_at(body.run_at)
    author = web_author(user, required_reason(body))
    captured = capture(body, dataclasses.replace(author, mode=schedule.capture_at(run_at)))
    command = describe(captured.changes) if captured is not None else "(nothing)"
    added = schedule.add(database(), run_at=run_at, command=command, captured=captured)
    return scheduled_view(added)


class HistoryFilters(BaseModel):
    """The History tab's filters (times as `7d` or ISO), shared by the page and its export."""

    group: str | None = None
    job: str | None = None
    actor: str | None = None
    via: str | None = None
    since: str | None = None
    until: str | None = None

    def query(self, before_id: int | None = None) -> audit.AuditQuery:
        return audit.AuditQuery(
            group=self.group or None,
            dag_name=self.job or None,
            actor=self.actor or None,
            via=self.via or None,
            since=self.since or None,
            until=self.until or None,
            before_id=before_id,
        )


Filters = Depends(HistoryFilters)


def entry_view(entry: audit.AuditEntry, refusal: str | None) -> dict[str, Any]:
    return {
        **entry.to_dict(),
        "label": entry.label,
        "revertible": refusal is None,
        "revert_refusal": refusal,
    }


@router.get("/api/history", dependencies=[CanRead])
def history(
    filters: HistoryFilters = Filters, before_id: int | None = None, limit: int = HISTORY_PAGE
) -> dict[str, Any]:
    """One page, newest first; ``next_before_id`` asks for the next (None: this was the last)."""
    page = audit.audit_page(database(), filters.query(before_id), limit=limit)
    return {
        "entries": [
            entry_view(entry, refusal)
            for entry, refusal in zip(page.entries, page.revert_refusals, strict=True)
        ],
        "next_before_id": page.next_before_id,
    }


def jsonl_lines(entries: Iterator[audit.AuditEntry]) -> Iterator[str]:
    for entry in entries:
        yield json.dumps(entry.to_dict(), default=str) + "\n"


def csv_lines(entries: Iterator[audit.AuditEntry]) -> Iterator[str]:
    """RFC 4180 rows (CRLF, as `hubctl ... -o csv`), header first, a spreadsheet-safe cell each."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    names: list[str] | None = None
    for entry in entries:
        row = entry.to_dict()
        if names is None:
            names = list(row)
            writer.writerow(names)
        writer.writerow([csv_cell(row[name]) for name in names])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


EXPORTS = {"csv": (csv_lines, "text/csv"), "jsonl": (jsonl_lines, "application/jsonl")}


@router.get("/api/history/export", dependencies=[CanRead])
def export_history(
    format: Literal["csv", "jsonl"] = "jsonl", filters: HistoryFilters = Filters
) -> StreamingResponse:
    """The filtered view, every entry, streamed in constant memory (as `audit log -o jsonl`)."""
    lines, media_type = EXPORTS[format]
    entries = audit.stream_audit_log(database(), filters.query())
    first = next(entries, None)  # a bad filter fails here, as a 4xx, not mid-stream
    stream = lines(itertools.chain([first] if first else [], entries))
    disposition = f'attachment; filename="hub-audit.{format}"'
    return StreamingResponse(
        stream, media_type=media_type, headers={"Content-Disposition": disposition}
    )


@router.get("/api/verify", dependencies=[CanRead])
def verify() -> dict[str, Any]:
    """The hash chain, and the anchors signed so far (if an anchor store is configured)."""
    return dataclasses.asdict(audit.verify_summary(database()))


@router.get("/api/as-of", dependencies=[CanRead])
def as_of(at: str) -> dict[str, Any]:
    """Groups and jobs as they were at ``at`` (`3d`, ISO), rebuilt from the audit log."""
    return {"at": at, **reads.configuration_at(database(), at=at)}


@router.post("/api/history/{entry_id}/revert", dependencies=[CanEdit, Csrf])
def revert(entry_id: int, body: Reason, user: GetUserDep) -> dict[str, Any]:
    change = audit.revert(
        database(),
        entry_id=entry_id,
        author=web_author(user, required_reason(body)),
    )
    return change_summary(change)


def create_app() -> FastAPI:
    app = FastAPI(title="airflow-hub Markets", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_exception_handler(ChangeRequested, change_requested)
    app.add_exception_handler(HubError, hub_error)
    app.include_router(router)
    return app
