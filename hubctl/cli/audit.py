"""hubctl audit: who changed what, when and why; the hash chain; reverting one change."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hubctl.cli.common import ActorOption, BreakGlassOption, ReasonOption, author, database, report
from hubctl.cli.output import OutputFormat, OutputOption, cell, render
from hubctl.errors import HubError, ValidationError

if TYPE_CHECKING:
    from hubctl.audit import ChainReport
    from hubctl.services.audit import AuditEntry

app = typer.Typer(
    help="The audit trail: every change by any path, provably untampered.", no_args_is_help=True
)
EntryArgument = Annotated[int, typer.Argument(help="Audit entry id (see hubctl audit log).")]
DEFAULT_LIMIT = 100


def _summary(entry: AuditEntry) -> str:
    if entry.action == "INSERT":
        return "new row"
    if entry.action in ("DELETE", "TRUNCATE"):
        return "row removed" if entry.action == "DELETE" else "table emptied"
    return "; ".join(
        f"{name}: {cell(change['old'])} -> {cell(change['new'])}"
        for name, change in (entry.changes or {}).items()
    )


def log_row(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "occurred_at": entry.occurred_at.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "actor": entry.actor,
        "via": entry.via,
        "action": entry.action,
        "table": entry.table,
        "key": entry.label,
        "changes": _summary(entry),
        "reason": entry.reason,
    }


@app.command("log")
def log(
    since: Annotated[
        str | None, typer.Option("--since", help="7d, 12h, 30m, 2w or a date (UTC): 2026-01-01.")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="Same forms as --since.")] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Only this actor.")] = None,
    table: Annotated[
        str | None,
        typer.Option(
            "--table",
            help="exchange_groups (groups), dag_configuration (config), tickers,"
            " scheduled_changes (schedule), change_requests (requests),"
            " change_request_approvals (approvals), break_glass_acks (acks).",
        ),
    ] = None,
    dag: Annotated[str | None, typer.Option("--dag", help="Only jobs of this pipeline.")] = None,
    group: Annotated[
        str | None,
        typer.Option(
            "--group",
            help="The group, its jobs, the tickers on its exchanges, its change requests"
            " (approvals, applications) and scheduled changes.",
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", help="At most N entries, newest first; 0 for all.")
    ] = DEFAULT_LIMIT,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List audit entries, newest first, filtered by time, actor, table, pipeline or group.

    -o jsonl streams one JSON object a line in constant memory (for exports of any size). JSON objects carry id, occurred_at, actor, via, action, table, key, changes, reason, change_set, row_hash (and prev_hash, txid, db_user, client_addr, application_name).

    Example: hubctl audit log --since 30d --group lse -o csv
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import audit

    query = audit.AuditQuery(since, until, actor, table, dag, group)
    if output is OutputFormat.jsonl:
        for entry in audit.stream_audit_log(database(), query, limit=limit):
            typer.echo(json.dumps(entry.to_dict(), default=str))
        return
    entries = audit.audit_log(database(), query, limit=limit)
    if output is OutputFormat.table:
        render([log_row(entry) for entry in entries], output)
    else:
        render([entry.to_dict() for entry in entries], output)
    if limit and len(entries) == limit:
        typer.echo(f"(showing the {limit} newest entries; --limit 0 shows all)", err=True)


def _side_by_side(entry: AuditEntry) -> list[dict[str, Any]]:
    old = entry.old if isinstance(entry.old, dict) else {}
    new = entry.new if isinstance(entry.new, dict) else {}
    return [
        {
            "field": name,
            "old": old.get(name),
            "new": new.get(name),
            "changed": "*" if name in (entry.changes or {}) else "",
        }
        for name in dict.fromkeys([*old, *new])
    ]


@app.command("show")
def show(entry_id: EntryArgument, output: OutputOption = OutputFormat.table) -> None:
    """Show one entry: who, when, why, and the row's old and new values side by side.

    Example: hubctl audit show 42
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import audit

    entry = audit.audit_entry(database(), entry_id=entry_id)
    if output is not OutputFormat.table:
        render(entry.to_dict(with_rows=True), output)
        return
    header = {k: v for k, v in entry.to_dict().items() if k != "changes"}
    render({**header, "key": entry.label}, output, title=f"audit entry {entry.id}")
    render(_side_by_side(entry), output)


AnchorsOption = Annotated[
    Path | None,
    typer.Option(
        "--anchors",
        help="Anchor store (file, or directory holding audit-anchors.jsonl); default HUB_ANCHOR_PATH.",
    ),
]


def _chain_fields(result: ChainReport) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "rows_checked": result.rows_checked,
        "last_id": result.last_id,
        "last_hash": result.last_hash,
        "first_broken_id": result.first_broken_id,
        "problem": result.problem,
        "unaudited": list(result.unaudited),
    }


@app.command("verify")
def verify(
    anchors: AnchorsOption = None,
    incremental: Annotated[
        bool,
        typer.Option(
            "--incremental",
            help="With anchors: check the newest anchor's entry, then only the entries after it.",
        ),
    ] = False,
    output: OutputOption = OutputFormat.table,
) -> None:
    """Recompute the hash chain; exit 1 naming the first broken entry if anything was tampered.

    Then replay the log and compare it with the live tables: a row changed without an audit entry (audit triggers disabled, by any login) is named; --incremental skips this replay. A superuser can rewrite and re-hash the whole chain; --anchors (or --incremental) also checks it against the signed anchors of `hubctl audit anchor` (key: HUB_AUDIT_KEY or HUB_AUDIT_KEY_FILE) and names the first anchor it disagrees with.

    Example: hubctl audit verify --anchors .hub/audit-anchors.jsonl
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import audit

    started = time.perf_counter()
    if anchors is None and not incremental:
        result = audit.verify(database())
        render({**_chain_fields(result), **_rate(result, started)}, output)
        if result.failure:
            raise HubError(result.failure)
        return
    anchored = audit.verify_anchored(database(), store=anchors, incremental=incremental)
    fields = {**_chain_fields(anchored.chain), "ok": anchored.ok}
    render({**fields, "anchors_checked": anchored.anchors_checked,
            "disagreeing_anchor": anchored.disagreeing_anchor,
            "anchor_problem": anchored.problem, **_rate(anchored.chain, started)}, output)  # fmt: skip
    if anchored.failure:
        raise HubError(anchored.failure)


def _rate(result: ChainReport, started: float) -> dict[str, Any]:
    seconds = max(time.perf_counter() - started, 1e-6)
    return {"seconds": round(seconds, 3), "rows_per_second": int(result.rows_checked / seconds)}


@app.command("anchor")
def anchor(anchors: AnchorsOption = None, output: OutputOption = OutputFormat.table) -> None:
    """Verify the chain since the last anchor, then append a signed anchor of where it stands.

    The anchor (last_id, last_hash, count, time, key id, HMAC-SHA256 signature) goes to an append-only JSON Lines store outside the database; the key (HUB_AUDIT_KEY or HUB_AUDIT_KEY_FILE) never goes to the database. The generated audit_anchor job runs this hourly.

    Example: HUB_AUDIT_KEY_FILE=/etc/hub/audit.key hubctl audit anchor
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import audit

    render(asdict(audit.anchor(database(), store=anchors)), output)


@app.command("diff")
def diff(
    start: Annotated[str, typer.Argument(help="From: an audit id, 3d/12h (ago) or a time (UTC).")],
    end: Annotated[str, typer.Argument(help="To: the same forms, e.g. now's `0m`.")],
    output: OutputOption = OutputFormat.table,
) -> None:
    """What changed in the configuration between two times or two audit ids, printed like a plan.

    An id means "just after that entry"; both sides are rebuilt from the audit log alone.

    Example: hubctl audit diff 7d 0m
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.cli.document import plan_dict, print_changes
    from hubctl.services import documents

    changes = documents.diff(database(), start=start, end=end)
    if output is not OutputFormat.table:
        render({k: v for k, v in plan_dict(changes).items() if k != "fingerprint"}, output)
    elif changes.empty:
        typer.echo(f"No changes between {start} and {end}.")
    else:
        print_changes(changes)
        typer.echo(
            f"Diff: {changes.count('create')} created, {changes.count('update')} changed, "
            f"{changes.count('delete')} removed."
        )


@app.command("revert")
def revert(
    ctx: typer.Context,
    entry_id: EntryArgument,
    actor: ActorOption = None,
    reason: ReasonOption = None,
    break_glass: BreakGlassOption = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Undo one entry by writing its inverse as a new audited change (-m is required).

    An update gets its old values back, an insert is removed, a delete is re-created. Shows that change and asks first (unless --yes, for scripts). Refused if the row changed after that entry (revert the later entry first).

    Example: hubctl audit revert 42 -m "batch size change broke the LSE run"
    """
    # deferred: the library (psycopg2, pydantic, yaml) costs > 10 ms; `hubctl --help` must not pay for it
    from hubctl.services import audit

    if not (reason or "").strip():
        raise ValidationError("reason: say why (-m)")
    who = author(ctx, actor, reason, break_glass=break_glass)
    if not yes:
        for change in audit.revert_preview(database(), entry_id=entry_id, author=who):
            report(change, dry_run=True)
        typer.confirm(f"Revert audit entry {entry_id}?", abort=True)
    report(audit.revert(database(), entry_id=entry_id, author=who))
