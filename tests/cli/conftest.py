"""hubctl in-process against a database holding the shipped default configuration."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from tests.support.cli import Run


@pytest.fixture
def hub(run: Run, default_config: Engine) -> Run:
    """`run` against a database holding the shipped default configuration."""
    return run
