"""Alembic environment: the URL comes from hubctl's settings, or from the caller's connection."""

from logging.config import fileConfig

from alembic import context

from hubctl.db import create_engine
from hubctl.models import Base

config = context.config
# Only the alembic CLI reads alembic.ini (and its logging); hubctl.migrations configures none.
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

MANAGED_SCHEMAS = {"hub", "market"}


def include_name(name, type_, parent_names):
    if type_ == "schema":
        return name in MANAGED_SCHEMAS
    return True


def run_migrations(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_schemas=True,
        include_name=include_name,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    url = config.attributes.get("url")
    engine = create_engine(url)
    with engine.connect() as conn:
        run_migrations(conn)
    engine.dispose()
