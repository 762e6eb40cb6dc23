"""The `queue` knob: the Airflow task queue a job's tasks go to (Celery routing).

Nullable (null: the executor's default queue), a slug like every other name in the hub.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SLUG = r"^[a-z][a-z0-9_]{0,62}$"


def upgrade() -> None:
    op.execute(
        "ALTER TABLE hub.dag_configuration ADD COLUMN queue text"
        f" CONSTRAINT ck_dag_configuration_queue_slug CHECK (queue ~ '{SLUG}')"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE hub.dag_configuration DROP COLUMN queue")
