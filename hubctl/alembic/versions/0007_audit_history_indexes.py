"""Indexes for reading the audit log by group at scale (audit log --group, runs show).

`audit log --group G` matches entries about the group, its jobs (before or after a change) and
the tickers on its exchanges; each arm of that OR gets an expression index so PostgreSQL answers
it with a bitmap OR instead of reading a million rows. bench/audit.py measures it.

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-28
"""

from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_audit_log_group_name": "(table_name, (row_key ->> 'group_name'))",
    "ix_audit_log_job_new_group": "(table_name, (new_row ->> 'exchange_group'))",
    "ix_audit_log_job_old_group": "(table_name, (old_row ->> 'exchange_group'))",
    "ix_audit_log_job_name": "(table_name, (row_key ->> 'dag_name'), (row_key ->> 'job_name'))",
    "ix_audit_log_ticker_exchange": "(table_name, (coalesce(new_row, old_row) ->> 'exchange'))",
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON hub.audit_log {columns}")


def downgrade() -> None:
    for name in INDEXES:
        op.execute(f"DROP INDEX hub.{name}")
