from pathlib import Path

import pytest
from pydantic import Field

from datacur.config import StrictModel, dump_config, load_config
from datacur.errors import ConfigError


class Inner(StrictModel):
    weight: float = Field(ge=0)


class Example(StrictModel):
    version: int = 1
    name: str
    sources: list[Inner] = Field(default_factory=list)


def test_load_config_valid_and_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("name: raw\nsources:\n  - weight: 0.5\n")
    config = load_config(path, Example)
    assert config.sources[0].weight == 0.5
    dump_config(config, tmp_path / "out.yaml")
    assert load_config(tmp_path / "out.yaml", Example) == config
    assert (tmp_path / "out.yaml").read_text().startswith("version: 1\n")


def test_every_problem_is_one_line_with_file_and_dotted_path(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("nmae: raw\nsources:\n  - weight: -0.2\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, Example)
    lines = str(info.value).splitlines()
    assert any(
        line.startswith(f"{path}: sources.0.weight: ") and "greater than or equal to 0" in line
        for line in lines
    )
    assert any(line.startswith(f"{path}: nmae: ") for line in lines)  # typo is an error
    assert any(line.startswith(f"{path}: name: ") for line in lines)  # missing field


@pytest.mark.parametrize(
    ("text", "message"),
    [("name: [unclosed\n", r"line \d+.*invalid YAML"), ("- a\n- b\n", "expected a mapping")],
    ids=["syntax", "not-a-mapping"],
)
def test_bad_yaml_is_a_config_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path, Example)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml", Example)
