"""The library behind hubctl: validation, repository calls and transactions, one call per command.

Any Python code may call these; each write takes ``actor`` and ``reason``, which land in the
audit rows of the one transaction it runs in.
"""
