"""``strokes``: a built-in generator of handwriting-like I, V and X from randomised pen strokes.

It needs no download, so ``datacur synth`` works on a fresh machine (the embedded default).
Each synthetic writer has a style (pen width, slant, wobble, proportions, serifs or not,
how the ``i`` dot is made) that every glyph of that writer shares, with small per-glyph
jitter on top, so "one writer per numeral" means the same thing as for real sources.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from datacur.errors import SourceError
from datacur.sources.base import CASES, LETTERS, Glyph, register_source

__all__ = [
    "DEFAULT_SAMPLES",
    "DEFAULT_WRITERS",
    "GLYPH_HEIGHT",
    "StrokesSource",
    "WriterStyle",
    "draw_glyph",
    "draw_writer_style",
]

GLYPH_HEIGHT = 96
"""Cap height in pixels at which glyphs are drawn (synth rescales them anyway)."""

DEFAULT_WRITERS = 240
"""Synthetic writers the source yields by default."""

DEFAULT_SAMPLES = 3
"""Glyphs per writer, letter and case by default."""

_SHIFT = 4  # cv2 sub-pixel drawing: coordinates are multiplied by 2**_SHIFT
_SERIF_STYLES = ("none", "short", "long")


@dataclass(frozen=True)
class WriterStyle:
    """The hand of one synthetic writer; every length is a fraction of the cap height."""

    width: float  # pen width
    slant: float  # shear: x moves by slant * height above the baseline
    wobble: float  # amplitude of the low-frequency tremor of a stroke
    bow: float  # largest sideways bend of a stroke
    serifs: str  # "none", "short" or "long" (upper case only)
    v_width: float
    x_width: float
    x_height: float  # height of lower-case v, x and the i stem
    dot: str  # how a lower-case i is dotted: "dot" or "dash"
    round_v: bool  # lower-case v drawn with a rounded bottom
    tail_i: bool  # lower-case i with a small exit stroke


def draw_writer_style(rng: np.random.Generator) -> WriterStyle:
    """Draw one writer's style from ``rng``."""
    return WriterStyle(
        width=float(rng.uniform(0.06, 0.15)),
        slant=float(np.clip(rng.normal(0.05, 0.12), -0.3, 0.4)),
        wobble=float(rng.uniform(0.003, 0.025)),
        bow=float(rng.uniform(0.0, 0.06)),
        serifs=str(rng.choice(_SERIF_STYLES, p=[0.45, 0.35, 0.2])),
        v_width=float(rng.uniform(0.5, 0.95)),
        x_width=float(rng.uniform(0.5, 0.95)),
        x_height=float(rng.uniform(0.5, 0.72)),
        dot=str(rng.choice(("dot", "dash"), p=[0.75, 0.25])),
        round_v=bool(rng.random() < 0.3),
        tail_i=bool(rng.random() < 0.25),
    )


def _stroke(
    rng: np.random.Generator,
    start: tuple[float, float],
    end: tuple[float, float],
    style: WriterStyle,
) -> np.ndarray:
    """Points of one wobbly, slightly bowed pen stroke from ``start`` to ``end`` (unit height)."""
    samples = 14
    t = np.linspace(0.0, 1.0, samples)
    p0, p1 = np.asarray(start, dtype=np.float64), np.asarray(end, dtype=np.float64)
    direction = p1 - p0
    length = max(float(np.hypot(*direction)), 1e-6)
    normal = np.array([-direction[1], direction[0]]) / length
    bow = rng.uniform(-style.bow, style.bow) * 4 * t * (1 - t)
    phases = rng.uniform(0, 2 * np.pi, size=2)
    tremor = style.wobble * (
        0.6 * np.sin(2 * np.pi * 1.3 * t + phases[0])
        + 0.4 * np.sin(2 * np.pi * 2.7 * t + phases[1])
    )
    return p0 + np.outer(t, direction) + np.outer(bow + tremor, normal)


def _letter_strokes(
    letter: str, case: str, style: WriterStyle, rng: np.random.Generator
) -> tuple[list[np.ndarray], list[tuple[float, float]]]:
    """Strokes (unit cap height, y down, baseline at y=1) and dots for one letter."""
    top = 0.0 if case == "upper" else 1.0 - style.x_height * rng.uniform(0.92, 1.08)
    half_v = style.v_width * rng.uniform(0.9, 1.1) * (1.0 if case == "upper" else 0.8) / 2
    half_x = style.x_width * rng.uniform(0.9, 1.1) * (1.0 if case == "upper" else 0.8) / 2
    serif = {"none": 0.0, "short": 0.14, "long": 0.26}[style.serifs] * rng.uniform(0.8, 1.2)
    strokes: list[np.ndarray] = []
    dots: list[tuple[float, float]] = []

    def bar(x: float, y: float, half: float) -> None:
        strokes.append(_stroke(rng, (x - half, y), (x + half, y + rng.normal(0, 0.01)), style))

    if letter == "I":
        strokes.append(_stroke(rng, (0.0, top), (rng.normal(0, 0.02), 1.0), style))
        if case == "upper" and serif > 0:
            bar(0.0, top, serif * 1.3)
            bar(0.0, 1.0, serif * 1.3)
        if case == "lower":
            dot_y = top - rng.uniform(0.18, 0.3)
            if style.dot == "dot":
                dots.append((rng.normal(0.02, 0.03), dot_y))
            else:
                strokes.append(_stroke(rng, (-0.05, dot_y + 0.03), (0.07, dot_y - 0.04), style))
            if style.tail_i:
                strokes.append(_stroke(rng, (0.0, 1.0), (0.12, 0.93), style))
    elif letter == "V":
        bottom_x = rng.normal(0, 0.03)
        if case == "lower" and style.round_v:
            left = _stroke(rng, (-half_v, top), (bottom_x - 0.06, 0.9), style)
            curve = np.array([[bottom_x - 0.03, 0.98], [bottom_x + 0.03, 0.98]])
            right = _stroke(rng, (bottom_x + 0.06, 0.9), (half_v, top), style)
            strokes.append(np.vstack([left, curve, right]))
        else:
            left = _stroke(rng, (-half_v, top), (bottom_x, 1.0), style)
            right = _stroke(rng, (bottom_x, 1.0), (half_v, top + rng.normal(0, 0.03)), style)
            strokes.append(np.vstack([left, right[1:]]))
        if case == "upper" and serif > 0:
            bar(-half_v, top, serif)
            bar(half_v, top, serif)
    else:  # X
        strokes.append(_stroke(rng, (-half_x, top), (half_x, 1.0), style))
        strokes.append(_stroke(rng, (half_x, top + rng.normal(0, 0.03)), (-half_x, 1.0), style))
        if case == "upper" and serif > 0:
            for x in (-half_x, half_x):
                bar(x, top, serif)
                bar(x, 1.0, serif)
    return strokes, dots


def draw_glyph(
    letter: str,
    case: str,
    style: WriterStyle,
    rng: np.random.Generator,
    *,
    height: int = GLYPH_HEIGHT,
) -> np.ndarray:
    """Render one letter as a uint8 (H, W) image, black ink on white, cropped to the ink.

    Args:
        letter: "I", "V" or "X".
        case: "upper" or "lower".
        style: the writer's hand.
        rng: per-glyph jitter.
        height: cap height in pixels.

    Example:
        >>> image = draw_glyph("V", "upper", draw_writer_style(rng), rng)
    """
    if letter not in LETTERS or case not in CASES:
        raise ValueError(f"expected a letter in {LETTERS} and a case in {CASES}")
    strokes, dots = _letter_strokes(letter, case, style, rng)
    slant = style.slant + rng.normal(0, 0.03)
    pad = 0.6
    side = int(height * (1 + 2 * pad) + 1)
    canvas = np.zeros((side, side), dtype=np.uint8)
    width_px = max(1, round(style.width * rng.uniform(0.9, 1.1) * height))

    def to_pixels(points: np.ndarray) -> np.ndarray:
        x = points[:, 0] + slant * (1.0 - points[:, 1])
        y = points[:, 1]
        scaled = np.stack([(x + pad + 0.5) * height, (y + pad) * height], axis=1)
        return np.round(scaled * (1 << _SHIFT)).astype(np.int32)

    for points in strokes:
        cv2.polylines(canvas, [to_pixels(points)], False, 255, width_px, cv2.LINE_AA, _SHIFT)
    for x, y in dots:
        centre = to_pixels(np.array([[x, y]]))[0]
        radius = max(1, round(width_px * rng.uniform(0.55, 0.9))) << _SHIFT
        cv2.circle(canvas, (int(centre[0]), int(centre[1])), radius, 255, -1, cv2.LINE_AA, _SHIFT)
    rows = np.flatnonzero(canvas.max(axis=1) > 0)
    cols = np.flatnonzero(canvas.max(axis=0) > 0)
    ink = canvas[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return (255 - ink).astype(np.uint8)


class StrokesSource:
    """Glyphs of ``writers`` synthetic writers: every letter I, V, X in both cases.

    Args:
        writers: how many synthetic hands.
        samples: glyphs per writer, letter and case.
        seed: the same seed gives the same glyphs.
        height: cap height of the rendered glyphs in pixels.
    """

    name = "strokes"

    def __init__(
        self,
        *,
        writers: int = DEFAULT_WRITERS,
        samples: int = DEFAULT_SAMPLES,
        seed: int = 0,
        height: int = GLYPH_HEIGHT,
    ) -> None:
        if writers < 1 or samples < 1 or height < 8:
            raise SourceError(
                f"strokes: writers and samples must be >= 1 and height >= 8 (received "
                f"writers={writers}, samples={samples}, height={height})."
            )
        self.writers = writers
        self.samples = samples
        self.seed = seed
        self.height = height
        self.options: dict[str, Any] = {
            "writers": writers,
            "samples": samples,
            "seed": seed,
            "height": height,
        }

    def __iter__(self) -> Iterator[Glyph]:
        # One child stream per writer, so asking for more writers keeps the first ones.
        children = np.random.SeedSequence(self.seed).spawn(self.writers)
        for index, child in enumerate(children):
            rng = np.random.default_rng(child)
            style = draw_writer_style(rng)
            writer = f"w{index:04d}"
            for case in CASES:
                for letter in LETTERS:
                    for sample in range(self.samples):
                        yield Glyph(
                            image=draw_glyph(letter, case, style, rng, height=self.height),
                            letter=letter,
                            case=case,
                            writer=writer,
                            origin=f"strokes:{self.seed}:{writer}:{letter}:{case}:{sample}",
                        )

    def __len__(self) -> int:
        return self.writers * self.samples * len(CASES) * len(LETTERS)


def _open(path: Path | None = None, **options: Any) -> StrokesSource:
    if path is not None:
        raise SourceError(
            f"strokes: takes no --path (received {path}); it draws its glyphs itself."
        )
    allowed = {"writers", "samples", "seed", "height"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise SourceError(
            f"strokes: unknown option(s) {', '.join(unknown)}; "
            f"expected {', '.join(sorted(allowed))}."
        )
    return StrokesSource(**options)


def register() -> None:
    """Add ``strokes`` to the source registry."""
    register_source(
        "strokes",
        _open,
        description="built-in pen-stroke generator of I, V, X in both cases (no download)",
        needs_path=False,
    )
