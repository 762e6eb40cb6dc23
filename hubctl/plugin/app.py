"""The Markets page's FastAPI app, mounted under Airflow's api-server at /hub.

Who may do what is Airflow's decision: every route depends on the core API's own security
dependencies (`requires_access_dag`), so the user is the one Airflow's auth manager (simple, FAB,
or any other) authenticated from its JWT cookie or bearer token. Reading needs GET on DAGs;
changing needs PUT on DAGs, the permission that edits a DAG in Airflow itself. The actor of a
change is that user's name, never a value from the request; its audit entry says via = 'web'.

Each route is one call to the same typed service the CLI calls; validation and SQL live there.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from pathlib import Path
from typing import Any

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from hubctl.author import Author
from hubctl.db import Database
from hubctl.errors import ChangeRequested, ConflictError, HubError, NotFoundError, ValidationError
from hubctl.services import audit, config, groups, health, reads
from hubctl.services.rows import FieldChanges, RowChange
from hubctl.settings import get_settings
from hubctl.tables import JOBS

PAGE = Path(__file__).with_name("markets.html")
CSRF_COOKIE = "hub_csrf"
CSRF_HEADER = "X-Hub-CSRF"
HISTORY_LIMIT = 200
STATUS = {ValidationError: 422, ConflictError: 409, NotFoundError: 404}
# The knobs the Jobs form edits: every settable field but the switch (its own button) and
# params (a pipeline's own mapping; `hubctl config set params.NAME=...` edits it).
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
        key = name if colon and (name in JOBS.field or name in {"reason", "version"}) else ""
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
    return {
        "label": change.label,
        "action": change.action,
        "changed": {name: {"old": old, "new": new} for name, (old, new) in change.changed.items()},
        "version": change.version_after,
    }


router = APIRouter()


@router.get("/", dependencies=[CanRead], response_class=HTMLResponse)
def page() -> Response:
    response = HTMLResponse(PAGE.read_text(), headers={"Cache-Control": "no-store"})
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'"
    )
    return response


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


@router.get("/api/markets", dependencies=[CanRead])
def markets() -> list[dict[str, Any]]:
    return health.group_status(database(), settings=get_settings())


@router.post("/api/markets/{group}/enabled", dependencies=[CanEdit, Csrf])
def switch_market(group: str, body: Switch, user: GetUserDep) -> dict[str, Any]:
    change = groups.set_group_enabled(
        database(),
        group_name=group,
        enabled=body.enabled,
        author=web_author(user, required_reason(body)),
    )
    return change_summary(change)


@router.get("/api/jobs", dependencies=[CanRead])
def jobs() -> dict[str, Any]:
    fields = [{"name": f.name, "help": f.help, "nullable": f.nullable} for f in FORM_FIELDS]
    return {"fields": fields, "jobs": reads.list_jobs(database())}


@router.put("/api/jobs/{dag_name}/{job_name}", dependencies=[CanEdit, Csrf])
def edit_job(dag_name: str, job_name: str, body: JobEdit, user: GetUserDep) -> dict[str, Any]:
    editable = {field.name for field in FORM_FIELDS}
    unknown = sorted(set(body.fields) - editable)
    if unknown:
        raise ValidationError(f"{unknown[0]}: not a field the form edits")
    change = config.set_job(
        database(),
        dag_name=dag_name,
        job_name=job_name,
        changes=FieldChanges({name: text or None for name, text in body.fields.items()}),
        expect_version=body.version,
        author=web_author(user, body.reason or None),
    )
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


@router.get("/api/history", dependencies=[CanRead])
def history(
    group: str | None = None,
    job: str | None = None,
    actor: str | None = None,
    since: str | None = None,
) -> list[dict[str, Any]]:
    query = audit.AuditQuery(
        group=group or None, dag_name=job or None, actor=actor or None, since=since or None
    )
    entries = audit.audit_log(database(), query, limit=HISTORY_LIMIT)
    return [{**entry.to_dict(), "label": entry.label} for entry in entries]


@router.get("/api/verify", dependencies=[CanRead])
def verify() -> dict[str, Any]:
    report = audit.verify(database())
    return {"ok": report.ok, "rows_checked": report.rows_checked, "problem": report.problem}


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
