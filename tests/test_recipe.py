"""Recipe schema: every shipped recipe loads; bad recipes fail with the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from datacur.errors import ConfigError
from datacur.recipe import Recipe, load_recipe, map_recipe_paths, share_budget

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted((REPO / "recipes").glob("*.yaml")) + sorted(
    (REPO / "recipes" / "ablation").glob("*.yaml")
)

BASE = {
    "version": 1,
    "name": "t",
    "inputs": [{"name": "a", "kind": "variant", "path": "v"}],
}


def _with(**changes: object) -> dict:
    return {**BASE, **changes}


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_recipes_load_and_exclude_dev_test(path: Path) -> None:
    recipe = load_recipe(path)
    assert any(folder.endswith("datasets/dev-test") for folder in recipe.exclude.folders)
    assert recipe.exclude.max_distance >= 0


def test_shipped_recipe_names() -> None:
    assert {p.stem for p in SHIPPED} >= {"raw", "clean", "combined"}


EVERY_PATH = _with(
    exclude={"folders": ["p/test"]},
    inputs=[
        {"name": "a", "kind": "variant", "path": "p/v"},
        {
            "name": "s",
            "kind": "synth",
            "split": "train",
            "synth": {"source": "emnist", "path": "p/e"},
        },
    ],
    steps=[
        {"review": {"journal": "p/j.jsonl"}},
        {"drop": {"files": ["a/train/i/x.png"], "lists": ["p/l.txt"]}},
        {"augment": {"pipeline": "p/aug.yaml", "copies": 1}},
    ],
    fill={"pipeline": "p/fill.yaml"},
)


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    return [value] if isinstance(value, str) else []


@pytest.mark.parametrize("form", ["as written", "model dump"])
def test_map_recipe_paths_rewrites_every_path_field_and_nothing_else(form: str) -> None:
    # Writers that move a recipe (mix's resolved copy, the ablation generator) rely on this
    # one list; a path left unmapped would point at the wrong file from the new folder.
    data = (
        yaml.safe_load(yaml.safe_dump(EVERY_PATH))
        if form == "as written"
        else Recipe.model_validate(EVERY_PATH).model_dump(mode="json")
    )
    before = _strings(data)
    mapped = map_recipe_paths(data, lambda path: "moved/" + path)
    after = _strings(mapped)
    assert {s for s in after if s.startswith("moved/")} == {
        "moved/" + s for s in before if s.startswith("p/")
    }
    assert len({s for s in after if s.startswith("moved/")}) == 7
    assert [s for s in after if not s.startswith("moved/")] == [
        s for s in before if not s.startswith("p/")
    ]
    assert map_recipe_paths({"inputs": [{"path": None}], "fill": False}, str.upper) == {
        "inputs": [{"path": None}],
        "fill": False,
    }


def test_ablation_recipes_are_the_base_minus_one_ingredient_each() -> None:
    # They are generated; a hand edit or a changed base without a re-run would make the
    # ablation table describe recipes that differ from the committed files.
    from benchmarks.ablation_recipes import ABLATIONS, ablation_texts

    committed = {path.name: path.read_text() for path in (REPO / "recipes/ablation").glob("*.yaml")}
    assert committed == ablation_texts(), "re-run: python benchmarks/ablation_recipes.py"
    labelbook = load_recipe(REPO / "recipes/ablation/labelbook.yaml")
    base = load_recipe(REPO / "recipes/best-flipmixed.yaml")
    assert [i.name for i in labelbook.inputs] == [
        i.name for i in base.inputs if i.name != "labelbook"
    ]
    resplit = load_recipe(REPO / "recipes/ablation/resplit.yaml")
    assert [i.split for i in base.inputs] == ["auto", "train"]
    assert [i.split for i in resplit.inputs] == ["keep", "train"]
    assert set(ABLATIONS) == {path.stem for path in (REPO / "recipes/ablation").glob("*.yaml")}


BAD = [
    (_with(colour="red"), "colour"),
    (_with(inputs=[{"name": "a", "kind": "variant", "path": "v", "wieght": 1}]), "wieght"),
    (_with(inputs=[]), "inputs"),
    (_with(inputs=[{"name": "a", "kind": "variant"}]), "needs a path"),
    (_with(inputs=[{"name": "a", "kind": "folder", "path": "f"}]), "no split to keep"),
    (_with(inputs=[{"name": "a", "kind": "synth", "path": "x"}]), "synth"),
    (
        _with(
            inputs=[{"name": "a", "kind": "synth", "synth": {"source": "strokes"}, "split": "auto"}]
        ),
        "split by writer",
    ),
    (
        _with(inputs=[{"name": "a", "kind": "variant", "path": "v", "count": 1, "share": 0.1}]),
        "at most one",
    ),
    (
        _with(
            inputs=[
                {"name": "a", "kind": "variant", "path": "v", "share": 0.7},
                {"name": "b", "kind": "variant", "path": "w", "share": 0.5},
            ]
        ),
        "add up to 1.2",
    ),
    (
        _with(
            inputs=[
                {"name": "a", "kind": "variant", "path": "v", "share": 0.5},
                {"name": "b", "kind": "variant", "path": "w", "share": 0.3},
            ]
        ),
        "not 1",
    ),
    (
        _with(
            inputs=[
                {"name": "a", "kind": "variant", "path": "v"},
                {"name": "a", "kind": "variant", "path": "w"},
            ]
        ),
        "unique",
    ),
    (_with(inputs=[{"name": "Bad Name", "kind": "variant", "path": "v"}]), "name"),
    (
        _with(inputs=[{"name": "a", "kind": "variant", "path": "v", "classes": ["xi"]}]),
        "unknown class",
    ),
    (_with(steps=[{"dedupe": {}, "drop": {}}]), "exactly one|one of review, dedupe"),
    (_with(steps=[{"shuffle": {}}]), "shuffle"),
    (_with(steps=[{"augment": {"pipeline": "p.yaml"}}]), "copies or per_class_target"),
    (
        _with(steps=[{"augment": {"pipeline": "p.yaml", "copies": 1, "inputs": ["zz"]}}]),
        "unknown input",
    ),
    (_with(steps=[{"crop_and_pad": {}}, {"dedupe": {}}]), "filters run first"),
    (_with(fill=True), "fill needs a pipeline"),
    (_with(cap=4), "cap"),
    (_with(exclude={"folders": [], "max_distance": 99}), "max_distance"),
]


@pytest.mark.parametrize(
    ("body", "match"),
    BAD,
    ids=[
        "top-extra",
        "input-extra",
        "no-inputs",
        "no-path",
        "folder-keep",
        "synth-path",
        "synth-auto",
        "two-takes",
        "shares-over",
        "shares-under",
        "dup-names",
        "bad-name",
        "bad-class",
        "two-kinds",
        "unknown-step",
        "augment-amount",
        "augment-inputs",
        "filter-after",
        "fill-pipeline",
        "cap",
        "distance",
    ],
)
def test_bad_recipes_name_file_and_key(tmp_path: Path, body: dict, match: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(body))
    with pytest.raises(ConfigError, match=match) as info:
        load_recipe(path)
    assert str(path) in str(info.value)


def test_shares_adding_up_with_fill_are_fine() -> None:
    recipe = Recipe.model_validate(
        _with(
            inputs=[{"name": "a", "kind": "variant", "path": "v", "share": 0.5}],
            fill={"pipeline": "p.yaml"},
        )
    )
    assert recipe.fill_config is not None and recipe.inputs[0].take_mode == "share"


def test_share_budget_leaves_room_for_rounding() -> None:
    assert share_budget(10_000) == 9_986


def test_round_trip(tmp_path: Path) -> None:
    recipe = load_recipe(REPO / "recipes" / "combined.yaml")
    path = tmp_path / "again.yaml"
    path.write_text(yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False))
    assert load_recipe(path) == recipe
