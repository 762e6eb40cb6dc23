"""docs/cli.md is generated from the app: it must match the code and cover every command."""

from __future__ import annotations

from pathlib import Path

from hubctl.cli import docgen

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_the_committed_reference_is_the_generated_one() -> None:
    assert DOC.read_text() == docgen.generate(), (
        "docs/cli.md is stale: run `python -m hubctl.cli.docgen > docs/cli.md`"
    )


def test_every_command_appears_with_its_help_and_an_example() -> None:
    text = DOC.read_text()
    paths = docgen.command_paths()
    leaves = [
        (path, help_text)
        for path, help_text in paths
        if path
        and not any(other[: len(path)] == path and len(other) > len(path) for other, _ in paths)
    ]
    assert len(leaves) >= 30
    for path, help_text in paths:
        assert f"## {' '.join(['hubctl', *path])}\n" in text
        assert help_text in text
    for path, help_text in leaves:
        assert "Example: hubctl" in help_text or "Example: HUB" in help_text, path
