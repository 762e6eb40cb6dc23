"""All SQL of the control plane. Functions take a psycopg2 connection and keyword arguments only.

The caller owns the transaction (hubctl.db.audited_transaction for writes), so several calls
compose into one audited change. Modules: rows (the operations every control table shares),
groups, config, tickers, audit, status; jobs is the generator's read. Column lists come from
the tables' descriptions (hubctl.tables), so importing this package imports nothing heavy.
"""
