"""Augment pipelines: schema errors, label-aware flips, planning, determinism, manifest."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

from datacur.augment import (
    FLIP_LABELS,
    PipelineConfig,
    augment_variant,
    build_pipeline,
    child_seed,
    load_pipeline,
    plan_children,
)
from datacur.errors import ConfigError, DatacurError
from datacur.labels import CLASSES
from datacur.variant import compute_content_hash, list_variant_images, read_manifest

REPO = Path(__file__).resolve().parents[1]
SHIPPED = sorted((REPO / "recipes" / "augment").glob("*.yaml"))


def _pipeline(steps: list[dict], name: str = "t") -> PipelineConfig:
    return PipelineConfig.model_validate({"version": 1, "name": name, "steps": steps})


def _image() -> np.ndarray:
    image = np.full((40, 60), 255, np.uint8)
    image[10:30, 10:14] = 0
    image[10:30, 30:50] = 0
    return image


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_pipelines_load_and_run(path: Path) -> None:
    pipeline = load_pipeline(path)
    for label in CLASSES:
        if pipeline.can_augment(label):
            out, new_label, record = pipeline.apply(_image(), label, seed=3)
            assert out.dtype == np.uint8 and out.ndim == 2
            assert new_label in CLASSES
            json.dumps(record)


def test_shipped_pipelines_cover_the_issue() -> None:
    names = {p.stem for p in SHIPPED}
    assert {"geometry", "ink", "paper", "crop-pad", "flip"} <= names


BAD_PIPELINES = [
    ({"steps": [{"transform": "NoSuchThing"}]}, "unknown transform 'NoSuchThing'"),
    ({"steps": [{"transform": "Affine", "params": {"rotate": "lots"}}]}, r"steps\[0\]\.params"),
    ({"steps": [{"transform": "Transpose"}]}, "not allowed"),
    ({"steps": [{"transform": "HorizontalFlip", "classes": ["iv", "vii"]}]}, "mislabel vii"),
    ({"steps": [{"transform": "Affine", "classes": ["xi"]}]}, "unknown class"),
    ({"steps": [{"transform": "Affine", "colour": 1}]}, "colour"),
    ({"steps": []}, "steps"),
    ({"steps": [{"transform": "Affine", "p": 2}]}, r"steps\.0\.p"),
]


@pytest.mark.parametrize(
    ("body", "match"),
    BAD_PIPELINES,
    ids=["unknown", "bad-param", "refused", "flip-class", "bad-class", "extra", "empty", "p"],
)
def test_bad_pipelines_name_file_and_step(tmp_path: Path, body: dict, match: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "name": "bad", **body}))
    with pytest.raises(ConfigError, match=match) as info:
        load_pipeline(path)
    assert str(path) in str(info.value)


def test_nested_refused_transform_is_caught() -> None:
    config = _pipeline(
        [{"transform": "OneOf", "params": {"transforms": [{"__class_fullname__": "D4", "p": 1}]}}]
    )
    with pytest.raises(ConfigError, match="D4 is not allowed"):
        build_pipeline(config)


def test_horizontal_flip_swaps_iv_vi_and_skips_vii_viii_ix() -> None:
    pipeline = build_pipeline(_pipeline([{"transform": "HorizontalFlip", "p": 1.0}]))
    for label in ("vii", "viii", "ix"):
        assert not pipeline.can_augment(label)
    image = _image()
    for label, expected in [("iv", "vi"), ("vi", "iv"), ("i", "i"), ("v", "v"), ("x", "x")]:
        out, new_label, record = pipeline.apply(image, label, seed=0)
        assert new_label == expected
        assert np.array_equal(out, image[:, ::-1])
        assert record["applied"][0]["name"] == "HorizontalFlip"
        assert ("label_from" in record) == (label != expected)


def test_flip_safe_classes_shared_by_nested_steps() -> None:
    config = _pipeline(
        [
            {
                "transform": "OneOf",
                "params": {
                    "transforms": [
                        {"__class_fullname__": "HorizontalFlip", "p": 1},
                        {"__class_fullname__": "VerticalFlip", "p": 1},
                    ]
                },
            }
        ]
    )
    pipeline = build_pipeline(config)
    assert set(pipeline.composes) == set(FLIP_LABELS["VerticalFlip"])


def test_classes_narrow_a_step() -> None:
    config = _pipeline(
        [{"transform": "Affine", "params": {"rotate": [-5, 5]}, "classes": ["ii", "iii"]}]
    )
    pipeline = build_pipeline(config)
    assert set(pipeline.composes) == {"ii", "iii"}


def test_apply_is_deterministic_and_seed_sensitive() -> None:
    pipeline = load_pipeline(REPO / "recipes" / "augment" / "mixed.yaml")
    first = pipeline.apply(_image(), "ii", seed=5)
    again = pipeline.apply(_image(), "ii", seed=5)
    other = pipeline.apply(_image(), "ii", seed=6)
    assert np.array_equal(first[0], again[0]) and first[2] == again[2]
    assert not np.array_equal(first[0], other[0])


def test_copy_is_never_an_identity() -> None:
    pipeline = build_pipeline(_pipeline([{"transform": "GaussianBlur", "p": 0.2}]))
    for seed in range(20):
        _, _, record = pipeline.apply(_image(), "i", seed=seed)
        assert record["applied"], seed


def test_record_summarises_big_arrays() -> None:
    pipeline = build_pipeline(_pipeline([{"transform": "GaussNoise", "p": 1.0}]))
    _, _, record = pipeline.apply(_image(), "i", seed=0)
    assert record["applied"][0]["params"]["noise_map"] == {"array_shape": [40, 60]}


def test_plan_children_per_class_target_balances() -> None:
    labels = ["i"] * 2 + ["ii"] * 5 + ["iii"] * 7
    pairs = plan_children(labels, per_class_target=6, seed=0)
    counts = {label: labels.count(label) for label in ("i", "ii", "iii")}
    for index, _ in pairs:
        counts[labels[index]] += 1
    assert counts == {"i": 6, "ii": 6, "iii": 7}
    # the two i parents share the four copies evenly
    assert sorted(index for index, _ in pairs if labels[index] == "i") == [0, 0, 1, 1]


def test_plan_children_copies_and_unsafe_classes() -> None:
    pairs = plan_children(["vii", "i"], copies=2, can_augment={"i"})
    assert pairs == [(1, 1), (1, 2)]
    with pytest.raises(ValueError, match="copies"):
        plan_children(["i"], copies=-1)


def test_child_seed_keyed_not_ordered() -> None:
    assert child_seed(0, "a", 1) == child_seed(0, "a", 1)
    assert len({child_seed(0, "a", 1), child_seed(0, "b", 1), child_seed(1, "a", 1)}) == 3


def test_augment_variant_writes_children_with_provenance(
    tmp_path: Path, make_variant: Callable[..., Path]
) -> None:
    variant = make_variant(tmp_path / "in", n_train=3, n_val=1)
    out = tmp_path / "out"
    summary = augment_variant(variant, REPO / "recipes" / "augment" / "flip.yaml", out, copies=2)
    rows = read_manifest(out)
    assert summary.parents == 40 and summary.children == 80
    assert len(rows) == summary.images == len(list_variant_images(out, allow_empty_class=True))
    by_path = {row["path"]: row for row in rows}
    children = [row for row in rows if row["transform"]]
    assert len(children) == summary.children
    for row in children:
        parent = by_path[row["parent"]]
        assert parent["split"] == row["split"]
        record = json.loads(row["transform"])[-1]
        assert record["pipeline"] == "flip"
        names = [step["name"] for step in record["applied"]]
        if parent["label"] in ("vii", "viii", "ix"):
            assert "HorizontalFlip" not in names
        if record.get("label_from"):
            assert {record["label_from"], row["label"]} == {"iv", "vi"}
        else:
            assert parent["label"] == row["label"]
    assert (out / "recipe.yaml").is_file()


def test_augment_variant_byte_identical(tmp_path: Path, make_variant: Callable[..., Path]) -> None:
    variant = make_variant(tmp_path / "in", n_train=2, n_val=1)
    pipeline = REPO / "recipes" / "augment" / "mixed.yaml"
    augment_variant(variant, pipeline, tmp_path / "a", per_class_target=5, seed=7)
    augment_variant(variant, pipeline, tmp_path / "b", per_class_target=5, seed=7)
    augment_variant(variant, pipeline, tmp_path / "c", per_class_target=5, seed=8)
    hashes = [
        compute_content_hash(list_variant_images(tmp_path / name, allow_empty_class=True))
        for name in "abc"
    ]
    assert hashes[0] == hashes[1] != hashes[2]
    assert (tmp_path / "a" / "manifest.csv").read_bytes() == (
        tmp_path / "b" / "manifest.csv"
    ).read_bytes()


def test_augment_variant_errors_leave_nothing(
    tmp_path: Path, make_variant: Callable[..., Path]
) -> None:
    variant = make_variant(tmp_path / "in", n_train=1, n_val=1)
    pipeline = REPO / "recipes" / "augment" / "geometry.yaml"
    with pytest.raises(DatacurError, match="per-class-target"):
        augment_variant(variant, pipeline, tmp_path / "o", per_class_target=0)
    with pytest.raises(DatacurError, match="immutable"):
        augment_variant(variant, pipeline, variant)
    (tmp_path / "exists").mkdir()
    with pytest.raises(DatacurError, match="--force"):
        augment_variant(variant, pipeline, tmp_path / "exists")
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.partial").exists()


def test_augment_variant_train_split_only(
    tmp_path: Path, make_variant: Callable[..., Path]
) -> None:
    variant = make_variant(tmp_path / "in", n_train=2, n_val=1)
    pipeline = REPO / "recipes" / "augment" / "geometry.yaml"
    summary = augment_variant(
        variant, pipeline, tmp_path / "out", per_class_target=5, splits=("train",)
    )
    rows = read_manifest(tmp_path / "out")
    assert summary.children == 30
    assert all(row["split"] == "train" for row in rows if row["parent"])
    with pytest.raises(DatacurError, match="--split"):
        augment_variant(variant, pipeline, tmp_path / "x", splits=("test",))
