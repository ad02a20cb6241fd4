"""The shift suite: test sets that look past the starter distribution (issue 20).

``shift-chars74k-writers`` composes numerals from Chars74K writers no recipe may use; the
other ``shift-*`` folders render every ``datasets/dev-test`` image through one shift each
(scale and position, framing, stroke width, blur and noise, contrast), with parameters
outside every range that ``recipes/augment/*.yaml`` draws from. Pure array-in/array-out
shift functions first, then the writer that builds the folders.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from datacur.errors import DatacurError
from datacur.inkops import DEFAULT_INK_THRESHOLD, find_ink_box
from datacur.io import (
    atomic_output_dir,
    atomic_write_text,
    encode_png,
    read_image_gray,
    sha256_bytes,
)
from datacur.labels import CLASSES
from datacur.synth import measure_stroke
from datacur.variant import ManifestRow, list_folder_images, read_manifest, write_manifest

__all__ = [
    "DEFAULT_SHIFT_SEED",
    "SHIFTS",
    "SUITE_NAMES",
    "WRITERS_NAME",
    "WRITERS_PER_CLASS",
    "ShiftSpec",
    "ShiftSuiteSummary",
    "apply_shift",
    "build_shift_suite",
    "ink_extent",
    "measure_contrast",
    "measure_stroke_width",
]

DEFAULT_SHIFT_SEED = 20
"""The suite's seed (issue 20): each image draws from a stream keyed on it and its name."""

WRITERS_NAME = "shift-chars74k-writers"
WRITERS_PER_CLASS = 40

_PNG_LEVEL = 9  # the suite is committed: smallest files (PIL's output is still deterministic)
_MIN_EXTENT = 0.20  # a scaled-down numeral keeps at least this much of the frame (6 of 32 px)


# --------------------------------------------------------------------------- measurements


def _paper_level(image: np.ndarray) -> int:
    """The paper's grey level: the image's 90th percentile (most of a page is paper)."""
    return int(np.percentile(image, 90))


def measure_stroke_width(image: np.ndarray, *, threshold: int = DEFAULT_INK_THRESHOLD) -> float:
    """Stroke width in pixels of a (H, W) uint8 image: twice the median distance from the
    ink's ridge to the paper (the measure :mod:`datacur.synth` uses); 0.0 without ink."""
    return measure_stroke(np.asarray(image) < threshold)


def ink_extent(image: np.ndarray, *, threshold: int = DEFAULT_INK_THRESHOLD) -> float:
    """How much of the frame the ink spans: max(ink box height / H, ink box width / W).

    Returns 0.0 for an image without ink.
    """
    box = find_ink_box(image, threshold=threshold, min_count=2)
    if box is None:
        return 0.0
    top, bottom, left, right = box
    return max((bottom - top) / image.shape[0], (right - left) / image.shape[1])


def measure_contrast(image: np.ndarray) -> float:
    """Paper level minus ink level: the 95th minus the 1st percentile of the grey levels."""
    return float(np.percentile(image, 95) - np.percentile(image, 1))


# --------------------------------------------------------------------------- shifts (pure)

ShiftFunction = Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, dict[str, Any]]]


def _ink_crop(image: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    box = find_ink_box(image, min_count=2)
    if box is None:
        return None
    top, bottom, left, right = box
    return image[top:bottom, left:right], box


def _paste(canvas: np.ndarray, piece: np.ndarray, top: int, left: int) -> None:
    """Lay ``piece`` on ``canvas`` at (top, left); the darker pixel wins (ink over paper)."""
    height, width = piece.shape
    region = canvas[top : top + height, left : left + width]
    np.minimum(region, piece, out=region)


def _resize_ink(ink: np.ndarray, scale: float) -> np.ndarray:
    height = max(1, round(ink.shape[0] * scale))
    width = max(1, round(ink.shape[1] * scale))
    return cv2.resize(ink, (width, height), interpolation=cv2.INTER_AREA)


def shift_small(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """The numeral scaled down and moved into a corner of the frame.

    The ink box is scaled to span 0.30-0.40 of the frame, but by 0.6 of its size at most
    (below every recipe's scale range) and never under 0.20 of the frame (about 6 of the
    fixed model's 32 pixels). The frame keeps its size; the numeral sits 3-10 % of the frame
    from the two edges of a random corner (a centre offset of about 0.25-0.35).
    """
    found = _ink_crop(image)
    if found is None:
        return image.copy(), {"shift": "small", "skipped": "no ink"}
    ink, _ = found
    height, width = image.shape
    extent = max(ink.shape[0] / height, ink.shape[1] / width)
    target = float(rng.uniform(0.30, 0.40))
    scale = max(min(0.6, target / extent), min(1.0, _MIN_EXTENT / extent))
    small = _resize_ink(ink, scale)
    corner = int(rng.integers(4))
    margin_y, margin_x = (float(v) for v in rng.uniform(0.03, 0.10, size=2))
    top = (
        round(margin_y * height)
        if corner in (0, 1)
        else height - small.shape[0] - round(margin_y * height)
    )
    left = (
        round(margin_x * width)
        if corner in (0, 2)
        else width - small.shape[1] - round(margin_x * width)
    )
    top = int(np.clip(top, 0, height - small.shape[0]))
    left = int(np.clip(left, 0, width - small.shape[1]))
    canvas = np.full_like(image, _paper_level(image))
    _paste(canvas, small, top, left)
    corners = ("top-left", "top-right", "bottom-left", "bottom-right")
    return canvas, {
        "shift": "small",
        "scale": round(scale, 4),
        "corner": corners[corner],
        "top": top,
        "left": left,
    }


def shift_tight(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Cropped to the ink box with no margin and no padding: the numeral fills the frame."""
    found = _ink_crop(image)
    if found is None:
        return image.copy(), {"shift": "tight", "skipped": "no ink"}
    ink, box = found
    return ink.copy(), {"shift": "tight", "box": list(box)}


def shift_loose(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Wide margins: the numeral shrunk to span 0.25-0.32 of the frame, centred (+-3 %).

    Same frame size; an image whose ink already spans less keeps its ink size.
    """
    found = _ink_crop(image)
    if found is None:
        return image.copy(), {"shift": "loose", "skipped": "no ink"}
    ink, _ = found
    height, width = image.shape
    extent = max(ink.shape[0] / height, ink.shape[1] / width)
    target = float(rng.uniform(0.25, 0.32))
    scale = min(1.0, target / extent)
    small = _resize_ink(ink, scale)
    jitter_y, jitter_x = (float(v) for v in rng.uniform(-0.03, 0.03, size=2))
    top = int(
        np.clip(
            round((height - small.shape[0]) / 2 + jitter_y * height), 0, height - small.shape[0]
        )
    )
    left = int(
        np.clip(round((width - small.shape[1]) / 2 + jitter_x * width), 0, width - small.shape[1])
    )
    canvas = np.full_like(image, _paper_level(image))
    _paste(canvas, small, top, left)
    return canvas, {"shift": "loose", "target_extent": round(target, 4), "scale": round(scale, 4)}


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def shift_thick(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Strokes thickened by 0.7-1.0 of their own width (a grey-level erosion of the paper
    with a disc of at least 5 px; the augment pipelines' kernels stop at 3-4 px)."""
    stroke = measure_stroke_width(image)
    factor = float(rng.uniform(0.7, 1.0))
    radius = max(2, round(factor * stroke / 2))
    result = cv2.erode(image, _disc(radius), borderType=cv2.BORDER_REPLICATE)
    return result, {
        "shift": "thick",
        "stroke": round(stroke, 2),
        "factor": round(factor, 4),
        "kernel": 2 * radius + 1,
    }


def shift_thin(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Strokes thinned to about 0.35-0.5 of their width (grey-level dilation of the paper
    with a disc of at least 5 px; the augment pipelines' thinning kernels stop at 3 px).

    Where that would erase most of the numeral (thin strokes), the disc shrinks until at
    least 35 % of the ink survives; ``kernel`` in the manifest says what was used.
    """
    stroke = measure_stroke_width(image)
    keep = float(rng.uniform(0.35, 0.5))
    radius = max(2, round((1.0 - keep) * stroke / 2))
    ink_before = int((image < DEFAULT_INK_THRESHOLD).sum())
    result = image.copy()
    while radius >= 1:
        result = cv2.dilate(image, _disc(radius), borderType=cv2.BORDER_REPLICATE)
        if int((result < DEFAULT_INK_THRESHOLD).sum()) >= 0.35 * ink_before:
            break
        radius -= 1
    else:
        result = image.copy()
        radius = 0
    return result, {
        "shift": "thin",
        "stroke": round(stroke, 2),
        "keep": round(keep, 4),
        "kernel": 2 * radius + 1 if radius else 0,
    }


def shift_blur_noise(
    image: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, Any]]:
    """Out-of-focus, grainy scan: Gaussian blur with sigma 1.2-2.0 % of the image height
    (about 3-5 px; the augment pipelines stop at 1.2 px), then Gaussian noise of std
    0.10-0.14 of full scale (augment's GaussNoise stops at 0.08) in grains of 1/32 of the
    image's height and width: one grain per pixel of the 32x32 input the fixed model sees
    (its resize samples 2x2 pixels per input pixel, so finer noise would mostly average out
    there, and it would not compress: the suite is committed)."""
    height, width = image.shape
    sigma = float(rng.uniform(0.012, 0.020)) * height
    blurred = cv2.GaussianBlur(image.astype(np.float32), (0, 0), sigmaX=sigma, sigmaY=sigma)
    std = float(rng.uniform(0.10, 0.14))
    grain_y, grain_x = max(2, round(height / 32)), max(2, round(width / 32))
    grains = rng.normal(0.0, std * 255.0, size=(-(-height // grain_y), -(-width // grain_x)))
    noise = np.repeat(np.repeat(grains, grain_y, axis=0), grain_x, axis=1)[:height, :width]
    result = np.clip(np.round(blurred + noise), 0, 255).astype(np.uint8)
    return result, {"shift": "blur-noise", "sigma": round(sigma, 3), "noise_std": round(std, 4)}


def shift_low_contrast(
    image: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, dict[str, Any]]:
    """Grey ink on grey paper: black mapped to 110-140 and white to 180-210 (contrast under
    100 levels; no augment pipeline changes contrast or brightness)."""
    ink = float(rng.uniform(110, 140))
    paper = float(rng.uniform(180, 210))
    result = np.round(ink + image.astype(np.float32) * ((paper - ink) / 255.0))
    return result.astype(np.uint8), {
        "shift": "low-contrast",
        "ink": round(ink, 1),
        "paper": round(paper, 1),
    }


@dataclass(frozen=True)
class ShiftSpec:
    """One shift of the dev-test: its folder, function and how it compares to the recipes."""

    name: str
    function: ShiftFunction
    what: str
    versus_recipes: str


SHIFTS: dict[str, ShiftSpec] = {
    spec.name: spec
    for spec in (
        ShiftSpec(
            "shift-small",
            shift_small,
            "the numeral (its ink box) scaled (INTER_AREA) to span 0.30-0.40 of the frame, by "
            "0.6 of its size at most and to no less than 0.20 of the frame, and laid into a "
            "random corner of the unchanged frame, 3-10 % of the frame from its two edges, on "
            "flat paper of the image's own paper level",
            "recipes scale by 0.85-1.1 (geometry), 0.88-1.08 (mixed, flip-mixed), 0.9-1.05 "
            "(flip), at most 0.6-1.08 (flip-zoom, used only by the best-zoom trial); they "
            "translate by at most +-5 % (geometry) or +-12 % (flip-zoom); flip-wide and "
            "flip-wide-tone (best's wide copies, issue 20) scale by 0.7-1.12 and translate "
            "by +-8 %. Here: 0.6 or less (more only where the 0.20 floor lifts an already "
            "small numeral) and a centre offset of about 25-35 % of the frame",
        ),
        ShiftSpec(
            "shift-tight",
            shift_tight,
            "cropped to the ink box (pixels darker than 128 in rows and columns with at "
            "least 2 of them) with no margin and no padding: the numeral fills the frame and "
            "the 32x32 resize stretches it to a square",
            "the crop-pad pipeline and the crop_and_pad step (clean, combined) keep an 8 px "
            "margin and pad to a square; flip-wide and flip-wide-tone (best's wide copies) crop "
            "a quarter of their copies with a 6 px margin, then rescale them by 0.7-1.12; the "
            "other recipes never crop; scale tops out at 1.12. Here: margin 0, not "
            "squared, not rescaled",
        ),
        ShiftSpec(
            "shift-loose",
            shift_loose,
            "the numeral shrunk (INTER_AREA) so that its ink box spans 0.25-0.32 of the "
            "frame in its larger relative dimension, centred (+-3 %) in the unchanged frame "
            "on flat paper; an ink box already smaller is left at its size",
            "the starter's ink spans 0.31-0.97 of the frame (5th-95th percentile); recipes "
            "scale by 0.85-1.1 (0.6 at the least, flip-zoom; 0.7, flip-wide), so the "
            "smallest training numeral spans about 0.19-0.27 of its frame only where it was "
            "already among the smallest. Here: 0.25-0.32 of the frame for every image, centred",
        ),
        ShiftSpec(
            "shift-thin",
            shift_thin,
            "strokes thinned to about 0.35-0.5 of their measured width: grey-level dilation "
            "of the paper with a disc of 2r+1 px, r = max(2, (1 - keep) x stroke / 2); r "
            "shrinks while less than 35 % of the ink would survive",
            "augment thins with Morphological dilation, kernel 2-3 px (ink, mixed, "
            "flip-mixed, flip-zoom) or 2-5 px (flip-wide, flip-wide-tone); here the disc is "
            "at least 5 px (unless the stroke is too thin to survive it) and scales with the "
            "stroke",
        ),
        ShiftSpec(
            "shift-thick",
            shift_thick,
            "strokes thickened by 0.7-1.0 of their measured width: grey-level erosion of "
            "the paper with a disc of 2r+1 px, r = max(2, factor x stroke / 2)",
            "augment thickens with Morphological erosion, kernel 2-3 px (mixed, flip-mixed, "
            "flip-zoom), 2-4 px (ink) or 2-6 px (flip-wide, flip-wide-tone); here the disc "
            "is at least 5 px and scales with the stroke (11 px for the median 10 px stroke)",
        ),
        ShiftSpec(
            "shift-blur-noise",
            shift_blur_noise,
            "Gaussian blur, sigma 1.2-2.0 % of the image height (about 3-5 px), then "
            "Gaussian noise of std 0.10-0.14 of full scale in grains of 1/32 of the image's "
            "height and width (one grain per pixel of the fixed model's 32x32 input)",
            "augment blurs with kernels of 3-5 px and sigma 0.3-1.0 (mixed) or 0.3-1.2 "
            "(ink), 3-7 px and 0.3-1.5 (flip-wide, flip-wide-tone), and adds GaussNoise of "
            "std 0.02-0.06 (mixed) or 0.02-0.08 (paper, flip-wide, flip-wide-tone) per "
            "pixel (about half that std survives the 32x32 resize); here sigma is 3-5 px and "
            "the noise std 0.10-0.14, all of it seen by the model",
        ),
        ShiftSpec(
            "shift-low-contrast",
            shift_low_contrast,
            "grey levels mapped linearly: black to 110-140, white to 180-210 (grey ink on "
            "grey paper, contrast 40-100 levels instead of about 255)",
            "only flip-wide-tone (best's wide copies) changes brightness and contrast: black "
            "lifted to at most 102 (0.4 of full scale) with contrast scaled by 0.4-1.0, or "
            "gamma 0.5-1.7; the other recipes add grey only as ruled lines and grids (value "
            "110-210) under black ink on white. Here: black at 110-140, beyond any recipe's",
        ),
    )
}
"""The dev-test shifts by folder name, in the suite's order."""

SUITE_NAMES: tuple[str, ...] = (WRITERS_NAME, *SHIFTS)
"""Every folder :func:`build_shift_suite` writes, in order."""


def _image_rng(seed: int, name: str, rel: str) -> np.random.Generator:
    """The stream of one image of one shift: keyed on the seed, the shift and the file name,
    so adding a shift or an image never changes another image."""
    key = int.from_bytes(hashlib.sha256(f"{name}:{rel}".encode()).digest()[:8], "big")
    return np.random.default_rng(np.random.SeedSequence([seed, key]))


def apply_shift(
    image: np.ndarray, name: str, *, seed: int = DEFAULT_SHIFT_SEED, key: str = ""
) -> tuple[np.ndarray, dict[str, Any]]:
    """Apply the shift ``name`` (e.g. ``shift-small``) to one uint8 (H, W) image.

    Args:
        image: uint8 array of shape (H, W), black ink on white.
        name: a key of :data:`SHIFTS`.
        seed: the suite seed.
        key: the image's name (``<class>/<file>.png``); with ``seed`` it fixes the draw.

    Returns:
        ``(shifted, params)``: a uint8 (H', W') image and the parameters drawn.

    Raises:
        DatacurError: unknown shift name.

    Example:
        >>> shifted, params = apply_shift(image, "shift-thick", key="i/a.png")  # doctest: +SKIP
    """
    if name not in SHIFTS:
        raise DatacurError(f"unknown shift {name!r}. Choose one of: {', '.join(SHIFTS)}.")
    return SHIFTS[name].function(image, _image_rng(seed, name, key))


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class ShiftSuiteSummary:
    """What :func:`build_shift_suite` wrote: images per class of each folder."""

    out_dir: Path
    per_folder: dict[str, dict[str, int]]
    bytes_per_folder: dict[str, int]

    @property
    def images(self) -> int:
        """Images in all folders."""
        return sum(sum(counts.values()) for counts in self.per_folder.values())


_COMMON = """
Layout: `<class>/*.png` (grayscale PNGs, the competition's test layout), usable as
`datacur evaluate VARIANT --test datasets/{name}`. `manifest.csv` has one row per image:
`origin` (where the pixels first came from), `parent`, `transform` (the JSON parameters drawn
for it), `seed`, `sha256`. Rebuild this folder byte for byte (same library versions) with

```bash
{command}
```

or from Python: `datacur.shift.build_shift_suite({call})`.
{seeding} Part of the shift suite of issue 20 (`datasets/README.md`): `compare` averages
every test set named `shift-*` into the shift mean. Do not train or tune on it.
"""

_SHIFT_SEEDING = """Every image draws its parameters from
`numpy.random.default_rng(SeedSequence([seed, key]))`, key the first 8 bytes of SHA-256 of
`"<folder>:<class>/<file>.png"`, so adding an image or a shift never changes another."""

_WRITERS_SEEDING = """Numeral k draws its writer, case, glyphs and style from its own stream,
`SeedSequence(seed, spawn_key=(1, k))` (`datacur.synth`), whatever the worker count."""

_SHIFT_README = """# {name}: dev-test, {short}

{images} images: every image of `datasets/dev-test` (same class folders and file names),
rendered through one shift, with seed {seed}:

- **what**: {what}.
- **vs the recipes' augmentation** (`recipes/augment/*.yaml`): {versus}.

Per class: {table}
{extra}
The dev-test and its twins are excluded from every shipped recipe (`exclude:`), so no
shipped recipe trains on the parents of these images either.
"""

_WRITERS_README = """# {name}: real handwriting from held-out Chars74K writers

{images} numerals ({per_class} per class) composed by `datacur.synth.synthesize` (the same
glyph preparation, stroke normalisation, spacing, scale, slant and framing as `datacur
synth`, the starter-data style defaults, case mixed, seed {seed}) from the Chars74K EnglishHnd
letters I, V, X, i, v, x (`../shared/data/chars74k`, 55 writers) of **{writers} held-out
writers only**:

{writer_list}

They are `datacur.sources.chars74k.HELD_OUT_WRITERS`, drawn once with
`draw_held_out_writers(seed={held_seed}, count={held_count})` (numpy `default_rng(20).choice`
of 1..55 without replacement; a test keeps the constant equal to the draw). The chars74k
source never yields these writers unless asked (`writers="held-out"`, which builds this
folder, or `"all"`), and a recipe may not ask: `options.writers` other than `train` on a
chars74k synth input fails when the recipe is loaded. So every recipe that uses Chars74K
(`recipes/combined.yaml`) draws only from the other 40 writers.

Each numeral takes one writer and one case where that writer has the letters; `writer` in
the manifest names it, `origin` the Chars74K files of its letters.

Per class: {table}
"""


def _table(counts: dict[str, int]) -> str:
    return ", ".join(f"{label} {counts.get(label, 0)}" for label in CLASSES)


def _command(name: str, seed: int, chars74k: bool) -> str:
    seed_arg = f" --seed {seed}" if seed != DEFAULT_SHIFT_SEED else ""
    source = " --chars74k ../shared/data/chars74k" if chars74k else ""
    return f"datacur shift-suite --out datasets --only {name}{source}{seed_arg} --force"


def _call(name: str, seed: int, chars74k: bool) -> str:
    source = ', chars74k=Path("../shared/data/chars74k")' if chars74k else ""
    return (
        f'Path("datasets/dev-test"), Path("datasets"), only=["{name}"]{source}, '
        f"seed={seed}, overwrite=True"
    )


def _write_shift(
    name: str,
    images: list[tuple[str, str, Path]],
    origins: dict[str, str],
    target: Path,
    seed: int,
    overwrite: bool,
) -> tuple[dict[str, int], int]:
    spec = SHIFTS[name]
    counts: Counter[str] = Counter()
    size = 0
    skipped: Counter[str] = Counter()
    kernels_small = 0
    with atomic_output_dir(target, overwrite=overwrite) as partial:
        rows: list[dict[str, Any]] = []
        for rel, label, file in images:
            shifted, params = apply_shift(read_image_gray(file), name, seed=seed, key=rel)
            if "skipped" in params:
                skipped[params["skipped"]] += 1
            if name == "shift-thin" and params.get("kernel", 0) < 5:
                kernels_small += 1
            data = encode_png(shifted, compress_level=_PNG_LEVEL)
            out = partial / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
            size += len(data)
            counts[label] += 1
            row = ManifestRow(
                path=rel,
                split="test",
                label=label,
                source="dev-test",
                origin=origins.get(rel, f"dev-test/{rel}"),
                parent=f"dev-test/{rel}",
                writer="",
                transform=json.dumps(params, sort_keys=True),
                sha256=sha256_bytes(data),
                width=shifted.shape[1],
                height=shifted.shape[0],
            )
            rows.append({**asdict(row), "seed": str(seed)})
        write_manifest(partial, rows, extra_columns=("seed",))
        extra = ""
        if skipped:
            extra += f"\nLeft unchanged (no ink found): {sum(skipped.values())} image(s).\n"
        if name == "shift-thin":
            extra += (
                f"\n{kernels_small} image(s) had strokes too thin for a 5 px disc and were "
                "thinned with a smaller one (see `kernel` in `transform`).\n"
            )
        readme = _SHIFT_README.format(
            name=name,
            short=name.removeprefix("shift-").replace("-", " "),
            images=sum(counts.values()),
            seed=seed,
            what=spec.what,
            versus=spec.versus_recipes,
            table=_table(counts),
            extra=extra,
        ) + _COMMON.format(
            name=name,
            command=_command(name, seed, False),
            call=_call(name, seed, False),
            seeding=_SHIFT_SEEDING,
        )
        atomic_write_text(partial / "README.md", readme)
    return dict(counts), size


def _write_writers(
    chars74k: Path,
    target: Path,
    *,
    seed: int,
    per_class: int,
    overwrite: bool,
    workers: int | None,
) -> tuple[dict[str, int], int]:
    from datacur.sources.chars74k import (
        HELD_OUT_COUNT,
        HELD_OUT_SEED,
        HELD_OUT_WRITERS,
        Chars74kSource,
    )
    from datacur.synth import synthesize

    source = Chars74kSource(chars74k, writers="held-out")
    counts: Counter[str] = Counter()
    size = 0
    with atomic_output_dir(target, overwrite=overwrite) as partial:
        staging = partial / ".synth"
        synthesize(
            source,
            staging,
            per_class=per_class,
            val_fraction=0.0,
            case="mixed",
            seed=seed,
            workers=workers,
        )
        rows: list[dict[str, Any]] = []
        for row in read_manifest(staging):
            rel = row["path"].split("/", 1)[1]  # train/<class>/<file> -> <class>/<file>
            out = partial / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            (staging / row["path"]).replace(out)
            size += out.stat().st_size
            counts[row["label"]] += 1
            rows.append({**row, "path": rel, "split": "test", "seed": str(seed)})
        shutil.rmtree(staging)
        write_manifest(partial, rows, extra_columns=("seed",))
        writers = sorted(HELD_OUT_WRITERS)
        used = sorted({w for row in rows for w in row["writer"].split("+") if w})
        readme = _WRITERS_README.format(
            name=WRITERS_NAME,
            images=sum(counts.values()),
            per_class=per_class,
            seed=seed,
            writers=len(writers),
            writer_list=", ".join(f"`{w}`" for w in writers)
            + f" ({len(used)} of them appear in the drawn numerals).",
            held_seed=HELD_OUT_SEED,
            held_count=HELD_OUT_COUNT,
            table=_table(counts),
        ) + _COMMON.format(
            name=WRITERS_NAME,
            command=_command(WRITERS_NAME, seed, True),
            call=_call(WRITERS_NAME, seed, True),
            seeding=_WRITERS_SEEDING,
        )
        atomic_write_text(partial / "README.md", readme)
    return dict(counts), size


def build_shift_suite(
    dev_test: Path,
    out_dir: Path,
    *,
    chars74k: Path | None = None,
    only: Sequence[str] | None = None,
    seed: int = DEFAULT_SHIFT_SEED,
    per_class: int = WRITERS_PER_CLASS,
    overwrite: bool = False,
    workers: int | None = None,
) -> ShiftSuiteSummary:
    """Write the shift suite's folders (``shift-*``) into ``out_dir``.

    Each folder is built in ``<folder>.partial`` and renamed into place when complete; every
    target is checked before anything is written, so a refused run writes nothing.

    Args:
        dev_test: the dev-test folder (``<class>/*.png``, with its ``manifest.csv``).
        out_dir: where the folders go (``datasets``).
        chars74k: the Chars74K EnglishHnd data, needed for ``shift-chars74k-writers``.
        only: folder names to build (default: all of :data:`SUITE_NAMES`).
        seed: fixes every draw; same inputs and seed give byte-identical folders.
        per_class: numerals per class in ``shift-chars74k-writers``.
        overwrite: replace existing folders.
        workers: processes for the Chars74K synth (default: up to 2).

    Returns:
        A :class:`ShiftSuiteSummary`.

    Raises:
        DatacurError: unknown folder name, a folder exists without ``overwrite``, the
            dev-test is missing, or Chars74K is needed and not given or not found.

    Example:
        >>> build_shift_suite(Path("datasets/dev-test"), Path("datasets"),
        ...                   chars74k=Path("../shared/data/chars74k"))  # doctest: +SKIP
    """
    names = list(SUITE_NAMES if only is None else dict.fromkeys(only))
    unknown = [name for name in names if name not in SUITE_NAMES]
    if unknown:
        raise DatacurError(
            f"unknown shift-suite folder(s) {', '.join(unknown)}. Choose from: "
            f"{', '.join(SUITE_NAMES)}."
        )
    out_dir = Path(out_dir)
    if not overwrite:
        existing = [name for name in names if (out_dir / name).exists()]
        if existing:
            raise DatacurError(
                f"{out_dir / existing[0]}: already exists. Pass --force (overwrite=True) to "
                "replace it, or --only the folders you want."
            )
    if WRITERS_NAME in names and (chars74k is None or not Path(chars74k).exists()):
        raise DatacurError(
            f"{WRITERS_NAME} needs the Chars74K EnglishHnd data ({chars74k or 'not given'}). "
            "Pass --chars74k ../shared/data/chars74k, or leave the folder out with --only."
        )
    per_folder: dict[str, dict[str, int]] = {}
    sizes: dict[str, int] = {}
    shift_names = [name for name in names if name in SHIFTS]
    if shift_names:
        images = [
            (f"{image.label}/{image.path.name}", image.label, image.path)
            for image in list_folder_images(Path(dev_test))
        ]
        origins: dict[str, str] = {}
        if (Path(dev_test) / "manifest.csv").is_file():
            origins = {row["path"]: row["origin"] for row in read_manifest(Path(dev_test))}
        for name in shift_names:
            per_folder[name], sizes[name] = _write_shift(
                name, images, origins, out_dir / name, seed, overwrite
            )
    if WRITERS_NAME in names:
        assert chars74k is not None
        per_folder[WRITERS_NAME], sizes[WRITERS_NAME] = _write_writers(
            Path(chars74k),
            out_dir / WRITERS_NAME,
            seed=seed,
            per_class=per_class,
            overwrite=overwrite,
            workers=workers,
        )
    ordered = [name for name in SUITE_NAMES if name in per_folder]
    return ShiftSuiteSummary(
        out_dir=out_dir,
        per_folder={name: per_folder[name] for name in ordered},
        bytes_per_folder={name: sizes[name] for name in ordered},
    )
