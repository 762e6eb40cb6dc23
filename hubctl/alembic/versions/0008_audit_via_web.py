"""Audit `via = 'web'`: changes made on the Markets page in Airflow's UI.

The audit trigger copies `hub.via` into the entry; the page's transactions set it to `web`, so the
CHECK that guards the column learns the third value.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _via_check(values: str) -> None:
    op.execute("ALTER TABLE hub.audit_log DROP CONSTRAINT ck_audit_log_via")
    op.execute(
        f"ALTER TABLE hub.audit_log ADD CONSTRAINT ck_audit_log_via CHECK (via IN ({values}))"
    )


def upgrade() -> None:
    _via_check("'hubctl', 'sql', 'web'")


def downgrade() -> None:
    _via_check("'hubctl', 'sql'")
