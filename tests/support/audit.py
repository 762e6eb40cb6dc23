"""What a superuser can do to the audit log, for the tests that prove it is caught."""

from __future__ import annotations

import sqlalchemy as sa

# Recompute every hash and the head, as a superuser who rewrote a row would, so plain verify passes.
RECOMPUTE_CHAIN = """
DO $$
DECLARE
  entry hub.audit_log;
  previous text := NULL;
BEGIN
  FOR entry IN SELECT * FROM hub.audit_log ORDER BY id LOOP
    entry.prev_hash := previous;
    previous := encode(sha256(convert_to(coalesce(previous, '') || hub.audit_canonical(entry),
                                         'UTF8')), 'hex');
    UPDATE hub.audit_log SET prev_hash = entry.prev_hash, row_hash = previous WHERE id = entry.id;
  END LOOP;
  UPDATE hub.audit_chain_head SET last_id = (SELECT max(id) FROM hub.audit_log),
                                  last_hash = previous WHERE id = 1;
END $$;
"""


def tamper(engine: sa.Engine, statement: str) -> None:
    """What a superuser can do: switch the protection off and edit history."""
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE hub.audit_log DISABLE TRIGGER ALL"))
        conn.execute(sa.text(statement))
