"""The library behind hubctl: validation, repository calls and transactions, one call per command.

Any Python code may call these; each write takes an ``author`` (hubctl.author.Author: actor,
reason, via, command line, break-glass, write mode), whose actor, reason and via land in the
audit rows of the one transaction it runs in (hubctl.services.changes.audited_change).
"""
