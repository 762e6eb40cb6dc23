"""The generator's fixtures (a hub database with the default configuration, a DagBag parse)."""

from tests.generator.conftest import hub, parse

__all__ = ["hub", "parse"]
