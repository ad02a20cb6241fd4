from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datacur.check import check_variant, require_readable
from datacur.errors import VariantError
from datacur.variant import list_variant_images


def _codes(report) -> dict[str, str]:
    return {Path(f.path).name: f.code for f in report.findings}


def test_clean_variant_has_no_findings(tmp_path: Path, make_variant) -> None:
    report = check_variant(make_variant(tmp_path / "v", n_train=1, n_val=1))
    assert report.ok and report.findings == () and report.images == 20


def test_each_kind_of_problem_is_reported_per_file(tmp_path: Path, make_variant) -> None:
    variant = make_variant(tmp_path / "v", n_train=1, n_val=1)
    train_i = variant / "train" / "i"
    (train_i / ".DS_Store").write_bytes(b"\x00\x01")
    (train_i / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (train_i / "empty.png").write_bytes(b"")
    Image.fromarray(np.zeros((2, 1), dtype=np.uint8)).save(train_i / "tiny.png")
    Image.fromarray(np.zeros((16, 16, 4), dtype=np.uint8), mode="RGBA").save(train_i / "alpha.png")
    Image.fromarray(np.zeros((16, 16), dtype=np.uint8)).save(train_i / "shout.PNG")
    Image.fromarray(np.zeros((16, 16), dtype=np.uint8)).save(train_i / "photo.webp")
    (train_i / "sub").mkdir()
    (variant / "val" / "xi").mkdir()
    report = check_variant(variant)
    codes = _codes(report)
    assert codes[".DS_Store"] == "not-an-image"
    assert codes["broken.png"] == "unreadable"
    assert codes["empty.png"] == "empty-file"
    assert codes["tiny.png"] == "tiny"
    assert codes["alpha.png"] == "mode-RGBA"
    assert codes["shout.PNG"] == "upper-case-extension"
    assert codes["photo.webp"] == "skipped-format"
    assert codes["xi"] == "unknown-class"
    assert {f.code for f in report.errors} == {"unreadable", "empty-file", "unknown-class"}
    assert not report.ok


def test_missing_split_and_class(tmp_path: Path, make_variant) -> None:
    variant = make_variant(tmp_path / "v", n_train=1, n_val=1)
    for path in (variant / "val").rglob("*.png"):
        path.unlink()
    (variant / "val" / "x").rmdir()
    report = check_variant(variant)
    assert {f.code for f in report.errors} == {"empty-class", "missing-class"}
    with pytest.raises(VariantError, match="folder not found"):
        check_variant(tmp_path / "nope")


def test_require_readable_names_the_broken_file(tmp_path: Path, make_variant) -> None:
    variant = make_variant(tmp_path / "v", n_train=1, n_val=1)
    broken = variant / "val" / "v" / "zz.png"
    broken.write_bytes(b"nope")
    with pytest.raises(VariantError, match=r"zz.png.*cannot be decoded"):
        require_readable(list_variant_images(variant))
