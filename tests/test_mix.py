"""mix: planning and building variants from recipes (variant, folder and synth inputs)."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from datacur.cap import count_capped
from datacur.errors import CapExceededError, DatacurError, RecipeError
from datacur.io import sha256_file
from datacur.labels import CLASSES
from datacur.mix import CropPadOp, build_variant, plan_mix
from datacur.pool import items_from_variant, unique_names, write_items
from datacur.variant import compute_content_hash, list_variant_images, read_manifest

REPO = Path(__file__).resolve().parents[1]
GEOMETRY = str(REPO / "recipes" / "augment" / "geometry.yaml")
FLIP = str(REPO / "recipes" / "augment" / "flip.yaml")


def _recipe(root: Path, **body: object) -> Path:
    data = {"version": 1, "name": "t", **body}
    path = root / "recipe.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _variant_input(name: str = "real", path: str = "v", **extra: object) -> dict:
    return {"name": name, "kind": "variant", "path": path, **extra}


def _hash(variant: Path) -> str:
    return compute_content_hash(list_variant_images(variant, allow_empty_class=True))


@pytest.fixture
def setup(tmp_path: Path, make_variant: Callable[..., Path]) -> Path:
    make_variant(tmp_path / "v", n_train=4, n_val=2)
    return tmp_path


def test_variant_input_copied_byte_for_byte(setup: Path) -> None:
    recipe = _recipe(setup, inputs=[_variant_input()])
    result = build_variant(recipe, setup / "out")
    rows = read_manifest(setup / "out")
    assert len(rows) == 60
    source_hashes = {sha256_file(p.path) for p in list_variant_images(setup / "v")}
    assert {row["sha256"] for row in rows} == source_hashes
    assert all(row["path"].split("/")[-1].startswith("real-") for row in rows)
    assert all(row["origin"].startswith("v/") for row in rows)
    assert result.cap.counted == count_capped(40, 20)


def test_resolved_recipe_rebuilds_the_same_variant(setup: Path) -> None:
    recipe = _recipe(
        setup,
        inputs=[_variant_input()],
        steps=[{"augment": {"pipeline": GEOMETRY, "copies": 1}}],
    )
    build_variant(recipe, setup / "a", seed=5)
    resolved = setup / "a" / "recipe.yaml"
    assert yaml.safe_load(resolved.read_text())["seed"] == 5
    build_variant(resolved, setup / "b")
    assert _hash(setup / "a") == _hash(setup / "b")


def test_same_seed_byte_identical_other_seed_differs(setup: Path) -> None:
    recipe = _recipe(
        setup,
        inputs=[_variant_input()],
        steps=[
            {"crop_and_pad": {"margin": 1, "min_count": 1}},
            {"augment": {"pipeline": GEOMETRY, "per_class_target": 6}},
        ],
    )
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        build_variant(recipe, setup / name, seed=seed)
    assert _hash(setup / "a") == _hash(setup / "b") != _hash(setup / "c")
    assert (setup / "a" / "manifest.csv").read_bytes() == (
        setup / "b" / "manifest.csv"
    ).read_bytes()


def test_exclude_removes_identical_and_near_identical(setup: Path) -> None:
    dev = setup / "dev"
    (dev / "i").mkdir(parents=True)
    (dev / "ii").mkdir(parents=True)
    shutil.copy(setup / "v" / "train" / "i" / "i_0.png", dev / "i" / "copy.png")
    # near-identical: same numeral, one pixel nudged, re-saved (different bytes)
    image = np.asarray(Image.open(setup / "v" / "val" / "ii" / "ii_1.png")).copy()
    image[0, 0] = max(0, int(image[0, 0]) - 3)
    Image.fromarray(image).save(dev / "ii" / "near.png")
    recipe = _recipe(setup, inputs=[_variant_input()], exclude={"folders": ["dev"]})
    plan = plan_mix(recipe)
    origins = {item.origin for item in plan.items}
    assert "v/train/i/i_0.png" not in origins
    assert "v/val/ii/ii_1.png" not in origins
    assert any("excluded" in note for note in plan.notes)
    exact_only = _recipe(
        setup, inputs=[_variant_input()], exclude={"folders": ["dev"], "max_distance": -1}
    )
    assert "v/val/ii/ii_1.png" in {item.origin for item in plan_mix(exact_only).items}


def test_missing_exclude_folder_is_an_error(setup: Path) -> None:
    recipe = _recipe(setup, inputs=[_variant_input()], exclude={"folders": ["nope"]})
    with pytest.raises(RecipeError, match=r"exclude\.folders\[0\]"):
        plan_mix(recipe)


def test_dedupe_keeps_first_and_drops_conflicting_twins(setup: Path) -> None:
    v = setup / "v"
    shutil.copy(v / "train" / "iii" / "iii_0.png", v / "val" / "iii" / "dup.png")
    shutil.copy(v / "train" / "x" / "x_0.png", v / "train" / "v" / "wrong.png")
    base = {"inputs": [_variant_input()]}
    keep_first = plan_mix(
        _recipe(setup, **base, steps=[{"dedupe": {"near": False, "conflicting": "keep_first"}}])
    )
    origins = {item.origin for item in keep_first.items}
    assert "v/val/iii/dup.png" not in origins and "v/train/iii/iii_0.png" in origins
    # class order puts train/v before train/x: the first of the twins is the mislabelled one
    assert "v/train/v/wrong.png" in origins and "v/train/x/x_0.png" not in origins
    drop_all = plan_mix(_recipe(setup, **base, steps=[{"dedupe": {"near": False}}]))
    origins = {item.origin for item in drop_all.items}
    assert "v/train/x/x_0.png" not in origins and "v/train/v/wrong.png" not in origins


def test_drop_by_origin_list_and_csv(setup: Path) -> None:
    (setup / "drop.txt").write_text("# reviewed\nv/train/i/i_1.png\ntrain/ii/ii_2.png  # junk\n")
    (setup / "dropped.csv").write_text("path,origin\nx,v/val/x/x_0.png\n")
    recipe = _recipe(
        setup,
        inputs=[_variant_input()],
        steps=[
            {
                "drop": {
                    "files": ["v/train/v/v_0.png", "nothing.png"],
                    "lists": ["drop.txt", "dropped.csv"],
                }
            }
        ],
    )
    plan = plan_mix(recipe)
    origins = {item.origin for item in plan.items}
    assert len(plan.items) == 56
    for gone in (
        "v/train/i/i_1.png",
        "v/train/ii/ii_2.png",
        "v/val/x/x_0.png",
        "v/train/v/v_0.png",
    ):
        assert gone not in origins
    assert any("1 matched nothing" in note for note in plan.notes)


@pytest.mark.parametrize(
    ("take", "expected"),
    [({"count": 25}, 25), ({"per_class": 3}, 30), ({"share": 0.01}, 10)],
    ids=["count", "per-class", "share"],
)
def test_take_modes(setup: Path, take: dict, expected: int) -> None:
    recipe = _recipe(
        setup,
        cap=1014,  # share budget 1000
        fill={"pipeline": GEOMETRY},
        inputs=[
            _variant_input(**take, split="train"),
            {"name": "val", "kind": "folder", "path": "v/val", "split": "val"},
        ],
    )
    plan = plan_mix(recipe)
    taken = [item for item in plan.items if item.source == "real" and item.stage == "input"]
    assert len(taken) == expected
    counts = Counter(item.label for item in taken)
    assert max(counts.values()) - min(counts.values()) <= 1  # spread evenly over classes


def test_take_more_than_available_is_an_error(setup: Path) -> None:
    recipe = _recipe(setup, inputs=[_variant_input(per_class=7)])
    with pytest.raises(RecipeError, match=r"inputs\[0\] \(real\)\.per_class"):
        plan_mix(recipe)
    recipe = _recipe(setup, inputs=[_variant_input(count=61)])
    with pytest.raises(RecipeError, match="only 60 are left"):
        plan_mix(recipe)


def test_folder_auto_split_is_stratified(
    tmp_path: Path, make_image_folder: Callable[..., Path]
) -> None:
    make_image_folder(tmp_path / "f", n=5)
    recipe = _recipe(
        tmp_path,
        split={"val_fraction": 0.4},
        inputs=[{"name": "f", "kind": "folder", "path": "f", "split": "auto"}],
    )
    plan = plan_mix(recipe)
    counts = Counter((item.split, item.label) for item in plan.items)
    assert all(counts[("val", c)] == 2 and counts[("train", c)] == 3 for c in CLASSES)


def test_auto_split_keeps_writers_on_one_side(setup: Path) -> None:
    # give the variant a manifest with 5 writers
    rows = []
    for k, image in enumerate(list_variant_images(setup / "v")):
        rel = image.path.relative_to(setup / "v").as_posix()
        rows.append(f"{rel},{image.split},{image.label},s,o{k},,w{k % 5},,x,32,32")
    header = "path,split,label,source,origin,parent,writer,transform,sha256,width,height"
    (setup / "v" / "manifest.csv").write_text("\n".join([header, *rows]) + "\n")
    recipe = _recipe(setup, inputs=[_variant_input(split="auto")], split={"val_fraction": 0.4})
    plan = plan_mix(recipe)
    sides: dict[str, set] = {}
    for item in plan.items:
        sides.setdefault(item.writer, set()).add(item.split)
    assert all(len(s) == 1 for s in sides.values())
    assert {"train", "val"} == set().union(*sides.values())


def test_crop_and_pad_squares_images(setup: Path) -> None:
    recipe = _recipe(
        setup, inputs=[_variant_input()], steps=[{"crop_and_pad": {"margin": 2, "min_count": 1}}]
    )
    build_variant(recipe, setup / "out")
    for row in read_manifest(setup / "out"):
        assert row["width"] == row["height"]
        assert json.loads(row["transform"])[0]["op"] == "crop_and_pad"


def test_augment_step_targets_classes_and_keeps_splits(setup: Path) -> None:
    recipe = _recipe(
        setup,
        inputs=[_variant_input()],
        steps=[{"augment": {"pipeline": FLIP, "per_class_target": 7, "splits": ["train"]}}],
    )
    build_variant(recipe, setup / "out")
    rows = read_manifest(setup / "out")
    by_path = {row["path"]: row for row in rows}
    children = [row for row in rows if row["parent"]]
    assert len(children) == 30  # 3 per class, train only
    assert all(row["split"] == "train" == by_path[row["parent"]]["split"] for row in children)
    moved = [row for row in children if row["label"] != by_path[row["parent"]]["label"]]
    assert all({row["label"], by_path[row["parent"]]["label"]} == {"iv", "vi"} for row in moved)


def test_fill_reaches_the_cap_and_never_passes_it(setup: Path) -> None:
    recipe = _recipe(setup, cap=200, fill={"pipeline": GEOMETRY}, inputs=[_variant_input()])
    result = build_variant(recipe, setup / "out")
    assert result.cap.counted == 200
    train = Counter(row["label"] for row in read_manifest(setup / "out") if row["split"] == "train")
    assert max(train.values()) - min(train.values()) <= 1  # rarest classes filled first
    assert sum(train.values()) == 200 - 24


def test_fill_uses_last_augment_step(setup: Path) -> None:
    recipe = _recipe(
        setup,
        cap=120,
        fill=True,
        inputs=[_variant_input()],
        steps=[{"augment": {"pipeline": GEOMETRY, "copies": 1}}],
    )
    plan = plan_mix(recipe)
    assert plan.cap().counted == 120
    assert any(item.stage == "fill:geometry" for item in plan.items)


def test_over_the_cap_fails_before_writing(setup: Path) -> None:
    recipe = _recipe(
        setup,
        cap=48,
        inputs=[_variant_input()],
        steps=[{"augment": {"pipeline": GEOMETRY, "copies": 1}}],
    )
    with pytest.raises(CapExceededError, match=r"over by .*Lower counts"):
        build_variant(recipe, setup / "out")
    assert not (setup / "out").exists() and not (setup / "out.partial").exists()


def test_missing_input_is_an_error_unless_optional(setup: Path) -> None:
    recipe = _recipe(setup, inputs=[_variant_input(), _variant_input("gone", "nowhere")])
    with pytest.raises(RecipeError, match=r"inputs\[1\] \(gone\)\.path: .*optional: true") as info:
        plan_mix(recipe)
    assert str(setup / "recipe.yaml") in str(info.value)
    recipe = _recipe(
        setup, inputs=[_variant_input(), _variant_input("gone", "nowhere", optional=True)]
    )
    plan = plan_mix(recipe)
    assert plan.skipped_inputs == ["gone"] and len(plan.items) == 60


def test_empty_class_in_a_split_is_an_error(setup: Path) -> None:
    recipe = _recipe(setup, inputs=[_variant_input(classes=["i", "ii"])])
    with pytest.raises(RecipeError, match="train/iii"):
        plan_mix(recipe)


def test_bad_variant_input_names_recipe_and_input(tmp_path: Path) -> None:
    (tmp_path / "v" / "train").mkdir(parents=True)
    recipe = _recipe(tmp_path, inputs=[_variant_input()])
    with pytest.raises(RecipeError, match=r"inputs\[0\] \(real\).*val/"):
        plan_mix(recipe)


def test_unknown_synth_source_is_an_error(setup: Path) -> None:
    recipe = _recipe(
        setup,
        inputs=[
            {
                "name": "s",
                "kind": "synth",
                "split": "train",
                "synth": {"source": "nope", "per_class": 1},
            }
        ],
    )
    with pytest.raises(RecipeError, match="unknown source 'nope'"):
        plan_mix(recipe)


def test_existing_output_needs_overwrite(setup: Path) -> None:
    (setup / "out").mkdir()
    with pytest.raises(DatacurError, match="--force"):
        build_variant(_recipe(setup, inputs=[_variant_input()]), setup / "out")


def test_plan_writes_nothing(setup: Path) -> None:
    recipe = _recipe(
        setup, inputs=[_variant_input()], steps=[{"augment": {"pipeline": GEOMETRY, "copies": 2}}]
    )
    before = sorted(p.as_posix() for p in setup.rglob("*"))
    plan_mix(recipe)
    assert sorted(p.as_posix() for p in setup.rglob("*")) == before


def test_parallel_render_matches_serial(tmp_path: Path, make_variant: Callable[..., Path]) -> None:
    from datacur.augment import augment_items, load_pipeline

    variant = make_variant(tmp_path / "v", n_train=10, n_val=5)
    parents = unique_names(items_from_variant(variant, source="s"), prefix_source=False)
    items = parents + augment_items(parents, load_pipeline(Path(GEOMETRY)), copies=1, seed=0)
    assert len(items) >= 256
    rows = {}
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        out.mkdir()
        rows[workers] = write_items(items, out, workers=workers)
    assert rows[1] == rows[2]


@pytest.mark.slow
def test_synth_input_is_generated_and_bound(setup: Path) -> None:
    recipe = _recipe(
        setup,
        inputs=[
            _variant_input(),
            {
                "name": "strokes",
                "kind": "synth",
                "split": "train",
                "synth": {"source": "strokes", "per_class": 2, "val_fraction": 0.0},
            },
        ],
        steps=[{"augment": {"pipeline": GEOMETRY, "copies": 1, "inputs": ["strokes"]}}],
    )
    plan = plan_mix(recipe)
    assert sum(1 for item in plan.items if item.source == "strokes") == 40
    build_variant(recipe, setup / "out")
    rows = [row for row in read_manifest(setup / "out") if row["source"] == "strokes"]
    assert len(rows) == 40
    assert all(row["origin"].startswith("strokes:") for row in rows)
    assert all(row["split"] == "train" for row in rows)
    assert not list(setup.glob(".out.synth-*"))
    build_variant(recipe, setup / "again")
    assert _hash(setup / "out") == _hash(setup / "again")


def test_share_zero_takes_nothing(setup: Path) -> None:
    """A ratio sweep starts at 0 (``--vary inputs.strokes.share=0,0.25,0.5``)."""
    synth = {"name": "strokes", "kind": "synth", "split": "train", "share": 0.0}
    synth["synth"] = {"source": "strokes", "val_fraction": 0.0}
    plan = plan_mix(_recipe(setup, inputs=[_variant_input(), synth]))
    assert not any(item.source == "strokes" for item in plan.items)
    assert plan.items


@pytest.mark.slow
def test_shipped_raw_recipe_plans_without_dev_test() -> None:
    """The committed starter data minus the dev-test images (twins were drawn along).

    402 were drawn; the hand review dropped 29 (junk, ambiguous, twins under two labels),
    which are no longer test images and so no longer excluded: 373 remain excluded.
    """
    plan = plan_mix(REPO / "recipes" / "raw.yaml")
    counts = plan.split_counts()
    assert counts["train"] + counts["val"] == 2880 - 373


@pytest.mark.slow
def test_shipped_best_recipe_applies_the_review_and_fits_the_cap() -> None:
    """best.yaml: the committed review is applied in full, nothing is cropped, under 10,000."""
    plan = plan_mix(REPO / "recipes" / "best.yaml")
    review = next(note for note in plan.notes if note.startswith("review:"))
    assert "312 image(s) dropped and 36 relabelled" in review
    assert "0 of its 348 changes matched nothing" in review
    assert not any(isinstance(op, CropPadOp) for item in plan.items for op in item.ops)
    assert plan.cap().counted <= 10_000 == plan.recipe.cap


def test_optional_synth_with_missing_data_is_skipped(setup: Path) -> None:
    recipe = _recipe(
        setup,
        inputs=[
            _variant_input(),
            {
                "name": "c74k",
                "kind": "synth",
                "split": "train",
                "optional": True,
                "synth": {"source": "chars74k", "path": "no/such/chars74k", "per_class": 5},
            },
        ],
    )
    plan = plan_mix(recipe)
    assert plan.skipped_inputs == ["c74k"] and not plan.synth_jobs
    assert any("c74k: skipped" in note for note in plan.notes)


def test_parallel_map_keeps_order() -> None:
    from datacur.pool import parallel_map

    values = list(range(-150, 150))
    assert parallel_map(abs, values, workers=2) == parallel_map(abs, values, workers=1)


def test_fill_both_splits_stays_under_the_cap(setup: Path) -> None:
    recipe = _recipe(
        setup,
        cap=400,
        fill={"pipeline": GEOMETRY, "splits": ["train", "val"]},
        inputs=[_variant_input()],
    )
    plan = plan_mix(recipe)
    counts = plan.split_counts()
    assert 400 - 16 < plan.cap().counted <= 400
    assert counts["val"] > 20 and counts["train"] > 40


def test_review_journal_drops_and_relabels(setup: Path) -> None:
    from datacur.journal import Journal

    with Journal(setup / "review.jsonl") as journal:
        journal.record("drop", "train/i/i_1.png", label="i", issue="junk")
        journal.record("relabel", "train/ii/ii_2.png", label="ii", to="iii", issue="three strokes")
        journal.record("keep", "train/v/v_0.png", label="v")
        journal.record("drop", "train/x/gone.png", label="x")  # not in the inputs
    steps = [{"review": {"journal": "review.jsonl", "inputs": ["real"]}}]
    recipe = _recipe(setup, inputs=[_variant_input()], steps=steps)
    plan = plan_mix(recipe)
    by_origin = {item.origin: item for item in plan.items}
    assert len(plan.items) == 59 and "v/train/i/i_1.png" not in by_origin
    assert by_origin["v/train/ii/ii_2.png"].label == "iii"
    assert any("1 image(s) dropped and 1 relabelled" in n and "1 of its 3" in n for n in plan.notes)
    build_variant(recipe, setup / "out")
    rows = {row["origin"]: row for row in read_manifest(setup / "out")}
    moved = rows["v/train/ii/ii_2.png"]
    assert moved["label"] == "iii" and moved["path"].startswith("train/iii/")
    assert moved["transform"] == "relabel ii->iii"
    assert (setup / "out" / moved["path"]).is_file()
    resolved = yaml.safe_load((setup / "out" / "recipe.yaml").read_text())
    assert (setup / "out" / resolved["steps"][0]["review"]["journal"]).resolve() == (
        setup / "review.jsonl"
    ).resolve()


def test_review_journal_missing_is_a_recipe_error(setup: Path) -> None:
    recipe = _recipe(setup, inputs=[_variant_input()], steps=[{"review": {"journal": "no.jsonl"}}])
    with pytest.raises(RecipeError, match=r"steps\[0\]\.review\.journal: .*no.jsonl not found"):
        plan_mix(recipe)


def test_drop_matches_paths_inside_a_built_variant(setup: Path) -> None:
    build_variant(_recipe(setup, inputs=[_variant_input()]), setup / "built")
    (setup / "dropped.csv").write_text("path,label\ntrain/i/real-i_0.png,i\n")
    recipe = _recipe(
        setup,
        inputs=[_variant_input("b", "built")],
        steps=[{"drop": {"lists": ["dropped.csv"]}}],
    )
    plan = plan_mix(recipe)
    assert len(plan.items) == 59
    assert "v/train/i/i_0.png" not in {item.origin for item in plan.items}
