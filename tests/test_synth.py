"""synth: numerals composed from glyphs into a variant; split by writer; byte-identical."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import yaml

from datacur.errors import DatacurError, SourceError
from datacur.labels import CLASSES
from datacur.sources.base import Glyph
from datacur.sources.strokes import StrokesSource
from datacur.synth import (
    SynthStyle,
    compose_numeral,
    prepare_glyph,
    synthesize,
)
from datacur.variant import list_variant_images, read_manifest


def small_source(writers: int = 6, seed: int = 0) -> StrokesSource:
    return StrokesSource(writers=writers, samples=1, seed=seed)


def tree_digest(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


class UnknownWriterSource:
    """Glyphs with neither writer nor case (like EMNIST bymerge from IDX files)."""

    name = "anonymous"

    def __iter__(self):
        for glyph in StrokesSource(writers=3, samples=1):
            yield Glyph(glyph.image, glyph.letter, None, None, glyph.origin)


def test_synthesize_writes_a_complete_variant(tmp_path: Path) -> None:
    out = tmp_path / "synth"
    result = synthesize(small_source(), out, per_class=5, val_fraction=0.4, seed=3, workers=1)
    assert result.images == {"train": 30, "val": 20}
    images = list_variant_images(out)
    assert len(images) == 50
    rows = read_manifest(out)
    assert len(rows) == 50
    assert {row["source"] for row in rows} == {"synth:strokes"}
    by_path = {row["path"]: row for row in rows}
    for image in images:
        row = by_path[image.path.relative_to(out).as_posix()]
        assert row["label"] == image.label and row["split"] == image.split
        assert row["sha256"] == hashlib.sha256(image.path.read_bytes()).hexdigest()
        params = json.loads(row["transform"])
        assert int(row["height"]) == params["height"] and int(row["width"]) == params["width"]
        assert len(row["origin"].split("+")) == len(image.label)
    recipe = yaml.safe_load((out / "recipe.yaml").read_text())
    assert recipe["version"] == 1 and recipe["kind"] == "synth" and recipe["seed"] == 3
    assert recipe["per_class"] == 5 and recipe["source_options"]["writers"] == 6
    assert "opencv" in recipe["versions"] and "stroke_median" in recipe["style"]
    assert not (tmp_path / "synth.partial").exists()


def test_no_writer_on_both_sides_and_one_writer_per_numeral(tmp_path: Path) -> None:
    out = tmp_path / "synth"
    synthesize(small_source(writers=8), out, per_class=10, val_fraction=0.25, workers=1)
    writers: dict[str, set[str]] = defaultdict(set)
    for row in read_manifest(out):
        assert "+" not in row["writer"], "one writer per numeral"
        writers[row["split"]].add(row["writer"])
    assert writers["train"] and writers["val"]
    assert not writers["train"] & writers["val"]


def test_unknown_writers_keep_each_glyph_on_one_side(tmp_path: Path) -> None:
    out = tmp_path / "synth"
    synthesize(UnknownWriterSource(), out, per_class=6, val_fraction=0.3, workers=1)
    origins: dict[str, set[str]] = defaultdict(set)
    for row in read_manifest(out):
        assert row["writer"] == ""
        origins[row["split"]].update(row["origin"].split("+"))
    assert not origins["train"] & origins["val"]


def test_same_seed_is_byte_identical_whatever_the_worker_count(tmp_path: Path) -> None:
    kwargs = {"per_class": 8, "seed": 11, "case": "mixed"}
    synthesize(small_source(), tmp_path / "a", workers=1, **kwargs)
    synthesize(small_source(), tmp_path / "b", workers=1, **kwargs)
    synthesize(small_source(), tmp_path / "c", workers=2, **kwargs)
    a, b, c = (tree_digest(tmp_path / name) for name in "abc")
    assert a == b == c
    synthesize(small_source(), tmp_path / "d", workers=1, per_class=8, seed=12)
    assert tree_digest(tmp_path / "d") != a


@pytest.mark.parametrize("case", ["upper", "lower"], ids=["upper", "lower"])
def test_case_is_honoured(tmp_path: Path, case: str) -> None:
    out = tmp_path / "synth"
    synthesize(small_source(), out, per_class=2, case=case, workers=1)
    rows = read_manifest(out)
    assert {json.loads(row["transform"])["case"] for row in rows} == {case}
    assert all(f":{case}:" in origin for row in rows for origin in row["origin"].split("+"))


def test_case_request_on_a_caseless_source_warns(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="does not know letter case"):
        synthesize(UnknownWriterSource(), tmp_path / "s", per_class=2, case="upper", workers=1)


def test_existing_output_needs_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "synth"
    synthesize(small_source(), out, per_class=2, workers=1)
    with pytest.raises(DatacurError, match="--force"):
        synthesize(small_source(), out, per_class=2, workers=1)
    synthesize(small_source(), out, per_class=3, workers=1, overwrite=True)
    assert len(read_manifest(out)) == 30


def test_interrupted_run_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "synth"

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        synthesize(small_source(), out, per_class=20, workers=1, progress=interrupt)
    assert list(tmp_path.iterdir()) == []


def test_preview_sheet_is_written_inside(tmp_path: Path) -> None:
    result = synthesize(small_source(), tmp_path / "s", per_class=2, workers=1, preview=True)
    assert result.preview == tmp_path / "s" / "preview.png"
    assert result.preview.is_file()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"per_class": 0}, "per_class must be >= 1"),
        ({"per_class": 2, "val_fraction": 1.0}, r"val_fraction must be in \[0, 1\)"),
        ({"per_class": 2, "case": "title"}, "case must be one of"),
    ],
    ids=["per-class", "val-fraction", "case"],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(SourceError, match=match):
        synthesize(small_source(), tmp_path / "s", workers=1, **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "s").exists()


def test_a_single_writer_cannot_be_split(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="only 1 writer"):
        synthesize(small_source(writers=1), tmp_path / "s", per_class=2, workers=1)
    synthesize(small_source(writers=1), tmp_path / "s", per_class=2, val_fraction=0, workers=1)


def test_a_class_no_writer_can_write_is_an_error(tmp_path: Path) -> None:
    class OnlyI:
        name = "only-i"

        def __iter__(self):
            for glyph in StrokesSource(writers=3, samples=1):
                if glyph.letter == "I":
                    yield glyph

    with pytest.raises(SourceError, match="no train writer has the letters of 'iv'"):
        synthesize(OnlyI(), tmp_path / "s", per_class=2, workers=1)


def test_synthesize_by_source_name(tmp_path: Path) -> None:
    result = synthesize(
        "strokes", tmp_path / "s", per_class=1, val_fraction=0, source_options={"writers": 2}
    )
    assert result.images == {"train": 10, "val": 0}


# ------------------------------------------------------------------ pure functions


def glyphs_for(label: str, case: str = "upper") -> list:
    source = [g for g in StrokesSource(writers=1, samples=1, seed=2) if g.case == case]
    by_letter = {g.letter: prepare_glyph(g) for g in source}
    return [by_letter[ch] for ch in label.upper()]


@pytest.mark.parametrize("label", CLASSES, ids=CLASSES)
def test_compose_numeral_draws_black_on_white_within_measured_sizes(label: str) -> None:
    image, params = compose_numeral(glyphs_for(label), np.random.default_rng(0), case="upper")
    assert image.dtype == np.uint8 and image.ndim == 2
    assert 100 <= image.shape[0] <= 520
    assert image[0].min() >= 200 or image[:, 0].min() >= 200, "paper at the border"
    assert image.min() <= 100, "dark ink"
    ink_rows = np.flatnonzero((image < 128).any(axis=1))
    assert 0.2 <= (ink_rows[-1] - ink_rows[0] + 1) / image.shape[0] <= 1.0
    assert len(params["gaps"]) == len(label) - 1


def test_compose_numeral_is_a_function_of_the_rng() -> None:
    glyphs = glyphs_for("viii")
    a, _ = compose_numeral(glyphs, np.random.default_rng(4), case="upper")
    b, _ = compose_numeral(glyphs, np.random.default_rng(4), case="upper")
    c, _ = compose_numeral(glyphs, np.random.default_rng(5), case="upper")
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_style_controls_the_stroke() -> None:
    thin = SynthStyle(stroke_median=0.04, stroke_sigma=0.0, grey_ink_probability=0.0)
    thick = SynthStyle(stroke_median=0.15, stroke_sigma=0.0, grey_ink_probability=0.0)
    glyphs = glyphs_for("x")
    a, _ = compose_numeral(glyphs, np.random.default_rng(1), case="upper", style=thin)
    b, _ = compose_numeral(glyphs, np.random.default_rng(1), case="upper", style=thick)
    assert (b < 128).mean() > 1.5 * (a < 128).mean()


def test_prepare_glyph_normalises_paper_ink_and_polarity() -> None:
    image = np.full((60, 40), 200, np.uint8)  # grey paper
    image[10:50, 18:24] = 90  # grey ink
    image[2, 2] = 150  # a speck lighter than the ink threshold
    prepared = prepare_glyph(Glyph(image, "I", "upper", None, "t"))
    assert prepared is not None
    assert prepared.ink.shape == (40, 6) and prepared.ink.max() == 255
    assert 5 <= prepared.stroke <= 7
    negative = prepare_glyph(Glyph(255 - image, "I", "upper", None, "t"))
    assert negative is not None and negative.ink.shape == prepared.ink.shape
    assert prepare_glyph(Glyph(np.full((9, 9), 255, np.uint8), "I", None, None, "t")) is None


@pytest.mark.integration
def test_synth_from_real_sources(shared_data: Path, tmp_path: Path) -> None:
    result = synthesize(
        "chars74k", tmp_path / "c", path=shared_data / "chars74k", per_class=3, workers=1
    )
    assert result.writers == {"train": 32, "val": 8}  # 40 writers: 15 of 55 held out
    with pytest.warns(UserWarning, match="SMALL_i_83"):
        synthesize(
            "folder",
            tmp_path / "f",
            path=shared_data / "letters-photo",
            per_class=3,
            val_fraction=0.3,
            workers=1,
        )
    assert len(list_variant_images(tmp_path / "f")) == 30


def test_synth_from_emnist_glyphs(tmp_path: Path) -> None:
    from tests.sources.test_emnist import write_gz_files

    folder = write_gz_files(tmp_path / "emnist")
    result = synthesize(
        "emnist",
        tmp_path / "s",
        path=folder,
        per_class=2,
        val_fraction=0,
        source_options={"subset": "all"},
        workers=1,
    )
    # IDX files name no writers: each numeral mixes anonymous glyphs.
    assert result.glyphs == 12 and result.writers == {"train": 0, "val": 0}
    assert len(list_variant_images(tmp_path / "s", allow_empty_class=True)) == 20


def test_recipe_round_trips_through_load_config(tmp_path: Path) -> None:
    from datacur.config import load_config
    from datacur.synth import SynthRecipe

    result = synthesize(small_source(), tmp_path / "s", per_class=2, workers=1)
    loaded = load_config(tmp_path / "s" / "recipe.yaml", SynthRecipe)
    assert loaded == result.recipe


def test_synthetic_images_match_the_measured_starter_figures() -> None:
    """Medians of 200 numerals sit near the starter data's (see the synth module docstring)."""
    glyph_sets = [glyphs_for(label) for label in CLASSES]
    rng = np.random.default_rng(0)
    heights, aspects, ink_fractions, strokes = [], [], [], []
    for k in range(200):
        image, params = compose_numeral(glyph_sets[k % 10], rng, case="upper")
        rows = np.flatnonzero((image < 128).any(axis=1))
        heights.append(image.shape[0])
        aspects.append(image.shape[1] / image.shape[0])
        ink_fractions.append((rows[-1] - rows[0] + 1) / image.shape[0])
        strokes.append(params["stroke_px"])
    assert 220 <= np.median(heights) <= 300  # starter: 258
    assert 0.95 <= np.median(aspects) <= 1.3  # starter: 1.06
    assert 0.45 <= np.median(ink_fractions) <= 0.65  # starter: 0.52
    assert 7 <= np.median(strokes) <= 14  # starter: 10.1


def test_interrupted_parallel_run_leaves_nothing(tmp_path: Path) -> None:
    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        synthesize(small_source(), tmp_path / "s", per_class=40, workers=2, progress=interrupt)
    assert list(tmp_path.iterdir()) == []


def test_strokes_by_name_takes_the_synth_seed(tmp_path: Path) -> None:
    one = synthesize(
        "strokes",
        tmp_path / "a",
        per_class=1,
        val_fraction=0,
        seed=3,
        source_options={"writers": 2},
    )
    assert one.recipe is not None and one.recipe.source_options["seed"] == 3
