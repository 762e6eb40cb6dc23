"""All SQL for the control tables. Functions take a Connection and keyword arguments only.

The caller owns the transaction (hubctl.db.audited_transaction for writes), so several calls
compose into one audited change.
"""

from hubctl.repository.tables import CONTROL_TABLES, GROUPS, JOBS, TICKERS, ControlTable

__all__ = ["CONTROL_TABLES", "GROUPS", "JOBS", "TICKERS", "ControlTable"]
