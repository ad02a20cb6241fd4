import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datacur.errors import DatacurError, HostileInputError
from datacur.io import (
    PARTIAL_MARKER,
    atomic_output_dir,
    atomic_write_text,
    check_output_dir,
    encode_png,
    read_image_gray,
    read_text_utf8,
    refuse_hostile_image,
    sha256_bytes,
    sha256_file,
    verify_image,
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
    (out / "manifest.csv").write_text("old")  # a folder datacur wrote
    with pytest.raises(DatacurError, match=r"already exists.*--force"), atomic_output_dir(out):
        pass
    with atomic_output_dir(out, overwrite=True) as partial:
        (partial / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["variant"]


def test_atomic_output_dir_force_refuses_a_file_or_a_foreign_folder(tmp_path: Path) -> None:
    plain = tmp_path / "notes"
    plain.write_text("mine")
    refused = pytest.raises(DatacurError, match="not a folder datacur wrote")
    with refused, atomic_output_dir(plain, overwrite=True):
        pass
    foreign = tmp_path / "thesis"
    foreign.mkdir()
    (foreign / "chapter1.tex").write_text("mine")
    with pytest.raises(DatacurError, match="neither"), atomic_output_dir(foreign, overwrite=True):
        pass
    assert plain.read_text() == "mine" and (foreign / "chapter1.tex").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes", "thesis"]


def test_atomic_output_dir_keeps_a_foreign_partial_and_cleans_its_own(tmp_path: Path) -> None:
    out = tmp_path / "variant"
    foreign = tmp_path / "variant.partial"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("mine")
    refused = pytest.raises(DatacurError, match=r"variant\.partial.*not made by datacur")
    with refused, atomic_output_dir(out):
        pass
    assert (foreign / "mine.txt").read_text() == "mine"
    # A killed run's own leftovers (marked .partial, .<name>.synth-* work folder) go.
    (foreign / "mine.txt").unlink()
    (foreign / PARTIAL_MARKER).write_bytes(b"")
    (tmp_path / ".variant.synth-x1y2").mkdir()
    with atomic_output_dir(out) as partial:
        (partial / "a.txt").write_text("a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["variant"]
    assert sorted(p.name for p in out.iterdir()) == ["a.txt"]  # the marker does not ship


def test_check_output_dir_refuses_dot_and_overlong_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatacurError, match="current folder"):
        check_output_dir(Path("."))
    with pytest.raises(DatacurError, match="current folder"):
        check_output_dir(Path(".."), overwrite=True)
    with pytest.raises(DatacurError, match="255 bytes"):
        check_output_dir(tmp_path / ("n" * 300))


def test_open_image_refuses_bombs_and_fifos_in_one_line(tmp_path: Path) -> None:
    from tests.hostile.corpus import bomb_png, truncated_png

    (tmp_path / "bomb.png").write_bytes(bomb_png())
    with pytest.raises(HostileInputError, match=r"bomb\.png: refused as a possible decomp"):
        read_image_gray(tmp_path / "bomb.png")
    os.mkfifo(tmp_path / "pipe.png")
    with pytest.raises(HostileInputError, match=r"pipe\.png: not a regular file"):
        read_image_gray(tmp_path / "pipe.png")
    (tmp_path / "cut.png").write_bytes(truncated_png())
    with pytest.raises(DatacurError, match=r"cut\.png: not a readable image"):
        verify_image(tmp_path / "cut.png")
    refuse_hostile_image(tmp_path / "cut.png")  # undecodable is the decoder's to report


def test_read_text_utf8_names_the_byte(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_bytes(b"name: caf\xe9\n")
    with pytest.raises(DatacurError, match=r"r\.yaml: not UTF-8 text \(byte 0xe9 at offset 9\)"):
        read_text_utf8(tmp_path / "r.yaml")


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
