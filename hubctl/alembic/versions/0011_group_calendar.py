"""Exchange calendars: each group's `calendar`, and `@after_close[+Nm]` schedules.

`calendar` names an exchange_calendars calendar (XNYS, XLON, ...) or `weekday`; the CHECK holds
the format (it cannot ask the library: the write rule checks the name is known). Existing groups
get the calendar their exchanges map to unambiguously, else `weekday` (Monday to Friday, what
their cron schedules did until now). Collection jobs of a group whose schedule is a weekday cron
at or after the group's close (`30 17 * * 1-5`) become `@after_close+<that many minutes>`: they
then fire after each trading session, early closes included, and never on a holiday.

Revision ID: 0011
Revises: 0008
Create Date: 2026-11-28
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

CALENDAR = r"^(weekday|[A-Z]{4})$"
AFTER_CLOSE = r"^@after_close(\+[0-9]{1,4}m)?$"
# hubctl.calendars.EXCHANGE_CALENDARS at the time of this migration
EXCHANGE_CALENDARS = (
    "('NYSE','XNYS'),('NASDAQ','XNYS'),('LSE','XLON'),('AIM','XLON'),('XETRA','XETR')"
)
# minutes after the group's close, as `@after_close+Nm`, of a collection job's weekday cron
_CRON_DELAY = r"""
(substring(c.schedule from '^[0-9]+ ([0-9]+) ')::int * 60
 + substring(c.schedule from '^([0-9]+) ')::int
 - extract(hour from g.market_close)::int * 60 - extract(minute from g.market_close)::int)"""


# A SQL writer that names no calendar gets the one its exchanges map to, as with hubctl; an
# ambiguous group is refused with the same choice hubctl offers.
_DERIVE_ON_INSERT = """
CREATE FUNCTION hub.derive_group_calendar() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.calendar IS NULL THEN
    NEW.calendar := hub.derived_calendar(NEW.exchanges);
    IF NEW.calendar IS NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = format(
        'calendar: exchanges %s have no single known calendar; name one (XNYS, XLON, XETR,'
        ' XPAR, ...) or ''weekday''', array_to_string(NEW.exchanges, ', '));
    END IF;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER derive_group_calendar BEFORE INSERT ON hub.exchange_groups
  FOR EACH ROW EXECUTE FUNCTION hub.derive_group_calendar();
ALTER TABLE hub.exchange_groups ENABLE ALWAYS TRIGGER derive_group_calendar;
"""


def _audited_as_migration() -> None:
    op.execute(
        "SELECT set_config('hub.actor', 'migration 0011', true),"
        " set_config('hub.reason', 'exchange calendars (docs/exchange-groups.md)', true)"
    )


def upgrade() -> None:
    _audited_as_migration()
    op.execute("ALTER TABLE hub.exchange_groups ADD COLUMN calendar text")
    op.execute(f"""
CREATE FUNCTION hub.derived_calendar(p_exchanges text[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT min(m.calendar) FROM unnest(p_exchanges) e(code)
    LEFT JOIN (VALUES {EXCHANGE_CALENDARS}) m(code, calendar) ON m.code = e.code
  HAVING count(DISTINCT m.calendar) = 1 AND count(m.calendar) = count(*)
$$""")
    op.execute(_DERIVE_ON_INSERT)
    op.execute(
        "UPDATE hub.exchange_groups"
        " SET calendar = coalesce(hub.derived_calendar(exchanges), 'weekday')"
    )
    op.execute(
        "ALTER TABLE hub.exchange_groups ALTER COLUMN calendar SET NOT NULL,"
        f" ADD CONSTRAINT ck_exchange_groups_calendar CHECK (calendar ~ '{CALENDAR}')"
    )
    op.execute(
        "ALTER TABLE hub.dag_configuration DROP CONSTRAINT ck_dag_configuration_schedule_valid"
    )
    op.execute(
        "ALTER TABLE hub.dag_configuration ADD CONSTRAINT ck_dag_configuration_schedule_valid"
        f" CHECK (hub.is_valid_schedule(schedule) OR (schedule ~ '{AFTER_CLOSE}'"
        " AND coalesce(substring(schedule from '([0-9]+)m$')::int, 0) <= 1439)),"
        " ADD CONSTRAINT ck_dag_configuration_after_close_group"
        " CHECK (schedule NOT LIKE '@after\\_close%' OR exchange_group IS NOT NULL)"
    )
    op.execute(f"""
UPDATE hub.dag_configuration c
   SET schedule = '@after_close' || CASE WHEN {_CRON_DELAY} = 0 THEN '' ELSE '+' || {_CRON_DELAY} || 'm' END
  FROM hub.exchange_groups g
 WHERE g.group_name = c.exchange_group AND c.dag_name = 'data_collection_equities'
   AND c.schedule ~ '^[0-9]{{1,2}} [0-9]{{1,2}} \\* \\* 1-5$' AND {_CRON_DELAY} BETWEEN 0 AND 1439""")


def downgrade() -> None:
    _audited_as_migration()
    op.execute("""
UPDATE hub.dag_configuration c
   SET schedule = to_char((g.market_close
                           + make_interval(mins => coalesce(substring(c.schedule from '([0-9]+)m$')::int, 0))),
                          'FMMI FMHH24') || ' * * 1-5'
  FROM hub.exchange_groups g
 WHERE g.group_name = c.exchange_group AND c.schedule LIKE '@after\\_close%'""")
    op.execute(
        "ALTER TABLE hub.dag_configuration DROP CONSTRAINT ck_dag_configuration_after_close_group,"
        " DROP CONSTRAINT ck_dag_configuration_schedule_valid"
    )
    op.execute(
        "ALTER TABLE hub.dag_configuration ADD CONSTRAINT ck_dag_configuration_schedule_valid"
        " CHECK (hub.is_valid_schedule(schedule))"
    )
    op.execute("DROP TRIGGER derive_group_calendar ON hub.exchange_groups")
    op.execute("DROP FUNCTION hub.derive_group_calendar(), hub.derived_calendar(text[])")
    op.execute("ALTER TABLE hub.exchange_groups DROP COLUMN calendar")
