"""The README's promises that code can check: the state diagram and the two commands."""

from __future__ import annotations

from pathlib import Path

from trainplane.domain import transitions

ROOT = Path(__file__).resolve().parents[2]


def test_readme_state_diagram_is_the_transition_table() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert block.strip() == transitions.mermaid().strip()


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/test" in readme and "scripts/demo" in readme
    assert "scripts/install\nscripts/test" in ci
