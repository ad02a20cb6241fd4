"""The shift suite (issue 20): each shift changes what it claims, builds are byte-identical,
the layout is the competition test layout, and no recipe trains on a held-out writer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image, ImageDraw

from datacur.errors import DatacurError
from datacur.inkops import find_ink_box
from datacur.labels import CLASSES
from datacur.shift import (
    SHIFTS,
    SUITE_NAMES,
    WRITERS_NAME,
    apply_shift,
    build_shift_suite,
    ink_extent,
    measure_contrast,
    measure_stroke_width,
)
from datacur.sources.chars74k import HELD_OUT_WRITERS, SAMPLE_LETTERS
from datacur.variant import list_folder_images, read_manifest

REPO = Path(__file__).resolve().parents[1]


def _numeral(stroke: int = 9, size: tuple[int, int] = (200, 220)) -> np.ndarray:
    """A starter-like 'iv': black strokes ``stroke`` px wide, the ink about half the frame."""
    image = Image.new("L", (size[1], size[0]), 255)
    draw = ImageDraw.Draw(image)
    draw.line([(70, 50), (70, 150)], fill=0, width=stroke)
    draw.line([(100, 50), (125, 150), (150, 50)], fill=0, width=stroke)
    return np.asarray(image, dtype=np.uint8).copy()


def _centre_offset(image: np.ndarray) -> float:
    box = find_ink_box(image, min_count=2)
    assert box is not None
    top, bottom, left, right = box
    dy = abs((top + bottom) / 2 / image.shape[0] - 0.5)
    dx = abs((left + right) / 2 / image.shape[1] - 0.5)
    return max(dx, dy)


@pytest.mark.parametrize("key", ["i/a.png", "v/b.png", "x/c.png"], ids=["a", "b", "c"])
def test_small_shrinks_the_ink_and_moves_it_off_centre(key: str) -> None:
    image = _numeral()
    shifted, params = apply_shift(image, "shift-small", key=key)
    assert shifted.shape == image.shape
    assert ink_extent(shifted) <= 0.61 * ink_extent(image)
    assert 0.2 <= ink_extent(shifted) <= 0.41
    assert _centre_offset(image) < 0.05 and _centre_offset(shifted) > 0.2
    assert params["scale"] <= 0.6


def test_small_keeps_an_already_small_numeral_readable() -> None:
    image = np.pad(_numeral()[40:160, 60:160], ((150, 150), (150, 150)), constant_values=255)
    assert ink_extent(image) < 0.26
    shifted, _ = apply_shift(image, "shift-small", key="iv/a.png")
    assert ink_extent(shifted) >= 0.19 and _centre_offset(shifted) > 0.2


def test_tight_fills_the_frame_and_loose_leaves_wide_margins() -> None:
    image = _numeral()
    assert 0.4 < ink_extent(image) < 0.6
    tight, _ = apply_shift(image, "shift-tight", key="iv/a.png")
    assert ink_extent(tight) == 1.0 and tight.shape[0] < image.shape[0]
    loose, params = apply_shift(image, "shift-loose", key="iv/a.png")
    assert loose.shape == image.shape
    assert 0.24 <= ink_extent(loose) <= 0.33 and _centre_offset(loose) < 0.06
    assert 0.25 <= params["target_extent"] <= 0.32


def test_thick_and_thin_change_the_stroke_width_beyond_augment() -> None:
    image = _numeral(stroke=11)
    before = measure_stroke_width(image)
    assert 9 <= before <= 13
    thick, params = apply_shift(image, "shift-thick", key="iv/a.png")
    assert measure_stroke_width(thick) >= 1.6 * before and params["kernel"] >= 5
    thin, params = apply_shift(image, "shift-thin", key="iv/a.png")
    assert measure_stroke_width(thin) <= 0.6 * before and params["kernel"] >= 5
    assert (thin < 128).sum() >= 0.35 * (image < 128).sum()  # the numeral survives


def test_thin_never_erases_a_hairline_numeral() -> None:
    image = _numeral(stroke=3)
    thin, params = apply_shift(image, "shift-thin", key="iv/a.png")
    assert (thin < 128).sum() >= 0.35 * (image < 128).sum()
    assert params["kernel"] < 5


def test_blur_noise_blurs_edges_and_adds_noise_stronger_than_augment() -> None:
    image = _numeral()
    shifted, params = apply_shift(image, "shift-blur-noise", key="iv/a.png")
    paper = shifted[:30, :]  # no ink in the top rows
    # White paper clips the noise's upper half (std about 0.58 of sigma): augment's largest
    # GaussNoise (std 0.08) leaves under 12 levels there, this shift (0.10 or more) over 14.
    assert paper.std() > 14 and params["noise_std"] >= 0.10
    assert params["sigma"] >= 0.012 * image.shape[0]
    # a hard edge in the original (ink 0 next to paper 255) becomes a ramp
    smooth = np.asarray(
        Image.fromarray(shifted).resize((55, 50), Image.BOX), dtype=np.float32
    )  # averages the noise away
    assert ((smooth > 40) & (smooth < 215)).mean() > 0.05


def test_low_contrast_lowers_contrast() -> None:
    image = _numeral()
    shifted, _ = apply_shift(image, "shift-low-contrast", key="iv/a.png")
    assert measure_contrast(image) == 255
    assert 40 <= measure_contrast(shifted) <= 101
    assert shifted.min() >= 110 and shifted.max() <= 210


def test_same_key_same_draw_other_key_other_draw() -> None:
    image = _numeral()
    a = apply_shift(image, "shift-small", key="iv/a.png")
    b = apply_shift(image, "shift-small", key="iv/a.png")
    c = apply_shift(image, "shift-small", key="iv/b.png")
    assert a[1] == b[1] and np.array_equal(a[0], b[0])
    assert a[1] != c[1]
    assert apply_shift(image, "shift-small", key="iv/a.png", seed=1)[1] != a[1]


def test_unknown_shift_is_an_error() -> None:
    with pytest.raises(DatacurError, match="unknown shift 'shift-huge'"):
        apply_shift(_numeral(), "shift-huge")


# --------------------------------------------------------------------------- building


@pytest.fixture
def dev_test(tmp_path: Path) -> Path:
    """A tiny dev-test: two numerals per class, starter-like (ink about half the frame)."""
    root = tmp_path / "dev-test"
    rng = np.random.default_rng(0)
    for label in CLASSES:
        (root / label).mkdir(parents=True)
        for k in range(2):
            image = Image.new("L", (int(rng.integers(90, 130)), 100), 255)
            draw = ImageDraw.Draw(image)
            x = 25
            for letter in label.upper():
                if letter == "I":
                    draw.line([(x, 25), (x, 75)], fill=0, width=5)
                    x += 12
                elif letter == "V":
                    draw.line([(x, 25), (x + 10, 75), (x + 20, 25)], fill=0, width=5)
                    x += 26
                else:
                    draw.line([(x, 25), (x + 20, 75)], fill=0, width=5)
                    draw.line([(x + 20, 25), (x, 75)], fill=0, width=5)
                    x += 26
            image.save(root / label / f"{label}-{k}.png")
    return root


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_suite_rebuilds_byte_identical_and_other_seed_differs(
    dev_test: Path, tmp_path: Path
) -> None:
    shifts = list(SHIFTS)
    first = build_shift_suite(dev_test, tmp_path / "a", only=shifts)
    build_shift_suite(dev_test, tmp_path / "b", only=shifts)
    build_shift_suite(dev_test, tmp_path / "c", only=shifts, seed=1)
    assert list(first.per_folder) == list(SHIFTS) and first.images == 20 * len(SHIFTS)
    a, b, c = _tree(tmp_path / "a"), _tree(tmp_path / "b"), _tree(tmp_path / "c")
    assert a == b
    assert a["shift-small/i/i-0.png"] != c["shift-small/i/i-0.png"]
    assert a["shift-tight/i/i-0.png"] == c["shift-tight/i/i-0.png"]  # no randomness in it


def test_suite_layout_manifest_and_readme(dev_test: Path, tmp_path: Path) -> None:
    build_shift_suite(dev_test, tmp_path / "out", only=["shift-thick", "shift-small"])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["shift-small", "shift-thick"]
    folder = tmp_path / "out" / "shift-thick"
    images = list_folder_images(folder)
    assert [f"{i.label}/{i.path.name}" for i in images] == [
        f"{i.label}/{i.path.name}" for i in list_folder_images(dev_test)
    ]
    rows = read_manifest(folder)
    assert len(rows) == 20
    row = rows[0]
    assert row["split"] == "test" and row["seed"] == "20"
    assert row["parent"] == f"dev-test/{row['path']}"
    assert '"shift": "thick"' in row["transform"]
    with Image.open(folder / row["path"]) as image:
        assert image.mode == "L"
    readme = (folder / "README.md").read_text()
    assert "datacur shift-suite --out datasets --only shift-thick --force" in readme
    assert "recipes/augment" in readme and "Morphological" in readme


def test_suite_refuses_to_overwrite_and_writes_nothing(dev_test: Path, tmp_path: Path) -> None:
    build_shift_suite(dev_test, tmp_path, only=["shift-tight"])
    with pytest.raises(DatacurError, match=r"shift-tight: already exists\. Pass --force"):
        build_shift_suite(dev_test, tmp_path)
    assert not (tmp_path / "shift-small").exists()
    before = _tree(tmp_path / "shift-tight")
    build_shift_suite(dev_test, tmp_path, only=["shift-tight"], overwrite=True)
    assert _tree(tmp_path / "shift-tight") == before
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"only": ["shift-huge"]}, "unknown shift-suite folder"),
        ({"only": [WRITERS_NAME]}, "needs the Chars74K"),
        ({"only": [WRITERS_NAME], "chars74k": Path("no/such")}, "needs the Chars74K"),
    ],
    ids=["unknown-name", "no-chars74k", "missing-chars74k"],
)
def test_suite_errors(dev_test: Path, tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(DatacurError, match=match):
        build_shift_suite(dev_test, tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- held-out writers


def make_chars74k(root: Path, writers: int = 55) -> Path:
    """A native EnglishHnd tree of tiny letters: I a bar, V a wedge, X a cross."""
    for sample, (letter, case) in SAMPLE_LETTERS.items():
        folder = root / "English" / "Hnd" / "Img" / f"Sample{sample:03d}"
        folder.mkdir(parents=True)
        height = 40 if case == "upper" else 26
        for writer in range(1, writers + 1):
            image = Image.new("L", (48, 48), 255)
            draw = ImageDraw.Draw(image)
            top, bottom, width = 44 - height, 44, 2 + writer % 3
            if letter == "I":
                draw.line([(24, top), (24, bottom)], fill=0, width=width)
            elif letter == "V":
                draw.line([(12, top), (24, bottom), (36, top)], fill=0, width=width)
            else:
                draw.line([(12, top), (36, bottom)], fill=0, width=width)
                draw.line([(36, top), (12, bottom)], fill=0, width=width)
            image.save(folder / f"img{sample:03d}-{writer:03d}.png")
    return root


def _writers(rows: list[dict[str, str]]) -> set[str]:
    return {w for row in rows for w in row["writer"].split("+") if w}


def test_writers_folder_uses_only_held_out_writers(tmp_path: Path) -> None:
    chars74k = make_chars74k(tmp_path / "c74k")
    summary = build_shift_suite(
        tmp_path / "no-dev-test",
        tmp_path / "out",
        chars74k=chars74k,
        only=[WRITERS_NAME],
        per_class=3,
        workers=1,
    )
    assert summary.per_folder[WRITERS_NAME] == dict.fromkeys(CLASSES, 3)
    folder = tmp_path / "out" / WRITERS_NAME
    rows = read_manifest(folder)
    assert len(rows) == 30 and {row["split"] for row in rows} == {"test"}
    used = _writers(rows)
    assert used and used <= HELD_OUT_WRITERS
    assert len(list_folder_images(folder)) == 30 and not (folder / ".synth").exists()
    readme = (folder / "README.md").read_text()
    assert all(f"`{w}`" in readme for w in HELD_OUT_WRITERS)


def _synth_recipe(root: Path, options: dict | None = None) -> Path:
    synth = {"source": "chars74k", "path": "c74k", "per_class": 12, "val_fraction": 0.0}
    if options is not None:
        synth["options"] = options
    data = {
        "version": 1,
        "name": "t",
        "inputs": [
            {"name": "real", "kind": "variant", "path": "v"},
            {"name": "c74k", "kind": "synth", "split": "train", "synth": synth},
        ],
    }
    path = root / "recipe.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_recipe_build_never_uses_a_held_out_writer(
    tmp_path: Path, make_variant: Callable[..., Path]
) -> None:
    from datacur.mix import build_variant

    make_variant(tmp_path / "v", n_train=2, n_val=1)
    make_chars74k(tmp_path / "c74k")
    build_variant(_synth_recipe(tmp_path), tmp_path / "out")
    rows = [r for r in read_manifest(tmp_path / "out") if r["source"] == "c74k"]
    assert len(rows) == 120
    used = _writers(rows)
    assert len(used) >= 20 and not used & HELD_OUT_WRITERS


@pytest.mark.parametrize("writers", ["held-out", "all"])
def test_a_recipe_may_not_ask_for_held_out_writers(tmp_path: Path, writers: str) -> None:
    from datacur.mix import plan_mix

    (tmp_path / "v").mkdir()
    with pytest.raises(DatacurError, match=r"options\.writers: .* held out"):
        plan_mix(_synth_recipe(tmp_path, {"writers": writers}))


def test_shipped_recipes_using_chars74k_take_training_writers_only() -> None:
    from datacur.recipe import load_recipe

    using = []
    for path in sorted((REPO / "recipes").rglob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if not isinstance(data, dict) or "inputs" not in data:
            continue
        recipe = load_recipe(path)  # would fail on options.writers other than train
        for config in recipe.inputs:
            if config.synth is not None and config.synth.source == "chars74k":
                using.append(path.name)
                assert config.synth.options.get("writers", "train") == "train"
    assert "combined.yaml" in using


def test_suite_names_all_start_with_shift() -> None:
    assert all(name.startswith("shift-") for name in SUITE_NAMES)


SHIPPED = sorted((REPO / "datasets").glob("shift-*"))


@pytest.mark.skipif(not SHIPPED, reason="no shipped shift suite in datasets/ (not checked out)")
def test_shipped_suite_matches_its_manifests() -> None:
    """The committed folders are what their manifests say: every class, every hash."""
    import hashlib

    assert [p.name for p in SHIPPED] == sorted(SUITE_NAMES)
    for folder in SHIPPED:
        rows = read_manifest(folder)
        images = list_folder_images(folder)
        assert sorted(r["path"] for r in rows) == sorted(
            f"{i.label}/{i.path.name}" for i in images
        ), folder.name
        assert {r["label"] for r in rows} == set(CLASSES)
        for row in rows:
            digest = hashlib.sha256((folder / row["path"]).read_bytes()).hexdigest()
            assert digest == row["sha256"], f"{folder.name}/{row['path']}"
        assert (folder / "README.md").is_file()
        if folder.name == WRITERS_NAME:
            assert _writers(rows) <= HELD_OUT_WRITERS
        else:
            assert len(rows) == len(list_folder_images(REPO / "datasets" / "dev-test"))
