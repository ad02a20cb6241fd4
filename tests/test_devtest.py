"""dev-test drawing: quotas, twin clusters, determinism, and the committed dev-test."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from datacur.devtest import (
    DEFAULT_DEV_TEST_SEED,
    DEFAULT_DEV_TEST_SIZE,
    draw_dev_test,
    ink_phash,
    proportional_quotas,
    twin_clusters,
)
from datacur.errors import DatacurError
from datacur.variant import list_folder_images

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("counts", "size", "expected"),
    [
        ({"i": 10, "ii": 10}, 4, {"i": 2, "ii": 2}),
        ({"i": 3, "ii": 1}, 2, {"i": 2, "ii": 0}),
        ({"i": 1, "ii": 1, "iii": 1}, 2, {"i": 1, "ii": 1, "iii": 0}),
        ({"i": 2}, 10, {"i": 2}),
        ({"i": 0}, 3, {"i": 0}),
    ],
    ids=["even", "proportional", "tie-by-name", "size-over-pool", "empty"],
)
def test_proportional_quotas(counts: dict, size: int, expected: dict) -> None:
    assert proportional_quotas(counts, size) == expected


def test_twin_clusters_join_exact_and_near_transitively() -> None:
    shas = ["a", "b", "a", "c", "d"]
    hashes = np.array(
        [0, 0b1111_0000_0000, 1, 0b1111_0000_0011, 0xFFFF_FFFF_0000_0000], dtype=np.uint64
    )
    # 0~2 by bytes; 1~3 by 2 bits; 0~2 also by 1 bit; 4 alone
    assert twin_clusters(shas, hashes, max_distance=2) == [0, 1, 0, 1, 4]
    assert twin_clusters(shas, hashes, max_distance=-1) == [0, 1, 0, 3, 4]


def test_ink_phash_ignores_paper_margin() -> None:
    image = np.full((40, 40), 255, np.uint8)
    image[10:30, 18:22] = 0
    wide = np.full((40, 120), 255, np.uint8)
    wide[:, 40:80] = image
    assert ink_phash(image) == ink_phash(wide)


def _with_twins(root: Path, make_variant: Callable[..., Path]) -> Path:
    variant = make_variant(root, n_train=6, n_val=3)
    # a byte-identical twin across splits, and under another label (label noise)
    shutil.copy(variant / "train" / "ii" / "ii_0.png", variant / "val" / "ii" / "twin.png")
    shutil.copy(variant / "train" / "ii" / "ii_0.png", variant / "train" / "iii" / "twin3.png")
    return variant


def test_draw_takes_twins_along(tmp_path: Path, make_variant: Callable[..., Path]) -> None:
    variant = _with_twins(tmp_path / "v", make_variant)
    # a large draw from ii is sure to include ii_0 or one of its twins
    summary = draw_dev_test([variant], tmp_path / "dt", size=60, seed=1, max_distance=-1)
    names = {image.path.name for image in list_folder_images(tmp_path / "dt")}
    twins = {"ii_0.png", "twin.png", "twin3.png"}
    assert twins <= names or not (twins & names)
    assert summary.images == len(names) >= 60
    text = (tmp_path / "dt" / "manifest.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert {row["split"] for row in rows} == {"test"}
    assert "conflicting labels" in (tmp_path / "dt" / "README.md").read_text()


def test_draw_is_deterministic(tmp_path: Path, make_variant: Callable[..., Path]) -> None:
    variant = _with_twins(tmp_path / "v", make_variant)
    draw_dev_test([variant], tmp_path / "a", size=20, seed=3)
    draw_dev_test([variant], tmp_path / "b", size=20, seed=3)
    draw_dev_test([variant], tmp_path / "c", size=20, seed=4)
    manifests = [(tmp_path / n / "manifest.csv").read_bytes() for n in "abc"]
    assert manifests[0] == manifests[1] != manifests[2]


def test_draw_errors(tmp_path: Path, make_variant: Callable[..., Path]) -> None:
    variant = make_variant(tmp_path / "v", n_train=1, n_val=1)
    with pytest.raises(DatacurError, match="size"):
        draw_dev_test([variant], tmp_path / "o", size=0)
    (tmp_path / "exists").mkdir()
    with pytest.raises(DatacurError, match="--force"):
        draw_dev_test([variant], tmp_path / "exists", size=5)


def test_committed_dev_test_is_reproducible(tmp_path: Path) -> None:
    """The shipped datasets/dev-test is exactly what its README's call draws."""
    committed = REPO / "datasets" / "dev-test"
    if not committed.is_dir():
        pytest.skip("datasets/dev-test not present")
    redrawn = tmp_path / "dev-test"
    draw_dev_test(
        [REPO / "datasets" / "dcai-2021"],
        redrawn,
        size=DEFAULT_DEV_TEST_SIZE,
        seed=DEFAULT_DEV_TEST_SEED,
        review=committed / "review.jsonl",
    )
    assert (redrawn / "manifest.csv").read_bytes() == (committed / "manifest.csv").read_bytes()
    assert "checked by hand" in (committed / "README.md").read_text()
    assert len(list_folder_images(committed)) == len(list_folder_images(redrawn))


def test_review_journal_drops_and_relabels_as_the_set_is_written(
    tmp_path: Path, make_variant
) -> None:
    from datacur.journal import Journal
    from datacur.variant import read_manifest

    source = make_variant(tmp_path / "src", n_train=3, n_val=1)
    plain = draw_dev_test([source], tmp_path / "plain", size=20, seed=1, max_distance=-1)
    assert sum(plain.per_class.values()) >= 20
    drawn = sorted(
        p.relative_to(tmp_path / "plain").as_posix() for p in (tmp_path / "plain").glob("*/*.png")
    )
    dropped, relabelled = drawn[0], drawn[-1]
    journal_path = tmp_path / "review.jsonl"
    with Journal(journal_path) as journal:
        journal.record("drop", dropped, label=dropped.split("/")[0])
        journal.record("relabel", relabelled, label=relabelled.split("/")[0], to="iv")
    out = tmp_path / "reviewed"
    draw_dev_test([source], out, size=20, seed=1, max_distance=-1, review=journal_path)
    rows = {row["path"]: row for row in read_manifest(out)}
    assert len(rows) == len(drawn) - 1
    assert dropped not in rows and not (out / dropped).exists()
    moved = "iv/" + relabelled.split("/")[1]
    assert rows[moved]["decision"] == "relabel"
    assert rows[moved]["previous_label"] == relabelled.split("/")[0]
    assert (out / "review.jsonl").read_bytes() == journal_path.read_bytes()


def test_review_naming_a_file_outside_the_draw_is_refused(tmp_path: Path, make_variant) -> None:
    from datacur.journal import Journal

    source = make_variant(tmp_path / "src", n_train=3, n_val=1)
    journal_path = tmp_path / "review.jsonl"
    with Journal(journal_path) as journal:
        journal.record("drop", "i/not-drawn.png", label="i")
    with pytest.raises(DatacurError, match="not in the drawn dev-test"):
        draw_dev_test([source], tmp_path / "out", size=20, seed=1, review=journal_path)
    assert not (tmp_path / "out").exists()
