#!/usr/bin/env bash
# One-shot initialisation (the `airflow-init` service): migrate both databases, load the default
# configuration on first start only, give the generator its read-only role, set the admin login.
set -euo pipefail

airflow db migrate
hubctl db upgrade
if [ "$(hubctl audit log --limit 1 -o json)" = "[]" ]; then
  hubctl apply --defaults --yes --actor airflow-init -m "default configuration"
fi
python - <<'PY'
import sqlalchemy as sa
from hubctl.db import create_engine

with create_engine().begin() as conn:
    conn.execute(sa.text("GRANT hub_reader TO hub_generator"))
PY
printf '{"%s": "%s"}\n' "${AIRFLOW_ADMIN_USER}" "${AIRFLOW_ADMIN_PASSWORD}" \
  > "${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE}"
echo "airflow-hub initialised"
