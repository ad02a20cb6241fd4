"""How long ``datacur synth`` takes to write 10,000 images (the issue asks for under 2 minutes).

Run: ``.venv/bin/python benchmarks/synth_speed.py [--per-class 1000] [--workers 2]``.
Prints the wall time split into glyph preparation and rendering, and images per second.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from datacur.synth import synthesize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", default="strokes")
    parser.add_argument("--path", type=Path, default=None)
    parser.add_argument("--per-class", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="synth-speed-"))
    marks: list[tuple[float, int]] = []
    try:
        started = time.perf_counter()
        result = synthesize(
            args.source,
            scratch / "variant",
            path=args.path,
            per_class=args.per_class,
            seed=args.seed,
            workers=args.workers,
            progress=lambda done, total: marks.append((time.perf_counter(), done)),
        )
        total = time.perf_counter() - started
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    images = sum(result.images.values())
    first = marks[0][0] - started if marks else 0.0
    print(f"source={args.source} glyphs={result.glyphs} images={images} workers={args.workers}")
    print(f"until first batch written (glyph preparation, process start): {first:.1f} s")
    print(f"total wall time: {total:.1f} s ({images / total:.0f} images/s)")
    print("PASS: under 2 minutes" if total < 120 else "FAIL: 2 minutes or more")


if __name__ == "__main__":
    main()
