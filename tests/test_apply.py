"""apply: drops removed, relabels moved, decisions in manifest.csv, input untouched, atomic."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest

from datacur.apply import apply_journal
from datacur.errors import DatacurError, VariantError
from datacur.io import sha256_file
from datacur.journal import Journal
from datacur.variant import list_variant_images, read_manifest


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): sha256_file(p) for p in folder.rglob("*") if p.is_file()
    }


def _journal(path: Path, *decisions: tuple) -> Path:
    with Journal(path, clock=lambda: "2026-01-01T00:00:00Z") as journal:
        for action, rel, label, *to in decisions:
            if action == "undo":
                journal.undo()
            else:
                journal.record(action, rel, label=label, to=to[0] if to else "", issue="label")
    return path


@pytest.fixture
def variant(tmp_path: Path, make_variant: Callable[..., Path]) -> Path:
    return make_variant(tmp_path / "v", n_train=3, n_val=2)


def test_apply_drops_relabels_and_records(tmp_path: Path, variant: Path) -> None:
    before = _snapshot(variant)
    journal = _journal(
        tmp_path / "review.jsonl",
        ("drop", "train/i/i_0.png", "i"),
        ("relabel", "train/iv/iv_1.png", "iv", "vi"),
        ("keep", "val/x/x_0.png", "x"),
        ("drop", "val/x/x_1.png", "x"),
        ("undo", "", ""),
    )
    result = apply_journal(variant, journal, tmp_path / "out")
    out = tmp_path / "out"
    assert _snapshot(variant) == before  # input untouched
    assert (result.dropped, result.relabelled, result.kept) == (1, 1, 1)
    assert result.images == 50 - 1 and result.unchanged == 50 - 3
    assert not (out / "train/i/i_0.png").exists()
    assert (out / "train/vi/iv_1.png").read_bytes() == (variant / "train/iv/iv_1.png").read_bytes()
    assert (out / "val/x/x_1.png").exists()  # that drop was undone
    rows = {row["path"]: row for row in read_manifest(out)}
    moved = rows["train/vi/iv_1.png"]
    assert (moved["label"], moved["decision"], moved["previous_label"]) == ("vi", "relabel", "iv")
    assert moved["previous_path"] == "train/iv/iv_1.png"
    assert rows["val/x/x_0.png"]["decision"] == "keep"
    assert rows["train/ii/ii_0.png"]["sha256"] == sha256_file(variant / "train/ii/ii_0.png")
    with open(out / "dropped.csv", newline="") as handle:
        assert [row["path"] for row in csv.DictReader(handle)] == ["train/i/i_0.png"]
    assert (out / "review.jsonl").read_bytes() == journal.read_bytes()
    assert len(list_variant_images(out)) == 49
    assert not (tmp_path / "out.partial").exists()


def test_apply_is_byte_identical_for_the_same_inputs(tmp_path: Path, variant: Path) -> None:
    journal = _journal(tmp_path / "r.jsonl", ("relabel", "val/v/v_0.png", "v", "x"))
    apply_journal(variant, journal, tmp_path / "a")
    apply_journal(variant, journal, tmp_path / "b")
    assert _snapshot(tmp_path / "a") == _snapshot(tmp_path / "b")


def test_relabel_name_clash_gets_a_suffix(tmp_path: Path, variant: Path) -> None:
    (variant / "train/ii/i_0.png").write_bytes((variant / "train/ii/ii_0.png").read_bytes())
    journal = _journal(tmp_path / "r.jsonl", ("relabel", "train/ii/i_0.png", "ii", "i"))
    apply_journal(variant, journal, tmp_path / "out")
    assert (tmp_path / "out/train/i/i_0-from-ii.png").exists()
    assert (tmp_path / "out/train/i/i_0.png").read_bytes() == (
        variant / "train/i/i_0.png"
    ).read_bytes()


def test_journal_naming_files_not_in_the_variant(tmp_path: Path, variant: Path) -> None:
    journal = _journal(
        tmp_path / "r.jsonl", ("drop", "train/i/i_0.png", "i"), ("drop", "train/i/ghost.png", "i")
    )
    with pytest.raises(VariantError, match=r"names 1 file\(s\) not in the variant.*ghost.png"):
        apply_journal(variant, journal, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


def test_journal_made_on_other_labels(tmp_path: Path, variant: Path) -> None:
    journal = _journal(tmp_path / "r.jsonl", ("drop", "train/i/i_0.png", "v"))
    with pytest.raises(VariantError, match="different label"):
        apply_journal(variant, journal, tmp_path / "out")


def test_never_in_place_and_never_clobbers(tmp_path: Path, variant: Path) -> None:
    journal = _journal(tmp_path / "r.jsonl", ("keep", "train/i/i_0.png", "i"))
    with pytest.raises(VariantError, match="in place"):
        apply_journal(variant, journal, variant, overwrite=True)
    (tmp_path / "out").mkdir()
    with pytest.raises(DatacurError, match="--force"):
        apply_journal(variant, journal, tmp_path / "out")


def test_emptied_class_warns(tmp_path: Path, make_variant: Callable[..., Path]) -> None:
    variant = make_variant(tmp_path / "v", n_train=1, n_val=1)
    journal = _journal(tmp_path / "r.jsonl", ("drop", "val/ix/ix_0.png", "ix"))
    with pytest.warns(UserWarning, match="val/ix"):
        apply_journal(variant, journal, tmp_path / "out")


def test_input_manifest_rows_and_extra_columns_carry_over(tmp_path: Path, variant: Path) -> None:
    from datacur.variant import write_manifest

    rows = []
    for image in list_variant_images(variant):
        rel = image.path.relative_to(variant).as_posix()
        rows.append(
            {
                "path": rel,
                "split": image.split,
                "label": image.label,
                "source": "strokes",
                "origin": f"strokes:{rel}",
                "parent": "",
                "writer": "w1",
                "transform": "",
                "sha256": "x",
                "width": 32,
                "height": 32,
                "quality": "good",
            }
        )
    write_manifest(variant, rows, extra_columns=["quality"])
    journal = _journal(tmp_path / "r.jsonl", ("relabel", "train/v/v_2.png", "v", "iv"))
    apply_journal(variant, journal, tmp_path / "out")
    out_rows = {row["path"]: row for row in read_manifest(tmp_path / "out")}
    moved = out_rows["train/iv/v_2.png"]
    assert (moved["writer"], moved["quality"], moved["origin"]) == (
        "w1",
        "good",
        "strokes:train/v/v_2.png",
    )
