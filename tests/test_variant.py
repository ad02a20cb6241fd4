import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datacur.errors import VariantError
from datacur.labels import CLASSES
from datacur.variant import (
    MANIFEST_COLUMNS,
    ManifestRow,
    compute_content_hash,
    list_class_images,
    list_folder_images,
    list_variant_images,
    read_manifest,
    write_manifest,
)

GOLDEN_MANIFEST = Path(__file__).parent / "files" / "manifest_v1.csv"


def _png(path: Path, value: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((4, 4), value, dtype=np.uint8)).save(path)


def test_listing_follows_the_keras_loader_rules(tmp_path: Path) -> None:
    folder = tmp_path / "i"
    _png(folder / "b.png")
    _png(folder / "A.PNG")  # upper-case extension: Keras lower-cases before matching
    _png(folder / "nested" / "c.png")  # os.walk is recursive
    (folder / ".DS_Store").write_bytes(b"junk")
    (folder / "notes.txt").write_text("x")
    _png(folder / "d.webp")  # PIL writes it as PNG bytes, but the extension is not allowed
    names = [p.relative_to(folder).as_posix() for p in list_class_images(folder)]
    assert names == ["A.PNG", "b.png", "nested/c.png"]


def test_listing_matches_keras_image_dataset_from_directory(tmp_path: Path, make_variant) -> None:
    keras = pytest.importorskip("keras")
    variant = make_variant(tmp_path / "v", n_train=2, n_val=1)
    _png(variant / "train" / "iv" / "Z.PNG")
    (variant / "train" / "iv" / ".DS_Store").write_bytes(b"junk")
    ours = [str(i.path) for i in list_variant_images(variant) if i.split == "train"]
    loader = keras.utils.image_dataset_from_directory(
        str(variant / "train"), class_names=list(CLASSES), shuffle=False, verbose=False
    )
    assert ours == list(loader.file_paths)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda v: shutil.rmtree(v / "val"), "not a dataset variant"),
        (lambda v: (v / "train" / "xi").mkdir(), "unknown class folder"),
        (lambda v: shutil.rmtree(v / "train" / "vii"), "missing class folder"),
        (lambda v: [p.unlink() for p in (v / "val" / "ix").iterdir()], "empty class folder"),
    ],
    ids=["no-val", "unknown-class", "missing-class", "empty-class"],
)
def test_layout_errors_name_the_folder_and_the_fix(
    tmp_path: Path, make_variant, damage, message
) -> None:
    variant = make_variant(tmp_path / "v", n_train=1, n_val=1)
    damage(variant)
    with pytest.raises(VariantError, match=message):
        list_variant_images(variant)


def test_missing_folder_and_file_instead_of_folder(tmp_path: Path) -> None:
    with pytest.raises(VariantError, match="folder not found"):
        list_variant_images(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(VariantError, match="not a folder"):
        list_variant_images(tmp_path / "file")
    with pytest.raises(VariantError, match="folder not found"):
        list_folder_images(tmp_path / "nope")


def test_hidden_class_folders_are_ignored(tmp_path: Path, make_variant) -> None:
    variant = make_variant(tmp_path / "v", n_train=1, n_val=1)
    _png(variant / "train" / ".ipynb_checkpoints" / "x.png")
    assert len(list_variant_images(variant)) == 20


def test_content_hash_tracks_pixels_labels_and_splits_not_names(
    tmp_path: Path, make_variant
) -> None:
    variant = make_variant(tmp_path / "v", n_train=2, n_val=1)
    base = compute_content_hash(list_variant_images(variant))
    renamed = variant / "train" / "i" / "renamed.png"
    (variant / "train" / "i" / "i_0.png").rename(renamed)
    assert compute_content_hash(list_variant_images(variant)) == base
    renamed.rename(variant / "train" / "ii" / "moved.png")  # a relabel
    relabelled = compute_content_hash(list_variant_images(variant))
    assert relabelled != base
    (variant / "train" / "ii" / "moved.png").rename(variant / "val" / "ii" / "moved.png")
    assert compute_content_hash(list_variant_images(variant)) not in (base, relabelled)


def _row(path: str, label: str) -> ManifestRow:
    return ManifestRow(
        path=path,
        split="train",
        label=label,
        source="dcai-2021",
        origin=f"orig/{path}",
        parent="",
        writer="",
        transform="",
        sha256="ab" * 32,
        width=32,
        height=30,
    )


def test_manifest_is_sorted_and_matches_the_golden_file(tmp_path: Path) -> None:
    rows = [_row("train/v/b.png", "v"), _row("train/i/a.png", "i")]
    write_manifest(tmp_path, rows)
    written = (tmp_path / "manifest.csv").read_text()
    assert written == GOLDEN_MANIFEST.read_text()
    back = read_manifest(tmp_path)
    assert [r["path"] for r in back] == ["train/i/a.png", "train/v/b.png"]
    assert tuple(back[0]) == MANIFEST_COLUMNS


def test_manifest_extra_columns_and_missing_columns(tmp_path: Path) -> None:
    record = {**_row("train/i/a.png", "i").__dict__, "decision": "keep"}
    write_manifest(tmp_path, [record], extra_columns=["decision"])
    assert read_manifest(tmp_path)[0]["decision"] == "keep"
    (tmp_path / "manifest.csv").write_text("path,label\nx,i\n")
    with pytest.raises(VariantError, match="missing column"):
        read_manifest(tmp_path)
    with pytest.raises(VariantError, match="no manifest"):
        read_manifest(tmp_path / "elsewhere")
