"""Every `--help` example and every README `datacur` line parses (issue 23).

The lines are run through click's parser only (``make_context``: options, types, choices,
required arguments), never executed. Repository files they name must exist, and a sweep's
``--vary`` key must name something in its recipe, so an example cannot rot into
"no item named 'synth'" again.
"""

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from datacur.cli import build_app
from datacur.sweep import parse_vary, set_recipe_value

ROOT = Path(__file__).resolve().parents[2]
GROUP = typer.main.get_command(build_app())
SHIPPED = ("recipes/", "datasets/dcai-2021", "datasets/label-book", "datasets/dev-test")


def _help_examples() -> list[tuple[str, str]]:
    examples = []
    for name, command in sorted(GROUP.commands.items()):  # type: ignore[attr-defined]
        found = re.findall(r"Example:\s*(datacur [^\n]+)", command.help or "")
        assert found, f"`datacur {name} --help` has no `Example: datacur ...` line"
        examples += [(name, line.strip()) for line in found]
    return examples


def _readme_lines() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            for part in line.split("&&"):
                part = part.split("#", 1)[0].strip()
                if part.startswith(".venv/bin/datacur "):
                    lines.append(part.removeprefix(".venv/bin/"))
    return lines


def _parse(line: str) -> Any:
    """Parse ``datacur ...`` as the CLI would, without running the command.

    (typer 0.29 vendors its own click, so the group's own ``make_context`` is used.)
    """
    words = shlex.split(line)
    assert words[0] == "datacur" and len(words) > 1
    root = GROUP.context_class(GROUP, info_name="datacur")
    command = GROUP.get_command(root, words[1])
    assert command is not None, f"{line}: no command {words[1]!r}"
    return command.make_context(words[1], words[2:], parent=root)


def _check_named_files(line: str, ctx: Any) -> None:
    for value in ctx.params.values():
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            text = str(item)
            if isinstance(item, Path) and text.startswith(SHIPPED):
                assert (ROOT / text).exists(), f"{line}: {text} is not in the repository"
    vary = ctx.params.get("vary")
    if vary:
        key, values = parse_vary(vary)
        for recipe in ctx.params.get("paths") or []:
            if not str(recipe).endswith(".yaml"):
                continue
            data = yaml.safe_load((ROOT / str(recipe)).read_text(encoding="utf-8"))
            for value in values:
                set_recipe_value(data, key, value, source=str(recipe))


@pytest.mark.parametrize(("command", "line"), _help_examples(), ids=lambda v: v)
def test_help_example_parses(command: str, line: str) -> None:
    ctx = _parse(line)
    assert ctx.command.name == command
    _check_named_files(line, ctx)


@pytest.mark.parametrize("line", _readme_lines(), ids=lambda v: v[:60])
def test_readme_datacur_line_parses(line: str) -> None:
    _check_named_files(line, _parse(line))


def test_readme_has_reproduce_lines() -> None:
    commands = {shlex.split(line)[1] for line in _readme_lines()}
    assert {"evaluate", "mix", "sweep", "compare", "report"} <= commands


def test_a_broken_example_is_caught() -> None:
    with pytest.raises(Exception, match="No such option"):
        _parse("datacur evaluate datasets/dcai-2021 --no-such-option")
    bad = "datacur sweep recipes/best-5k.yaml --vary inputs.synth.share=0,0.2"
    with pytest.raises(Exception, match="no item named 'synth'"):
        _check_named_files(bad, _parse(bad))
