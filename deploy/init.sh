#!/usr/bin/env bash
# One-shot initialisation (the `airflow-init` service): migrate both databases, load the default
# configuration on first start only, give the logins their roles, set the admin login.
set -euo pipefail

airflow db migrate
hubctl db upgrade   # as HUB_MIGRATION_DATABASE_URL, the owner
python - <<'PY'
import sqlalchemy as sa
from hubctl.db import create_engine, grant_runtime_role, resolve_migration_url

# hub_app (HUB_DATABASE_URL) runs hubctl, the tasks and the pipelines: hub_operator, market data,
# owner of nothing, so it cannot disable the audit triggers. The generator reads as hub_reader.
grant_runtime_role(resolve_migration_url(), "hub_app")
with create_engine(resolve_migration_url()).begin() as conn:
    conn.execute(sa.text("GRANT hub_reader TO hub_generator"))
PY
if [ "$(hubctl audit log --limit 1 -o json)" = "[]" ]; then
  hubctl apply --defaults --yes --actor airflow-init -m "default configuration"
fi
printf '{"%s": "%s"}\n' "${AIRFLOW_ADMIN_USER}" "${AIRFLOW_ADMIN_PASSWORD}" \
  > "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE}"
echo "airflow-hub initialised"
