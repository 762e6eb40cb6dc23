"""Files that ship inside the package, found from it: a regular install works like a checkout."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
# Alembic's environment (env.py, script.py.mako) and versions/.
MIGRATIONS_DIR = PACKAGE_DIR / "alembic"
# Airflow's dags_folder: holds only the generator's entry file (no __init__.py), so Airflow
# never tries to parse the package's other modules as DAG files.
DAGS_FOLDER = PACKAGE_DIR / "dags"
