"""All SQL for the control tables. Functions take a Connection and keyword arguments only.

The caller owns the transaction (hubctl.db.audited_transaction for writes), so several calls
compose into one audited change. Modules: tables (the shared row operations and the table
descriptions GROUPS, JOBS, TICKERS), groups, config, tickers, audit; jobs is the generator's read.
Importing this package imports nothing else, so the generator's path stays light.
"""
