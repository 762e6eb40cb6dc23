"""What tests share: database set-up, the CLI runner, factories for common rows, fault helpers.

Test modules import from here (``from tests.support.cli import hubctl``), never from another
folder's conftest or test module. Fixtures stay in conftest files; the plain functions and
classes they are built from live here.
"""
