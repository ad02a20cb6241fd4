import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datacur.errors import DatacurError
from datacur.io import (
    atomic_output_dir,
    atomic_write_text,
    encode_png,
    read_image_gray,
    sha256_bytes,
    sha256_file,
    write_png,
)


def test_atomic_output_dir_appears_only_when_complete(tmp_path: Path) -> None:
    out = tmp_path / "variant"
    with atomic_output_dir(out) as partial:
        (partial / "a.txt").write_text("a")
        assert partial.name == "variant.partial" and not out.exists()
    assert (out / "a.txt").read_text() == "a"
    assert not (tmp_path / "variant.partial").exists()


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt], ids=["error", "ctrl-c"])
def test_atomic_output_dir_leaves_nothing_on_failure(tmp_path: Path, error: type) -> None:
    out = tmp_path / "variant"
    with pytest.raises(error), atomic_output_dir(out) as partial:
        (partial / "a.txt").write_text("a")
        raise error()
    assert list(tmp_path.iterdir()) == []


def test_atomic_output_dir_refuses_to_clobber_without_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "variant"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(DatacurError, match=r"already exists.*--force"), atomic_output_dir(out):
        pass
    with atomic_output_dir(out, overwrite=True) as partial:
        (partial / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["variant"]


def test_atomic_write_text_replaces_whole_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "f.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert os.listdir(target.parent) == ["f.txt"]


def test_png_encoding_is_deterministic_and_round_trips(tmp_path: Path) -> None:
    image = np.random.default_rng(0).integers(0, 256, (20, 30), dtype=np.uint8)
    data = write_png(tmp_path / "a.png", image)
    assert data == encode_png(image)
    assert sha256_file(tmp_path / "a.png") == sha256_bytes(data)
    assert np.array_equal(read_image_gray(tmp_path / "a.png"), image)
    with pytest.raises(ValueError, match="uint8"):
        encode_png(image.astype(np.float32))


def test_read_image_gray_puts_transparent_pixels_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)  # black and fully transparent...
    rgba[0, 0] = (0, 0, 0, 255)  # ...except one opaque black pixel
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    gray = read_image_gray(tmp_path / "a.png")
    assert gray[0, 0] == 0 and gray[1, 1] == 255


def test_read_image_gray_scales_16_bit(tmp_path: Path) -> None:
    array = np.array([[0, 30000], [60000, 65535]], dtype=np.uint16)
    Image.fromarray(array).save(tmp_path / "a.png")
    gray = read_image_gray(tmp_path / "a.png")
    assert gray.dtype == np.uint8 and gray[1, 1] == 255 and gray[0, 0] == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"not an image", "not a readable image"), (None, "file not found")],
    ids=["garbage", "missing"],
)
def test_read_image_gray_errors_name_the_file(tmp_path: Path, content, message) -> None:
    path = tmp_path / "bad.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DatacurError, match=message) as info:
        read_image_gray(path)
    assert str(path) in str(info.value)


def test_truncated_png_is_unreadable(tmp_path: Path) -> None:
    data = encode_png(np.zeros((64, 64), dtype=np.uint8) + 7)
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(DatacurError, match="not a readable image"):
        read_image_gray(tmp_path / "t.png")
