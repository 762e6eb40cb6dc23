"""Marks that test modules share."""

from __future__ import annotations

import pytest

# Tests that run Airflow's servers (a stack, an api-server): with `--dist loadgroup` one
# pytest-xdist worker runs them one after another, never two at once on two cores.
# tests/conftest.py puts every e2e test in the same group.
AIRFLOW_PROCESSES = pytest.mark.xdist_group("airflow")
