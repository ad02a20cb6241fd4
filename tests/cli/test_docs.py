"""Every command has help text with an example, and the README documents every command."""

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from datacur.cli import build_app

README = Path(__file__).resolve().parents[2] / "README.md"
runner = CliRunner()
app = build_app()
COMMANDS = sorted(
    command.name or command.callback.__name__ for command in app.registered_commands
) + sorted(group.name for group in app.registered_groups if group.name)


def test_there_are_commands() -> None:
    assert {"evaluate", "cap", "check", "leaderboard"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help_has_text_and_an_example(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.stdout, f"`datacur {command} --help` shows no example"


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_documents_the_command(command: str) -> None:
    assert f"datacur {command}" in README.read_text(encoding="utf-8")


def test_root_help_and_version() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "evaluate" in result.stdout
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.stdout.startswith("datacur ")


@pytest.mark.parametrize("command", COMMANDS)
def test_placeholders_in_option_help_survive_markdown(command: str) -> None:
    """Help is rendered as markdown, which swallows a bare ``<name>`` as an HTML tag."""
    import re

    group = typer.main.get_command(app)
    params = group.commands[command].params  # type: ignore[attr-defined]
    placeholders = {
        token
        for param in params
        for token in re.findall(r"<[^<>\s]+>", getattr(param, "help", "") or "")
    }
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "400"})
    missing = [token for token in sorted(placeholders) if token not in result.stdout]
    assert not missing, f"`datacur {command} --help` lost {missing}: wrap them in backticks"
