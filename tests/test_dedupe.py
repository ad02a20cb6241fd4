from pathlib import Path

import numpy as np

from datacur.dedupe import (
    DEFAULT_NEAR_DISTANCE,
    exact_duplicate_groups,
    ink_phash,
    near_duplicate_pairs,
    perceptual_hash,
    perceptual_hashes,
)
from datacur.io import write_png
from tests.conftest import draw_numeral


def test_exact_duplicate_groups(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    a, b = draw_numeral("iv", rng, 64), draw_numeral("x", rng, 64)
    for name, image in (("a1", a), ("b", b), ("a2", a), ("a3", a)):
        write_png(tmp_path / f"{name}.png", image)
    paths = sorted(tmp_path.iterdir())
    groups = exact_duplicate_groups(paths)
    assert [[p.name for p in g] for g in groups] == [["a1.png", "a2.png", "a3.png"]]


def test_near_duplicates_found_within_and_across_sets(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    base = draw_numeral("viii", rng, 96)
    # a re-scan of the same image: mild sensor noise
    noisy = np.clip(base.astype(int) + rng.normal(0, 2, base.shape), 0, 255).astype(np.uint8)
    other = draw_numeral("i", rng, 96)
    hashes = np.array([perceptual_hash(x) for x in (base, other, noisy)], dtype=np.uint64)
    pairs = near_duplicate_pairs(hashes)
    assert [(i, j) for i, j, _ in pairs] == [(0, 2)]
    across = near_duplicate_pairs(hashes[:2], other=hashes[2:])
    assert [(i, j) for i, j, _ in across] == [(0, 0)]
    for name, image in (("a", base), ("b", noisy)):
        write_png(tmp_path / f"{name}.png", image)
    assert perceptual_hashes(sorted(tmp_path.iterdir())).tolist() == [hashes[0], hashes[2]]


def test_ink_phash_ignores_where_the_numeral_sits_on_the_page() -> None:
    rng = np.random.default_rng(3)
    numeral = draw_numeral("vii", rng, 48)
    page = np.full((200, 300), 255, dtype=np.uint8)
    moved = page.copy()
    other = page.copy()
    page[10:58, 10:58] = numeral
    moved[120:168, 200:248] = numeral
    other[10:58, 10:58] = draw_numeral("i", rng, 48)
    assert ink_phash(page) == ink_phash(moved)
    assert bin(ink_phash(page) ^ ink_phash(other)).count("1") > DEFAULT_NEAR_DISTANCE
