"""hubctl db upgrade / downgrade / current against a real database."""

from __future__ import annotations

import sqlalchemy as sa
from typer.testing import CliRunner

from hubctl import migrations
from hubctl.cli import app


def schemas(db_url: str) -> set[str]:
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        found = conn.execute(
            sa.text("SELECT nspname FROM pg_namespace WHERE nspname IN ('hub', 'market')")
        )
        return set(found.scalars())


def test_current_downgrade_upgrade(hub_env: object, db_url: str) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["db", "current"])
    assert result.exit_code == 0 and result.output.strip() == f"{migrations.head()} (head)"

    result = runner.invoke(app, ["db", "downgrade", "0001"])
    assert result.exit_code == 0, result.output
    assert schemas(db_url) == {"hub"}
    assert "(head is" in runner.invoke(app, ["db", "current"]).output

    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0 and schemas(db_url) == {"hub", "market"}
