"""hubctl audit: who changed what, when and why; the hash chain; reverting one change."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from hubctl.cli.common import ActorOption, ReasonOption, author, database, report
from hubctl.cli.output import OutputFormat, OutputOption, cell, render
from hubctl.errors import HubError

if TYPE_CHECKING:
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


def _log_row(entry: AuditEntry) -> dict[str, Any]:
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
            "--table", help="exchange_groups (groups), dag_configuration (config), tickers."
        ),
    ] = None,
    dag: Annotated[str | None, typer.Option("--dag", help="Only jobs of this pipeline.")] = None,
    group: Annotated[
        str | None,
        typer.Option("--group", help="The group, its jobs and the tickers on its exchanges."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", help="At most N entries, newest first; 0 for all.")
    ] = DEFAULT_LIMIT,
    output: OutputOption = OutputFormat.table,
) -> None:
    """List audit entries, newest first, filtered by time, actor, table, pipeline or group.

    JSON objects carry id, occurred_at, actor, via, action, table, key, changes, reason, change_set, row_hash (and prev_hash, txid, db_user, client_addr, application_name).

    Example: hubctl audit log --since 30d --group lse -o csv
    """
    from hubctl.services import audit

    entries = audit.audit_log(
        database(),
        since=since,
        until=until,
        actor=actor,
        table=table,
        dag_name=dag,
        group=group,
        limit=limit,
    )
    if output is OutputFormat.table:
        render([_log_row(entry) for entry in entries], output)
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
    from hubctl.services import audit

    entry = audit.audit_entry(database(), entry_id=entry_id)
    if output is not OutputFormat.table:
        render(entry.to_dict(with_rows=True), output)
        return
    header = {k: v for k, v in entry.to_dict().items() if k != "changes"}
    render({**header, "key": entry.label}, output, title=f"audit entry {entry.id}")
    render(_side_by_side(entry), output)


@app.command("verify")
def verify(output: OutputOption = OutputFormat.table) -> None:
    """Recompute the hash chain; exit 1 naming the first broken entry if anything was tampered.

    Record the printed last hash somewhere the database's superuser cannot write: a superuser can rewrite the whole chain, and only an outside copy of a hash shows that.

    Example: hubctl audit verify
    """
    from hubctl.services import audit

    result = audit.verify(database())
    render(
        {
            "ok": result.ok,
            "rows_checked": result.rows_checked,
            "last_id": result.last_id,
            "last_hash": result.last_hash,
            "first_broken_id": result.first_broken_id,
            "problem": result.problem,
        },
        output,
    )
    if not result.ok:
        raise HubError(f"audit chain broken at id {result.first_broken_id}: {result.problem}")


@app.command("revert")
def revert(entry_id: EntryArgument, actor: ActorOption = None, reason: ReasonOption = None) -> None:
    """Undo one entry by writing its inverse as a new audited change.

    An update gets its old values back, an insert is removed, a delete is re-created. Refused if the row changed after that entry (revert the later entry first).

    Example: hubctl audit revert 42 -m "batch size change broke the LSE run"
    """
    from hubctl.services import audit

    change = audit.revert(database(), entry_id=entry_id, **author(actor, reason))
    report(change)
