"""Compose Roman numerals i..x from letter glyphs and write them as a dataset variant.

Each numeral takes one writer and one case where the source knows them; its glyphs are
cropped to the ink, their stroke width normalised, and placed left to right with jittered
spacing (overlap and touching included), baseline, scale and slant, then rendered black ink
on white at the competition's image size and margins.

Measured on the starter data (``datasets/dcai-2021``, 600 random images of 2,880; 5th / 25th /
50th / 75th / 95th percentiles), which :class:`SynthStyle`'s defaults reproduce:

- all grayscale PNGs (mode ``L``), paper 255; ink pure black (0) in most, grey (about 64,
  felt pen) in about a quarter; few anti-aliased pixels (1.4 % of the image, median).
- image height 157 / 225 / 258 / 291 / 379 px; width 183 / 240 / 264 / 293 / 478 px;
  aspect W/H 0.82 / 0.96 / 1.06 / 1.20 / 1.54 (medians per class 1.02 for ``ii`` to 1.14
  for ``viii``).
- ink height as a fraction of the image height 0.31 / 0.40 / 0.52 / 0.68 / 0.97; ink width
  as a fraction of the image width: median 0.44 (``ii``) to 0.69 (``viii``).
- margins, each side as a fraction of that dimension: 0 / 0.12 / 0.22-0.25 / 0.31-0.34 /
  0.41-0.46, about the same on all four sides (the numeral sits near the middle; 5 % touch
  an edge).
- stroke width (twice the median distance-transform value on the ink's ridge) 5.7 / 7.6 /
  10.1 / 11.5 / 19.1 px, i.e. 0.036 / 0.058 / 0.078 / 0.106 / 0.164 of the ink height.
- about one numeral in four in upper case carries serif bars along its top and bottom;
  a lone ``I`` mostly has serifs (``i`` ink W/H median 0.88). Long numerals are written
  compressed: ink W/H median ``iii`` 1.11, ``vii`` 1.21, ``viii`` 1.32.

The same measurement on 300 numerals synthesised with the defaults (``strokes``, seed 0):
height 161 / 217 / 260 / 302 / 375 px; aspect 0.84 / 0.96 / 1.08 / 1.19 / 1.44; ink height
0.28 / 0.43 / 0.53 / 0.66 / 0.82; stroke 5.7 / 7.6 / 10.7 / 15.1 / 21.0 px, i.e. 0.042 /
0.064 / 0.080 / 0.097 / 0.135 of the ink height (the style asks for a median of 0.070 because
thinning is capped, see ``_adjust_stroke``); margins 0.20-0.22 median on each side; ink W/H
medians per class within 0.11 of the starter's (``viii`` 1.36, ``vii`` 1.21, ``v`` 1.03),
except ``i`` (0.43: fewer lone I's with wide serifs than the starter has).
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import Field

from datacur import __version__
from datacur.cap import MAX_IMAGES
from datacur.config import FORMAT_VERSION, StrictModel, dump_config
from datacur.errors import SourceError
from datacur.io import atomic_output_dir, check_output_dir, encode_png, sha256_bytes
from datacur.labels import CLASSES, SPLITS
from datacur.sources.base import Glyph, Source, open_source
from datacur.variant import ManifestRow, write_manifest

__all__ = [
    "CASE_CHOICES",
    "PreparedGlyph",
    "SynthRecipe",
    "SynthResult",
    "SynthStyle",
    "compose_numeral",
    "measure_stroke",
    "prepare_glyph",
    "synthesize",
]

CASE_CHOICES: tuple[str, ...] = ("upper", "lower", "mixed")
"""Values of ``case``: every numeral upper, every numeral lower, or each numeral drawn."""

MAX_GLYPH_SIDE = 160
"""Prepared glyphs are downscaled to at most this many pixels high (memory, speed)."""

_SPLIT_STREAM = 0  # SeedSequence spawn keys: (0,) splits writers, (1, k) renders item k
_ITEM_STREAM = 1
_CHUNK = 64

ProgressCallback = Callable[[int, int], None]
"""``progress(done, total)``, called from the main process as images are written."""


@dataclass(frozen=True)
class SynthStyle:
    """Distributions numerals are drawn from; the defaults are the starter-data figures.

    Heights and widths are in pixels of the written PNG; the other lengths are fractions of
    the numeral's cap (ink) height. "median, sigma" pairs are log-normal.
    """

    image_height_median: float = 258.0
    image_height_sigma: float = 0.23
    image_height_range: tuple[float, float] = (120.0, 480.0)
    aspect_median: float = 1.06
    aspect_sigma: float = 0.17
    ink_height_mean: float = 0.55
    ink_height_sd: float = 0.17
    ink_height_range: tuple[float, float] = (0.28, 0.97)
    stroke_median: float = 0.07
    stroke_sigma: float = 0.42
    stroke_range: tuple[float, float] = (0.03, 0.2)
    min_stroke_px: float = 2.5
    lower_x_height: tuple[float, float] = (0.55, 0.75)
    glyph_scale_jitter: float = 0.07
    gap_mean: float = 0.1
    gap_sd: float = 0.09
    gap_range: tuple[float, float] = (-0.15, 0.4)
    baseline_sd: float = 0.03
    rotation_sd_degrees: float = 2.5
    slant_sd: float = 0.1
    bar_probability: float = 0.25
    bar_probability_single: float = 0.6
    """Bars on one-letter numerals: a lone ``I`` is mostly written with serifs (starter
    ``i`` ink W/H median 0.88, a bare stroke would be about 0.2)."""
    max_ink_aspect_median: float = 1.35
    max_ink_aspect_sigma: float = 0.15
    """Long numerals are written compressed: ink W/H above a limit drawn from this
    log-normal is squeezed to it (starter ``viii`` ink W/H median 1.32, ``vii`` 1.21)."""
    centre_sd: float = 0.18
    grey_ink_probability: float = 0.25
    grey_ink_range: tuple[float, float] = (40.0, 100.0)
    upper_probability: float = 0.65
    """With ``case="mixed"``: the share of numerals drawn upper case (most starter images are)."""


# --------------------------------------------------------------------------- glyph preparation


@dataclass(frozen=True, eq=False)
class PreparedGlyph:
    """A glyph ready to compose: ink intensity cropped to the ink, and its stroke width.

    Attributes:
        ink: uint8 (H, W), 0 = paper, 255 = full ink (the inverse of the glyph image).
        stroke: stroke width in pixels at this size.
    """

    ink: np.ndarray
    stroke: float
    letter: str
    case: str | None
    writer: str | None
    origin: str


def measure_stroke(mask: np.ndarray) -> float:
    """Stroke width of a boolean ink mask: twice the median distance to paper on the ridge."""
    if not mask.any():
        return 0.0
    padded = np.pad(mask.astype(np.uint8), 1)
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, 3)
    ridge = (distance > 0) & (distance >= cv2.dilate(distance, np.ones((3, 3), np.uint8)))
    return float(2.0 * np.median(distance[ridge]))


def prepare_glyph(glyph: Glyph) -> PreparedGlyph | None:
    """Normalise a glyph: paper to 0, darkest ink to 255, specks removed, cropped, downscaled.

    Works for scans and photos alike: the paper level is the image's 90th percentile and the
    ink level the 10th percentile of the inked pixels (robust to one dark speck, which would
    leave a photo's strokes faint), so coloured paper and grey ink come out the same. An image
    whose border is dark is taken to be light ink on a dark ground and inverted first.

    Returns:
        The prepared glyph, or None when the image holds no ink (contrast under 40 levels).
    """
    image = glyph.image
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    if np.median(border) < 96:
        # Light ink on a dark background (a scan negative, an un-inverted EMNIST export).
        image = 255 - image
    histogram = np.cumsum(np.bincount(image.ravel(), minlength=256))
    paper = float(np.searchsorted(histogram, 0.9 * histogram[-1]))
    darkest = float(image.min())
    if paper - darkest < 40:
        return None
    # Crop to the rough ink box first: big scans (1200x900 Chars74K) are mostly paper.
    rough = image < (paper + darkest) / 2
    rows = np.flatnonzero(rough.any(axis=1))
    cols = np.flatnonzero(rough.any(axis=0))
    pad = 2
    image = image[
        max(0, rows[0] - pad) : rows[-1] + 1 + pad, max(0, cols[0] - pad) : cols[-1] + 1 + pad
    ]
    if image.shape[0] > 2 * MAX_GLYPH_SIDE:
        scale = 2 * MAX_GLYPH_SIDE / image.shape[0]
        size = (max(1, round(image.shape[1] * scale)), 2 * MAX_GLYPH_SIDE)
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    inked = image[image < (paper + darkest) / 2]
    ink_level = float(np.percentile(inked, 10)) if inked.size else darkest
    ink = np.clip((paper - image.astype(np.float32)) / max(paper - ink_level, 1.0), 0.0, 1.0)
    ink[ink < 0.25] = 0.0
    # Components at a lower level than the 0.5 stroke edge, so a pale stroke (a photo's
    # lighter stem) still counts as ink and is not dropped as a speck.
    mask = (ink >= 0.35).astype(np.uint8)
    count, components, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return None
    areas = stats[1:, cv2.CC_STAT_AREA]
    # Drop specks (dust, paper texture) but keep i dots: under 2 % of the largest stroke.
    keep = np.zeros(count, dtype=bool)
    keep[1:] = areas >= max(3.0, 0.02 * float(areas.max()))
    kept = keep[components]
    # Grow the kept mask a little so anti-aliased edges of kept strokes survive.
    grown = cv2.dilate(kept.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    ink = np.where(grown, ink, 0.0)
    rows = np.flatnonzero(kept.any(axis=1))
    cols = np.flatnonzero(kept.any(axis=0))
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    if ink.shape[0] > MAX_GLYPH_SIDE:
        scale = MAX_GLYPH_SIDE / ink.shape[0]
        size = (max(1, round(ink.shape[1] * scale)), MAX_GLYPH_SIDE)
        ink = cv2.resize(ink, size, interpolation=cv2.INTER_AREA)
    stroke = measure_stroke(ink >= 0.5)
    return PreparedGlyph(
        ink=np.round(ink * 255).astype(np.uint8),
        stroke=max(stroke, 1.0),
        letter=glyph.letter,
        case=glyph.case,
        writer=glyph.writer,
        origin=glyph.origin,
    )


# --------------------------------------------------------------------------- composition


def _lognormal(rng: np.random.Generator, median: float, sigma: float, bounds: Sequence[float]):
    return float(np.clip(median * math.exp(rng.normal(0.0, sigma)), bounds[0], bounds[1]))


def _adjust_stroke(ink: np.ndarray, current: float, target: float) -> np.ndarray:
    """Thicken or thin a uint8 ink image (0 paper, 255 ink) from ``current`` to ``target`` px."""
    delta = target - current
    radius = round(abs(delta) / 2)
    if delta < 0:
        # Thin by at most a fifth of the stroke on each side: a blurred (photo) stroke varies
        # in width, and eroding to the target would cut its thin stretches.
        radius = min(radius, int(0.2 * current))
    if radius < 1:
        return ink
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    padded = cv2.copyMakeBorder(ink, radius, radius, radius, radius, cv2.BORDER_CONSTANT, value=0)
    if delta > 0:
        return cv2.dilate(padded, kernel)
    return cv2.erode(padded, kernel)[radius:-radius, radius:-radius]


def _place_glyph(
    glyph: PreparedGlyph, height: float, stroke: float, rng: np.random.Generator, style: SynthStyle
) -> np.ndarray:
    """Scale, re-stroke and slightly rotate one glyph; return uint8 ink cropped to the ink."""
    scale = height / glyph.ink.shape[0]
    width = glyph.ink.shape[1] * scale * rng.uniform(0.9, 1.1)
    size = (max(1, round(width)), max(1, round(height)))
    ink = cv2.resize(glyph.ink, size, interpolation=cv2.INTER_LINEAR)
    if scale > 1.5:
        # Upscaling blurs the edges by about `scale` pixels; steepen them back to a pen edge.
        ink = cv2.LUT(ink, _steepen_table(min(scale, 6.0)))
    ink = _adjust_stroke(ink, glyph.stroke * scale, stroke)
    angle = rng.normal(0.0, style.rotation_sd_degrees)
    if abs(angle) > 0.2:
        h, w = ink.shape
        pad = int(0.1 * max(h, w)) + 2
        ink = cv2.copyMakeBorder(ink, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        centre = (ink.shape[1] / 2, ink.shape[0] / 2)
        matrix = cv2.getRotationMatrix2D(centre, angle, 1.0)
        ink = cv2.warpAffine(ink, matrix, (ink.shape[1], ink.shape[0]), flags=cv2.INTER_LINEAR)
    return _crop(ink)


def _steepen_table(gain: float) -> np.ndarray:
    levels = np.arange(256, dtype=np.float32) / 255.0
    return np.round(np.clip((levels - 0.5) * gain + 0.5, 0.0, 1.0) * 255).astype(np.uint8)


def _crop(ink: np.ndarray, level: int = 5) -> np.ndarray:
    rows = np.flatnonzero((ink > level).any(axis=1))
    cols = np.flatnonzero((ink > level).any(axis=0))
    if rows.size == 0:
        return ink[:1, :1] * 0
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def compose_numeral(
    glyphs: Sequence[PreparedGlyph],
    rng: np.random.Generator,
    *,
    case: str | None,
    style: SynthStyle = SynthStyle(),
) -> tuple[np.ndarray, dict[str, Any]]:
    """Compose one numeral image from its glyphs, left to right.

    Args:
        glyphs: one prepared glyph per letter, in reading order (e.g. V, I, I for ``vii``).
        rng: draws every jitter; the same rng state gives the same image.
        case: "upper", "lower" or None (unknown); lower-case v and x are drawn at x-height.
        style: the distributions to draw from.

    Returns:
        ``(image, params)``: a uint8 (H, W) grayscale image, black ink on white, and the
        parameters drawn (JSON-ready), for the manifest's ``transform`` column.

    Example:
        >>> image, params = compose_numeral([v, i, i], np.random.default_rng(0), case="upper")
    """
    if not glyphs:
        raise ValueError("compose_numeral needs at least one glyph")
    image_height = _lognormal(
        rng, style.image_height_median, style.image_height_sigma, style.image_height_range
    )
    ink_fraction = float(
        np.clip(rng.normal(style.ink_height_mean, style.ink_height_sd), *style.ink_height_range)
    )
    cap = ink_fraction * image_height
    stroke = max(
        style.min_stroke_px,
        _lognormal(rng, style.stroke_median, style.stroke_sigma, style.stroke_range) * cap,
    )
    x_height = rng.uniform(*style.lower_x_height)
    slant = rng.normal(0.0, style.slant_sd)

    pieces: list[tuple[np.ndarray, float]] = []
    for glyph in glyphs:
        relative = x_height if (case == "lower" and glyph.letter != "I") else 1.0
        height = (
            cap * relative * rng.uniform(1 - style.glyph_scale_jitter, 1 + style.glyph_scale_jitter)
        )
        ink = _place_glyph(glyph, max(height, 4.0), stroke, rng, style)
        pieces.append((ink, rng.normal(0.0, style.baseline_sd) * cap))

    gaps = [
        float(np.clip(rng.normal(style.gap_mean, style.gap_sd), *style.gap_range)) * cap
        for _ in pieces[1:]
    ]
    tallest = max(ink.shape[0] + abs(shift) for ink, shift in pieces)
    margin = int(stroke * 2 + tallest * 0.1) + 2
    total_width = sum(ink.shape[1] for ink, _ in pieces) + sum(max(g, 0.0) for g in gaps)
    canvas = np.zeros((int(tallest + 2 * margin), int(total_width + 2 * margin)), np.uint8)
    baseline = canvas.shape[0] - margin
    x = float(margin)
    for index, (ink, shift) in enumerate(pieces):
        if index:
            x = max(float(margin), x + gaps[index - 1])
        top = round(baseline - ink.shape[0] + shift)
        top = min(max(top, 0), canvas.shape[0] - ink.shape[0])
        left = round(x)
        region = canvas[top : top + ink.shape[0], left : left + ink.shape[1]]
        np.maximum(region, ink[: region.shape[0], : region.shape[1]], out=region)
        x = left + ink.shape[1]

    bar_chance = style.bar_probability_single if len(glyphs) == 1 else style.bar_probability
    bars = case != "lower" and rng.random() < bar_chance
    if bars:
        _draw_bars(canvas, stroke, rng)
    canvas = np.asarray(_crop(canvas), np.uint8)
    limit = _lognormal(rng, style.max_ink_aspect_median, style.max_ink_aspect_sigma, (1.0, 2.5))
    squeeze = min(1.0, limit * canvas.shape[0] / canvas.shape[1])
    if squeeze < 1.0:
        size = (max(1, round(canvas.shape[1] * squeeze)), canvas.shape[0])
        canvas = np.asarray(cv2.resize(canvas, size, interpolation=cv2.INTER_AREA), np.uint8)
    canvas = _shear(canvas, slant)

    ink_h, ink_w = canvas.shape
    image_height = ink_h / ink_fraction
    aspect = _lognormal(rng, style.aspect_median, style.aspect_sigma, (0.7, 2.0))
    image_width = max(image_height * aspect, ink_w / rng.uniform(0.7, 0.97))
    out_h, out_w = round(max(image_height, ink_h)), round(max(image_width, ink_w))
    top = round((out_h - ink_h) * np.clip(rng.normal(0.5, style.centre_sd), 0, 1))
    left = round((out_w - ink_w) * np.clip(rng.normal(0.5, style.centre_sd), 0, 1))
    ink_level = (
        rng.uniform(*style.grey_ink_range) if rng.random() < style.grey_ink_probability else 0.0
    )
    image = np.full((out_h, out_w), 255, np.uint8)
    paper_to_ink = (255.0 - ink_level) / 255.0
    image[top : top + ink_h, left : left + ink_w] = np.round(
        255.0 - canvas.astype(np.float32) * paper_to_ink
    ).astype(np.uint8)
    params = {
        "case": case,
        "height": out_h,
        "width": out_w,
        "ink_height": round(ink_fraction, 4),
        "stroke_px": round(stroke, 2),
        "x_height": round(float(x_height), 4),
        "slant": round(float(slant), 4),
        "gaps": [round(g / cap, 4) for g in gaps],
        "bars": bool(bars),
        "squeeze": round(float(squeeze), 4),
        "ink_level": round(float(ink_level), 1),
    }
    return image, params


def _draw_bars(canvas: np.ndarray, stroke: float, rng: np.random.Generator) -> None:
    """Serif bars along the top and bottom of the numeral, as in many starter images."""
    mask = canvas > 127
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return
    overhang = stroke * rng.uniform(0.3, 1.5)
    left = max(0.0, cols[0] - overhang)
    right = min(canvas.shape[1] - 1.0, cols[-1] + overhang)
    thickness = max(1, round(stroke * rng.uniform(0.7, 1.0)))
    shift = 4
    for y in (rows[0] + stroke / 2, rows[-1] - stroke / 2):
        tilt = rng.normal(0.0, stroke * 0.3)
        start = (int((left) * (1 << shift)), int((y - tilt) * (1 << shift)))
        end = (int((right) * (1 << shift)), int((y + tilt) * (1 << shift)))
        cv2.line(canvas, start, end, 255, thickness, cv2.LINE_AA, shift)


def _shear(ink: np.ndarray, slant: float) -> np.ndarray:
    """Slant the numeral: x moves right by ``slant`` times the height above the bottom."""
    if abs(slant) < 0.01:
        return ink
    h, w = ink.shape
    extra = math.ceil(abs(slant) * h) + 2
    # x' = x + slant * (h - y), shifted so that nothing goes left of column 0.
    shift = slant * h if slant > 0 else 0.0
    matrix = np.array([[1.0, -slant, shift], [0.0, 1.0, 0.0]], dtype=np.float32)
    sheared = cv2.warpAffine(ink, matrix, (w + extra, h), flags=cv2.INTER_LINEAR)
    return _crop(sheared)


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class _Plan:
    """Everything a worker needs, sent once per process."""

    glyphs: list[PreparedGlyph]
    # (split, label, case) -> candidate writers; each writer: letter -> glyph indices
    candidates: dict[tuple[str, str, str], list[dict[str, list[int]]]]
    case: str
    style: SynthStyle
    seed: int
    source: str
    out_dir: str


def _writer_key(index: int, glyph: PreparedGlyph) -> str:
    # Glyphs of unknown writers are their own group, so no glyph is on both sides.
    return glyph.writer if glyph.writer is not None else f"~{index}"


def _split_writers(
    keys: list[str], val_fraction: float, rng: np.random.Generator, source: str
) -> dict[str, str]:
    if val_fraction <= 0:
        return dict.fromkeys(keys, "train")
    if len(keys) < 2:
        raise SourceError(
            f"{source}: only {len(keys)} writer(s), cannot split writers between train and "
            "val. Use a source with more writers or --val-fraction 0."
        )
    n_val = min(len(keys) - 1, max(1, round(len(keys) * val_fraction)))
    order = rng.permutation(len(keys))
    val = {keys[i] for i in order[:n_val]}
    return {key: ("val" if key in val else "train") for key in keys}


def _build_candidates(
    glyphs: list[PreparedGlyph], split_of: Mapping[str, str], case: str, source: str
) -> dict[tuple[str, str, str], list[dict[str, list[int]]]]:
    # Per split: one entry per known writer, plus one shared pool for all unknown writers.
    by_writer: dict[tuple[str, str], dict[tuple[str, str | None], list[int]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for index, glyph in enumerate(glyphs):
        key = _writer_key(index, glyph)
        owner = glyph.writer if glyph.writer is not None else "~anonymous"
        by_writer[(split_of[key], owner)][(glyph.letter, glyph.case)].append(index)

    cases = ("upper", "lower") if case == "mixed" else (case,)
    candidates: dict[tuple[str, str, str], list[dict[str, list[int]]]] = {}
    for (split, _owner), table in sorted(by_writer.items()):
        for wanted in cases:
            letters: dict[str, list[int]] = {}
            for letter in "IVX":
                indices = table.get((letter, wanted), []) + table.get((letter, None), [])
                if indices:
                    letters[letter] = sorted(indices)
            for label in CLASSES:
                if all(letter in letters for letter in set(label.upper())):
                    candidates.setdefault((split, label, wanted), []).append(letters)
    return candidates


# --------------------------------------------------------------------------- workers

_WORKER_PLAN: _Plan | None = None


def _init_worker(plan: _Plan) -> None:
    global _WORKER_PLAN
    _WORKER_PLAN = plan


def _render_items(items: list[tuple[int, str, str, str]]) -> list[dict[str, Any]]:
    plan = _WORKER_PLAN
    assert plan is not None, "worker not initialised"
    return [_render_item(plan, *item) for item in items]


def _render_item(plan: _Plan, index: int, split: str, label: str, rel_path: str) -> dict[str, Any]:
    # The item's own stream: the same image whatever the worker count or order.
    rng = np.random.default_rng(np.random.SeedSequence(plan.seed, spawn_key=(_ITEM_STREAM, index)))
    if plan.case == "mixed":
        cases = ["upper", "lower"]
        if rng.random() >= plan.style.upper_probability:
            cases.reverse()
    else:
        cases = [plan.case]
    cases = [c for c in cases if (split, label, c) in plan.candidates]
    wanted = cases[0]
    writers = plan.candidates[(split, label, wanted)]
    letters = writers[int(rng.integers(len(writers)))]
    chosen = [plan.glyphs[letters[ch][int(rng.integers(len(letters[ch])))]] for ch in label.upper()]
    known = {glyph.case for glyph in chosen}
    numeral_case = wanted if known != {None} else None
    image, params = compose_numeral(chosen, rng, case=numeral_case, style=plan.style)
    data = encode_png(image)
    path = Path(plan.out_dir) / rel_path
    path.write_bytes(data)
    writer_names = sorted({glyph.writer for glyph in chosen if glyph.writer is not None})
    return {
        "index": index,
        "row": ManifestRow(
            path=rel_path,
            split=split,
            label=label,
            source=f"synth:{plan.source}",
            origin="+".join(glyph.origin for glyph in chosen),
            parent="",
            writer="+".join(writer_names),
            transform=json.dumps(params, sort_keys=True),
            sha256=sha256_bytes(data),
            width=image.shape[1],
            height=image.shape[0],
        ),
    }


# --------------------------------------------------------------------------- public API


class SynthRecipe(StrictModel):
    """``recipe.yaml`` of a synthesised variant: every resolved parameter, seed included."""

    version: int = FORMAT_VERSION
    kind: Literal["synth"] = "synth"
    source: str
    source_options: dict[str, Any] = Field(default_factory=dict)
    per_class: int
    val_fraction: float
    case: Literal["upper", "lower", "mixed"]
    seed: int
    style: dict[str, Any]
    glyphs: int
    writers: dict[str, int]
    images: dict[str, int]
    versions: dict[str, str]


@dataclass(frozen=True)
class SynthResult:
    """What :func:`synthesize` made."""

    out_dir: Path
    images: dict[str, int]
    writers: dict[str, int]
    glyphs: int
    seconds: float
    preview: Path | None = None
    recipe: SynthRecipe | None = field(default=None, repr=False)


def _versions() -> dict[str, str]:
    import PIL

    return {
        "datacur": __version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "pillow": PIL.__version__,
    }


def _collect_glyphs(source: Source, source_name: str) -> list[PreparedGlyph]:
    prepared: list[PreparedGlyph] = []
    blank = 0
    for glyph in source:
        ready = prepare_glyph(glyph)
        if ready is None:
            blank += 1
        else:
            prepared.append(ready)
    if blank:
        warnings.warn(
            f"{source_name}: skipped {blank} glyph image(s) with no visible ink.", stacklevel=3
        )
    if not prepared:
        raise SourceError(
            f"{source_name}: the source yielded no usable I, V or X glyphs. Check --path "
            "points at the source's data."
        )
    return prepared


def synthesize(
    source: str | Source,
    out_dir: Path,
    *,
    per_class: int,
    val_fraction: float = 0.2,
    case: str = "mixed",
    seed: int = 0,
    path: Path | None = None,
    source_options: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    workers: int | None = None,
    preview: bool = False,
    style: SynthStyle | None = None,
) -> SynthResult:
    """Synthesise ``per_class`` numerals of every class from a glyph source into a variant.

    Writers are split first (a fraction ``val_fraction`` of them to val, the rest to train),
    so no writer's glyphs are on both sides; glyphs whose writer is unknown count as their
    own writer. Of each class, ``round(per_class * val_fraction)`` images go to val.

    Args:
        source: a registered source name (``strokes``, ``emnist``, ``chars74k``, ``folder``)
            or a Source object.
        out_dir: the variant folder to create (built in ``<out_dir>.partial``, renamed at the
            end, so an interrupted run leaves nothing at ``out_dir``).
        per_class: images per class, train and val together.
        val_fraction: share of writers and of each class's images that go to val (0 to <1);
            0 leaves the val class folders empty (a train-only variant, e.g. to mix in).
        case: "upper", "lower" or "mixed" (each numeral draws its case).
        seed: same inputs and seed give a byte-identical variant, whatever ``workers`` is.
        path: the source's data, when ``source`` is a name.
        source_options: extra options for the source (e.g. ``{"split": "byclass"}``); the
            ``strokes`` source draws its writers from ``seed`` unless given its own.
        overwrite: replace an existing ``out_dir``.
        progress: ``progress(done, total)`` after each batch of images is written.
        workers: processes to render with (default: up to 2, the cores of this machine).
            More than one starts *spawned* processes, so a script calling this must guard
            its entry point with ``if __name__ == "__main__":`` (the CLI and pytest do).
        preview: also write ``preview.png``, a contact sheet, into the variant.
        style: the drawing distributions (default: the starter-data figures).

    Returns:
        A :class:`SynthResult`.

    Raises:
        SourceError: unknown source, unreadable data, too few writers or glyphs for a class.
        DatacurError: ``out_dir`` exists and ``overwrite`` is false, or bad arguments.

    Example:
        >>> synthesize("strokes", Path("datasets/synth-strokes"), per_class=500, seed=0)
    """
    started = time.perf_counter()
    if per_class < 1:
        raise SourceError(f"per_class must be >= 1 (received {per_class}). Ask for 1 or more.")
    if per_class * len(CLASSES) > MAX_IMAGES:  # before any glyph is read or item built
        raise SourceError(
            f"per_class {per_class:,} x {len(CLASSES)} classes is over the {MAX_IMAGES:,}-image "
            f"cap. Ask for at most {MAX_IMAGES // len(CLASSES):,} per class."
        )
    if not 0.0 <= val_fraction < 1.0:
        raise SourceError(
            f"val_fraction must be in [0, 1) (received {val_fraction}). For example 0.2."
        )
    if case not in CASE_CHOICES:
        raise SourceError(f"case must be one of {', '.join(CASE_CHOICES)} (received {case!r}).")
    check_output_dir(Path(out_dir), overwrite=overwrite)  # before any glyph is read
    options = dict(source_options or {})
    if source == "strokes":
        # The built-in writers are drawn from the same seed unless told otherwise, so the
        # seed alone names the whole variant (CLI and Python API alike).
        options.setdefault("seed", seed)
    if isinstance(source, str):
        source_name = source
        source = open_source(source, path, **options)
    else:
        source_name = source.name
    recorded_options = dict(getattr(source, "options", {}) or options)
    style = style or SynthStyle()

    glyphs = _collect_glyphs(source, source_name)
    if case != "mixed" and all(glyph.case is None for glyph in glyphs):
        warnings.warn(
            f"{source_name}: this source does not know letter case (it merges I/i, V/v, "
            f"X/x), so --case {case} cannot be honoured; the numerals mix both.",
            stacklevel=2,
        )
    keys = sorted({_writer_key(i, glyph) for i, glyph in enumerate(glyphs)})
    split_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_SPLIT_STREAM,)))
    split_of = _split_writers(keys, val_fraction, split_rng, source_name)
    candidates = _build_candidates(glyphs, split_of, case, source_name)

    n_val = round(per_class * val_fraction)
    counts = {"train": per_class - n_val, "val": n_val}
    totals = {split: counts[split] * len(CLASSES) for split in SPLITS}
    cases = ("upper", "lower") if case == "mixed" else (case,)
    for split in SPLITS:
        if counts[split] == 0:
            continue
        for label in CLASSES:
            if not any((split, label, c) in candidates for c in cases):
                raise SourceError(
                    f"{source_name}: no {split} writer has the letters of '{label}' in "
                    f"{' or '.join(cases)} case. Use --case mixed, a source with more writers, "
                    "or a different --val-fraction."
                )

    items: list[tuple[int, str, str, str]] = []
    for split in SPLITS:
        for label in CLASSES:
            for _number in range(counts[split]):
                index = len(items)
                items.append((index, split, label, f"{split}/{label}/{label}-{index:06d}.png"))

    writers_per_split = {
        split: sum(1 for key in keys if split_of[key] == split and not key.startswith("~"))
        for split in SPLITS
    }
    with atomic_output_dir(out_dir, overwrite=overwrite) as partial:
        for split in SPLITS:
            for label in CLASSES:
                (partial / split / label).mkdir(parents=True, exist_ok=True)
        plan = _Plan(glyphs, candidates, case, style, seed, source_name, str(partial))
        rows = _run(plan, items, workers, progress)
        write_manifest(partial, rows)
        recipe = SynthRecipe(
            source=source_name,
            source_options={
                k: (str(v) if isinstance(v, Path) else v) for k, v in recorded_options.items()
            },
            per_class=per_class,
            val_fraction=val_fraction,
            case=case,  # type: ignore[arg-type]
            seed=seed,
            style=json.loads(json.dumps(asdict(style))),
            glyphs=len(glyphs),
            writers=writers_per_split,
            images=totals,
            versions=_versions(),
        )
        dump_config(recipe, partial / "recipe.yaml")
        preview_path = None
        if preview:
            from datacur.preview import write_contact_sheet

            write_contact_sheet(partial, partial / "preview.png", seed=seed)
            preview_path = Path(out_dir) / "preview.png"
    return SynthResult(
        out_dir=Path(out_dir),
        images=totals,
        writers=writers_per_split,
        glyphs=len(glyphs),
        seconds=time.perf_counter() - started,
        preview=preview_path,
        recipe=recipe,
    )


def _run(
    plan: _Plan,
    items: list[tuple[int, str, str, str]],
    workers: int | None,
    progress: ProgressCallback | None,
) -> list[ManifestRow]:
    total = len(items)
    workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    chunks = [items[start : start + _CHUNK] for start in range(0, total, _CHUNK)]
    results: list[dict[str, Any]] = []
    if workers <= 1 or len(chunks) <= 1:
        for chunk in chunks:
            results.extend(_render_item(plan, *item) for item in chunk)
            if progress is not None:
                progress(len(results), total)
    else:
        # spawn, not fork: the caller may hold threads (a progress bar) or TensorFlow state.
        context = get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(plan,)
        ) as executor:
            futures: list[Future[list[dict[str, Any]]]] = [
                executor.submit(_render_items, chunk) for chunk in chunks
            ]
            try:
                for future in futures:
                    results.extend(future.result())
                    if progress is not None:
                        progress(len(results), total)
            except BaseException:
                # Ctrl-C or a failed chunk: drop queued chunks so that nothing writes into
                # the partial folder after it is removed.
                executor.shutdown(wait=True, cancel_futures=True)
                raise
    results.sort(key=lambda result: result["index"])
    return [result["row"] for result in results]
