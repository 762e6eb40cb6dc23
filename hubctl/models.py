"""SQLAlchemy metadata of the tables the migrations create, for Alembic's comparison only.

The migrations own the schema (CHECKs, triggers and functions live there). The control tables
here are derived from their descriptions (hubctl.tables); the market tables are written out.
tests/test_migrations.py proves that this metadata and the migrated database agree, so a
description that drifts from its migration fails there. No code queries through these models.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, INET, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from hubctl.tables import GROUPS, JOBS, TICKERS, ControlTable, Field


class Base(DeclarativeBase):
    pass


def _column_type(field: Field) -> Any:
    if field.is_list:
        return ARRAY(sa.Text)
    if field.is_json:
        return JSONB
    return {str: sa.Text, int: sa.Integer, bool: sa.Boolean, dt.time: sa.Time}[field.type]


def _bookkeeping() -> list[sa.Column[Any]]:
    """Columns the database maintains itself (hub.touch_row)."""
    moment = sa.DateTime(timezone=True)
    return [
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", moment, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", moment, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_by", sa.Text, nullable=False, server_default=sa.text("session_user")),
    ]


def control_table(table: ControlTable, *extras: Any) -> sa.Table:
    """The SQLAlchemy table of a control table, from its description (``extras``: keys, indexes)."""
    columns = [
        sa.Column(
            field.name,
            _column_type(field),
            primary_key=field.is_key,
            nullable=field.nullable and not field.is_derived,
        )
        for field in table.fields
    ]
    return sa.Table(
        table.name, Base.metadata, *columns, *_bookkeeping(), *extras, schema=table.SCHEMA
    )


EXCHANGE_GROUPS = control_table(GROUPS)
DAG_CONFIGURATION = control_table(
    JOBS,
    sa.ForeignKeyConstraint(
        ["exchange_group"],
        ["hub.exchange_groups.group_name"],
        name="fk_dag_configuration_exchange_group",
        onupdate="CASCADE",
        ondelete="RESTRICT",
    ),
    sa.Index("ix_dag_configuration_exchange_group", "exchange_group"),
)
TICKERS_TABLE = control_table(TICKERS, sa.Index("ix_tickers_exchange", "exchange"))


# Migration 0007: one index per arm of `audit log --group`'s OR (and a job's entries).
AUDIT_EXPRESSION_INDEXES = {
    "ix_audit_log_group_name": ("table_name", "(row_key ->> 'group_name')"),
    "ix_audit_log_job_new_group": ("table_name", "(new_row ->> 'exchange_group')"),
    "ix_audit_log_job_old_group": ("table_name", "(old_row ->> 'exchange_group')"),
    "ix_audit_log_job_name": ("table_name", "(row_key ->> 'dag_name')", "(row_key ->> 'job_name')"),
    "ix_audit_log_ticker_exchange": ("table_name", "(coalesce(new_row, old_row) ->> 'exchange')"),
}


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index("ix_audit_log_occurred_at", "occurred_at"),
        sa.Index("ix_audit_log_table_name_row_key", "table_name", "row_key"),
        sa.Index("ix_audit_log_change_set", "change_set"),
        *(
            sa.Index(name, *(sa.text(part) for part in parts))
            for name, parts in AUDIT_EXPRESSION_INDEXES.items()
        ),
        {"schema": "hub"},
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), nullable=False)
    txid: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    table_name: Mapped[str] = mapped_column(sa.Text, nullable=False)
    action: Mapped[str] = mapped_column(sa.Text, nullable=False)
    row_key: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    old_row: Mapped[Any] = mapped_column(JSONB, nullable=True)  # a list of rows for TRUNCATE
    new_row: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    changed_fields: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    actor: Mapped[str] = mapped_column(sa.Text, nullable=False)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    via: Mapped[str] = mapped_column(sa.Text, nullable=False)
    db_user: Mapped[str] = mapped_column(sa.Text, nullable=False)
    client_addr: Mapped[str | None] = mapped_column(INET)
    application_name: Mapped[str | None] = mapped_column(sa.Text)
    change_set: Mapped[str | None] = mapped_column(sa.Text)
    prev_hash: Mapped[str | None] = mapped_column(sa.Text)
    row_hash: Mapped[str] = mapped_column(sa.Text, nullable=False)


class AuditChainHead(Base):
    __tablename__ = "audit_chain_head"
    __table_args__ = {"schema": "hub"}

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    last_hash: Mapped[str | None] = mapped_column(sa.Text)


# Migration 0012: captured write commands to apply at ``run_at`` (hub_scheduler).
SCHEDULED_CHANGES = sa.Table(
    "scheduled_changes",
    Base.metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("command", sa.Text, nullable=False),
    sa.Column("changes", JSONB, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("state", sa.Text, nullable=False, server_default="scheduled"),
    sa.Column("note", sa.Text),
    sa.Column("applied_at", sa.DateTime(timezone=True)),
    *_bookkeeping(),
    sa.Column("scheduled_login", sa.Text),  # migration 0015: the login that scheduled it
    sa.Index("ix_scheduled_changes_due", "run_at", postgresql_where=sa.text("state = 'scheduled'")),
    schema="hub",
)


# Migration 0013: four-eyes approval (hubctl.services.requests).
class ChangeRequest(Base):
    __tablename__ = "change_requests"
    __table_args__ = (
        sa.UniqueConstraint("id", "requester", name="uq_change_requests_id_requester"),
        {"schema": "hub"},
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(always=False), primary_key=True)
    command: Mapped[str] = mapped_column(sa.Text, nullable=False)
    changes: Mapped[list[Any]] = mapped_column(JSONB, nullable=False)
    groups: Mapped[list[str]] = mapped_column(ARRAY(sa.Text), nullable=False)
    approvals_required: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    requester: Mapped[str] = mapped_column(sa.Text, nullable=False)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    state: Mapped[str] = mapped_column(sa.Text, nullable=False, server_default="open")
    created_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )
    decided_by: Mapped[str | None] = mapped_column(sa.Text)
    decided_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    applied_txid: Mapped[int | None] = mapped_column(sa.BigInteger)
    # Migration 0015: the authenticated person who asked (NULL on a shared login) and the login.
    requested_by: Mapped[str | None] = mapped_column(sa.Text)
    requested_login: Mapped[str | None] = mapped_column(sa.Text)


class ChangeRequestApproval(Base):
    __tablename__ = "change_request_approvals"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["request_id", "requester"],
            ["hub.change_requests.id", "hub.change_requests.requester"],
            name="fk_change_request_approvals_request",
        ),
        {"schema": "hub"},
    )

    request_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    approver: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    requester: Mapped[str] = mapped_column(sa.Text, nullable=False)
    approved_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )
    # Migration 0015: false for approvals claimed on a shared login before it (they never count).
    authenticated: Mapped[bool] = mapped_column(
        sa.Boolean, nullable=False, server_default=sa.true()
    )


class BreakGlassAck(Base):
    __tablename__ = "break_glass_acks"
    __table_args__ = {"schema": "hub"}

    change_set: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    acknowledged_by: Mapped[str] = mapped_column(sa.Text, nullable=False)
    acknowledged_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )
    note: Mapped[str] = mapped_column(sa.Text, nullable=False)


# Migration 0015: the first transaction that used each break-glass id (single use).
class BreakGlassUse(Base):
    __tablename__ = "break_glass_uses"
    __table_args__ = {"schema": "hub"}

    change_set: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    txid: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    broken_by: Mapped[str | None] = mapped_column(sa.Text)
    actor: Mapped[str] = mapped_column(sa.Text, nullable=False)
    db_user: Mapped[str] = mapped_column(sa.Text, nullable=False)
    first_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


# Migration 0014: each change listener's position and heartbeat (not audited).
class ListenerState(Base):
    __tablename__ = "listener_state"
    __table_args__ = {"schema": "hub"}

    name: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    last_audit_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )
    started_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )
    host: Mapped[str] = mapped_column(sa.Text, nullable=False)
    pid: Mapped[int] = mapped_column(sa.Integer, nullable=False)


# Migration 0017: alerts, their deliveries, source fetches and the monitor's reads (not audited).
ALERTS = sa.Table(
    "alerts",
    Base.metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("rule", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("exchange_group", sa.Text),
    sa.Column("dag_id", sa.Text),
    sa.Column("value", sa.Double, nullable=False),
    sa.Column("threshold", sa.Double, nullable=False),
    sa.Column("detail", sa.Text, nullable=False, server_default=""),
    sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("resolved_at", sa.DateTime(timezone=True)),
    sa.Index(
        "uq_alerts_open",
        "rule",
        "subject",
        unique=True,
        postgresql_where=sa.text("resolved_at IS NULL"),
    ),
    sa.Index("ix_alerts_exchange_group", "exchange_group"),
    schema="hub",
)
ALERT_DELIVERIES = sa.Table(
    "alert_deliveries",
    Base.metadata,
    sa.Column(
        "alert_id",
        sa.BigInteger,
        sa.ForeignKey("hub.alerts.id", name="alert_deliveries_alert_id_fkey", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("event", sa.Text, primary_key=True),
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("delivered_at", sa.DateTime(timezone=True)),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Index(
        "ix_alert_deliveries_pending",
        "created_at",
        postgresql_where=sa.text("delivered_at IS NULL"),
    ),
    schema="hub",
)
SOURCE_FETCHES = sa.Table(
    "source_fetches",
    Base.metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("exchange_group", sa.Text, nullable=False),
    sa.Column("dag_id", sa.Text),
    sa.Column("run_id", sa.Text),
    sa.Column(
        "fetched_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("error", sa.Text),
    sa.Index("ix_source_fetches_group_id", "exchange_group", "id"),
    schema="hub",
)
MONITORED_RUNS = sa.Table(
    "monitored_runs",
    Base.metadata,
    sa.Column("dag_id", sa.Text, primary_key=True),
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("state", sa.Text),
    sa.Column("start_date", sa.DateTime(timezone=True)),
    sa.Column("end_date", sa.DateTime(timezone=True)),
    sa.Column("duration_seconds", sa.Double),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
    sa.Index("ix_monitored_runs_dag_end", "dag_id", "end_date"),
    schema="hub",
)
MONITOR_STATE = sa.Table(
    "monitor_state",
    Base.metadata,
    sa.Column("id", sa.Boolean, primary_key=True, server_default=sa.true()),
    sa.Column("runs_cursor", sa.DateTime(timezone=True)),
    sa.Column("tasks_cursor", sa.DateTime(timezone=True)),
    sa.Column("evaluated_at", sa.DateTime(timezone=True)),
    sa.Column("api_calls", sa.Integer),
    sa.Column("last_error", sa.Text),
    schema="hub",
)


class Security(Base):
    __tablename__ = "securities"
    __table_args__ = {"schema": "market"}

    security_id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    ticker: Mapped[str] = mapped_column(sa.Text, nullable=False, unique=True)
    exchange: Mapped[str] = mapped_column(sa.Text, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


def _security_fk(name: str) -> sa.ForeignKey:
    return sa.ForeignKey("market.securities.security_id", name=name, ondelete="CASCADE")


class Ohlcv(Base):
    __tablename__ = "ohlcv"
    __table_args__ = (sa.Index("ix_ohlcv_loaded_at", "loaded_at"), {"schema": "market"})

    security_id: Mapped[int] = mapped_column(
        sa.BigInteger, _security_fk("fk_ohlcv_security"), primary_key=True
    )
    trade_date: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    open: Mapped[float] = mapped_column(sa.Double, nullable=False)
    high: Mapped[float] = mapped_column(sa.Double, nullable=False)
    low: Mapped[float] = mapped_column(sa.Double, nullable=False)
    close: Mapped[float] = mapped_column(sa.Double, nullable=False)
    adj_close: Mapped[float] = mapped_column(sa.Double, nullable=False)
    volume: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    source: Mapped[str] = mapped_column(sa.Text, nullable=False)
    loaded_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


class SecurityMetadata(Base):
    __tablename__ = "security_metadata"
    __table_args__ = {"schema": "market"}

    security_id: Mapped[int] = mapped_column(
        sa.BigInteger, _security_fk("fk_security_metadata_security"), primary_key=True
    )
    long_name: Mapped[str | None] = mapped_column(sa.Text)
    sector: Mapped[str | None] = mapped_column(sa.Text)
    industry: Mapped[str | None] = mapped_column(sa.Text)
    currency: Mapped[str | None] = mapped_column(sa.Text)
    market_cap: Mapped[int | None] = mapped_column(sa.BigInteger)
    source: Mapped[str] = mapped_column(sa.Text, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


INDICATOR_NAMES = (
    "sma_20", "sma_50", "sma_200", "ema_12", "ema_26", "macd", "macd_signal", "rsi_14",
    "bb_upper", "bb_middle", "bb_lower",
)  # fmt: skip


class Indicator(Base):
    __table__ = sa.Table(
        "indicators",
        Base.metadata,
        sa.Column(
            "security_id", sa.BigInteger, _security_fk("fk_indicators_security"), primary_key=True
        ),
        sa.Column("trade_date", sa.Date, primary_key=True),
        *(sa.Column(name, sa.Double) for name in INDICATOR_NAMES),
        sa.Column(
            "computed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        schema="market",
    )


class LoadProgress(Base):
    __tablename__ = "load_progress"
    __table_args__ = {"schema": "market"}

    group_name: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    start_date: Mapped[dt.date] = mapped_column(sa.Date, nullable=False)
    loaded_through: Mapped[dt.date | None] = mapped_column(sa.Date)
    updated_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )
