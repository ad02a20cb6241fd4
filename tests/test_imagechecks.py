"""Model-free checks on generated faulty images."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datacur.imagechecks import (
    ISSUE_TYPES,
    ImageCheckOptions,
    check_images,
    crop_to_ink,
    measure_ink,
)
from datacur.variant import list_variant_images
from tests.conftest import draw_numeral


def _issues_by_path(variant: Path) -> dict[str, set[str]]:
    issues, _stats = check_images(list_variant_images(variant), variant)
    found: dict[str, set[str]] = {}
    for issue in issues:
        found.setdefault(issue.path, set()).add(issue.issue)
    return found


@pytest.fixture
def faulty_variant(tmp_path: Path, make_variant: Callable[..., Path]) -> Path:
    variant = make_variant(tmp_path / "v", n_train=3, n_val=2, size=48)
    rng = np.random.default_rng(7)
    Image.new("L", (40, 40), 255).save(variant / "train/i/blank_white.png")
    Image.new("L", (40, 40), 0).save(variant / "train/ii/blank_black.png")
    Image.fromarray(draw_numeral("v", rng, 8)).save(variant / "train/v/tiny.png")
    wide = np.full((20, 200), 255, dtype=np.uint8)
    wide[8:12, 10:190] = 0
    Image.fromarray(wide).save(variant / "train/iii/wide.png")
    (variant / "train/iv/broken.png").write_bytes(b"not a png at all")
    shutil.copyfile(variant / "train/x/x_0.png", variant / "train/x/x_0_copy.png")
    shutil.copyfile(variant / "train/vi/vi_0.png", variant / "val/vi/leak_vi0.png")
    shutil.copyfile(variant / "train/vii/vii_0.png", variant / "train/viii/conflict_vii0.png")
    noisy = np.asarray(Image.open(variant / "train/ix/ix_1.png"), dtype=np.int16)
    noisy = np.clip(noisy + rng.integers(-3, 4, noisy.shape), 0, 255).astype(np.uint8)
    Image.fromarray(noisy).save(variant / "train/ix/near_ix1.png")
    return variant


CASES = [
    ("train/i/blank_white.png", "blank"),
    ("train/ii/blank_black.png", "blank"),
    ("train/v/tiny.png", "tiny"),
    ("train/iii/wide.png", "extreme_aspect"),
    ("train/iv/broken.png", "unreadable"),
    ("train/x/x_0.png", "!exact_duplicate"),
    ("train/x/x_0_copy.png", "exact_duplicate"),
    ("train/vi/vi_0.png", "!leakage"),
    ("val/vi/leak_vi0.png", "leakage"),
    ("train/vii/vii_0.png", "!conflicting_label"),  # one issue per pair, on the later copy
    ("train/viii/conflict_vii0.png", "conflicting_label"),
    ("train/ix/near_ix1.png", "near_duplicate"),
]


@pytest.mark.parametrize(("path", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_injected_fault_is_flagged(faulty_variant: Path, path: str, expected: str) -> None:
    found = _issues_by_path(faulty_variant).get(path, set())
    if expected.startswith("!"):
        assert expected[1:] not in found  # the first copy of a duplicate stays unflagged
    else:
        assert expected in found


def test_clean_images_raise_nothing(tmp_path: Path, make_variant: Callable[..., Path]) -> None:
    variant = make_variant(tmp_path / "clean", n_train=2, n_val=1, size=48)
    issues, stats = check_images(list_variant_images(variant), variant)
    assert all(stat.readable for stat in stats)
    # The crude generated numerals look alike, so only pixel-level faults must be absent.
    faults = {"unreadable", "blank", "tiny", "extreme_aspect", "exact_duplicate"}
    assert [issue for issue in issues if issue.issue in faults] == []


def test_scores_are_weighted_and_reasons_name_the_partner(faulty_variant: Path) -> None:
    issues, _ = check_images(list_variant_images(faulty_variant), faulty_variant)
    for issue in issues:
        assert 0 < issue.score <= ISSUE_TYPES[issue.issue]
    leak = next(i for i in issues if i.path == "val/vi/leak_vi0.png" and i.issue == "leakage")
    assert "train/vi/vi_0.png" in leak.reason
    assert leak.partner == "train/vi/vi_0.png"
    conflict = next(i for i in issues if i.path == "train/viii/conflict_vii0.png")
    assert conflict.suggested == "vii" and conflict.partner == "train/vii/vii_0.png"
    assert "'vii'" in conflict.reason and "'viii'" in conflict.reason
    pair = {"train/viii/conflict_vii0.png", "train/vii/vii_0.png"}
    assert [i for i in issues if {i.path, i.partner} == pair] == [conflict]


def test_measure_ink_and_crop() -> None:
    page = np.full((100, 100), 250, dtype=np.uint8)
    assert measure_ink(page) == 0.0
    page[40:50, 30:35] = 10
    assert measure_ink(page) == pytest.approx(50 / 10_000)
    assert crop_to_ink(page, pad=0).shape == (10, 5)
    assert crop_to_ink(np.full((5, 5), 255, dtype=np.uint8)).shape == (5, 5)
    with pytest.raises(ValueError, match="non-empty"):
        measure_ink(np.zeros((0, 3), dtype=np.uint8))


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="max_aspect"):
        ImageCheckOptions(max_aspect=0.5)
    with pytest.raises(ValueError, match="blank_ink"):
        ImageCheckOptions(blank_ink=0.7)


@pytest.mark.integration
def test_starter_data_leakage_matches_the_known_49_identical_pairs(shared_data: Path) -> None:
    variant = shared_data / "dcai-2021"
    issues, stats = check_images(list_variant_images(variant), variant)
    assert all(stat.readable for stat in stats)
    exact_leaks = [i for i in issues if i.issue == "leakage" and "byte-identical" in i.reason]
    assert len(exact_leaks) == 49  # data README: 49 byte-identical train/val pairs
    assert all(issue.split == "val" for issue in exact_leaks)
