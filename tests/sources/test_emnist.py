"""EMNIST reader on tiny fixtures written in the official NIST formats (no network).

The fixtures are generated here, byte for byte as NIST lays them out: IDX files (magic
0x00000803 / 0x00000801, big-endian uint32 sizes, uint8 pixels) gzipped, inside
``gzip.zip`` under ``gzip/``; ``.mat`` files with ``dataset.{train,test}.{images,labels,
writers}`` (written with scipy.io.savemat), in ``matlab.zip`` under ``matlab/``; and the CSV
export (label, then 784 pixels). Images are stored transposed and white on black.
"""

from __future__ import annotations

import gzip
import io
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from datacur.errors import SourceError
from datacur.sources.base import open_source
from datacur.sources.emnist import EmnistSource, read_idx

# byclass labels: I 18, V 31, X 33, i 44, v 57, x 59; 3 is a digit, 10 is 'A' (skipped).
LABELS = np.array([18, 3, 31, 33, 10, 44, 57, 59], dtype=np.uint8)
EXPECTED = [
    ("I", "upper"),
    ("V", "upper"),
    ("X", "upper"),
    ("I", "lower"),
    ("V", "lower"),
    ("X", "lower"),
]
WRITERS = np.array([7, 7, 7, 8, 8, 9, 9, 9])


def upright_images(n: int) -> np.ndarray:
    """Black-on-white 28x28 images with ink only in the top-left corner (shows orientation)."""
    images = np.full((n, 28, 28), 255, np.uint8)
    for k in range(n):
        images[k, 2:10, 2:6] = 0  # a tall bar at the top left
        images[k, 20, 20] = k  # a marker to tell records apart
    return images


def stored(images: np.ndarray) -> np.ndarray:
    """As NIST stores them: white on black, transposed."""
    return np.ascontiguousarray(255 - images.transpose(0, 2, 1))


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_gz_files(folder: Path, split: str = "byclass", labels: np.ndarray = LABELS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    images = stored(upright_images(len(labels)))
    for subset in ("train", "test"):
        stem = f"emnist-{split}-{subset}"
        (folder / f"{stem}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
        (folder / f"{stem}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    return folder


def make_gzip_zip(root: Path) -> Path:
    files = write_gz_files(root / "staging" / "gzip")
    bundle = root / "gzip.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        for file in sorted(files.iterdir()):
            archive.write(file, f"gzip/{file.name}")
    return bundle


def make_gz_file(root: Path) -> Path:
    return write_gz_files(root) / "emnist-byclass-train-images-idx3-ubyte.gz"


def make_raw_idx(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    images = root / "emnist-byclass-train-images-idx3-ubyte"
    images.write_bytes(idx_bytes(stored(upright_images(len(LABELS)))))
    (root / "emnist-byclass-train-labels-idx1-ubyte").write_bytes(idx_bytes(LABELS))
    return images


def mat_payload() -> dict[str, object]:
    flat = stored(upright_images(len(LABELS))).reshape(len(LABELS), 784)
    part = {
        "images": flat,
        "labels": LABELS.reshape(-1, 1).astype(np.float64),
        "writers": WRITERS.reshape(-1, 1).astype(np.float64),
    }
    return {"dataset": {"train": part, "test": part, "mapping": np.zeros((62, 2))}}


def make_mat(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    target = root / "emnist-byclass.mat"
    savemat(target, mat_payload(), do_compression=True)
    return target


def make_matlab_zip(root: Path) -> Path:
    mat = make_mat(root / "staging")
    bundle = root / "matlab.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.write(mat, f"matlab/{mat.name}")
    return bundle


def make_csv(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    flat = stored(upright_images(len(LABELS))).reshape(len(LABELS), 784)
    lines = [
        ",".join(str(v) for v in [int(label), *row.tolist()])
        for label, row in zip(LABELS, flat, strict=True)
    ]
    target = root / "emnist-byclass-train.csv"
    target.write_text("\n".join(lines) + "\n", encoding="ascii")
    return target


FORMATS: dict[str, Callable[[Path], Path]] = {
    "gzip.zip": make_gzip_zip,
    "gz-file": make_gz_file,
    "raw-idx": make_raw_idx,
    "mat": make_mat,
    "matlab.zip": make_matlab_zip,
    "csv": make_csv,
    "folder-with-gzip.zip": lambda root: make_gzip_zip(root).parent,
    "folder-with-gz": lambda root: write_gz_files(root),
}


@pytest.mark.parametrize("fmt", list(FORMATS), ids=list(FORMATS))
def test_every_official_format_gives_the_same_upright_black_on_white_glyphs(
    tmp_path: Path, fmt: str
) -> None:
    path = FORMATS[fmt](tmp_path)
    glyphs = list(open_source("emnist", path, split="byclass", subset="train"))
    assert [(g.letter, g.case) for g in glyphs] == EXPECTED
    for glyph in glyphs:
        assert glyph.image.shape == (28, 28)
        # Un-transposed and inverted: the tall bar is at the top left, in black, paper white.
        assert glyph.image[2:10, 2:6].max() == 0
        assert glyph.image[12:18, 12:18].min() == 255
    writers = [g.writer for g in glyphs]
    if "mat" in fmt:
        assert writers == ["emnist-7", "emnist-7", "emnist-8", "emnist-9", "emnist-9", "emnist-9"]
    else:
        assert writers == [None] * 6, "IDX and CSV files do not record writers"


def test_subset_all_reads_train_and_test(tmp_path: Path) -> None:
    glyphs = list(EmnistSource(make_gzip_zip(tmp_path), subset="all"))
    assert len(glyphs) == 12
    assert glyphs[0].origin != glyphs[6].origin


@pytest.mark.parametrize(
    ("split", "labels", "expected"),
    [
        ("bymerge", [18, 31, 33, 36], ["I", "V", "X"]),
        ("balanced", [33, 18, 2], ["X", "I"]),
        ("letters", [9, 22, 24, 1], ["I", "V", "X"]),
    ],
    ids=["bymerge", "balanced", "letters"],
)
def test_merged_splits_give_unknown_case(
    tmp_path: Path, split: str, labels: list[int], expected: list[str]
) -> None:
    folder = write_gz_files(tmp_path, split=split, labels=np.array(labels, np.uint8))
    glyphs = list(EmnistSource(folder, split=split))
    assert [g.letter for g in glyphs] == expected
    assert {g.case for g in glyphs} == {None}


def test_limit_stops_early(tmp_path: Path) -> None:
    assert len(list(EmnistSource(make_gzip_zip(tmp_path), limit=2))) == 2


def test_missing_path_says_where_to_get_it() -> None:
    with pytest.raises(SourceError, match=r"biometrics\.nist\.gov.*--path.*--download"):
        EmnistSource(None)


def test_missing_file_says_where_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"not found.*--path"):
        EmnistSource(tmp_path / "gzip.zip")


def test_folder_without_emnist_files(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no EMNIST 'byclass' train data found"):
        list(EmnistSource(tmp_path))


def test_split_without_letters_is_refused() -> None:
    with pytest.raises(SourceError, match="split 'digits' has no letters"):
        EmnistSource(Path("."), split="digits")


def test_bad_magic_number(tmp_path: Path) -> None:
    images = make_raw_idx(tmp_path)
    images.write_bytes(b"\x00\x00\x09\x03" + images.read_bytes()[4:])
    with pytest.raises(SourceError, match="unsigned-byte IDX"):
        list(EmnistSource(images))


def test_truncated_images(tmp_path: Path) -> None:
    images = make_raw_idx(tmp_path)
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(SourceError, match="truncated"):
        list(EmnistSource(images))


def test_mismatched_label_count(tmp_path: Path) -> None:
    images = make_raw_idx(tmp_path)
    (tmp_path / "emnist-byclass-train-labels-idx1-ubyte").write_bytes(idx_bytes(LABELS[:3]))
    with pytest.raises(SourceError, match="to match"):
        list(EmnistSource(images))


def test_csv_with_a_short_row(tmp_path: Path) -> None:
    target = tmp_path / "emnist-byclass-train.csv"
    target.write_text("18,0,0,0\n", encoding="ascii")
    with pytest.raises(SourceError, match="line 1 has 4 values"):
        list(EmnistSource(target))


def test_read_idx_round_trip() -> None:
    import io

    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(read_idx(io.BytesIO(idx_bytes(array)), "x"), array)


class FakeResponse(io.BytesIO):
    """Stands in for urllib's response: the bytes of a 'download' and a Content-Length."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def test_download_verifies_the_checksum_and_caches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib
    import urllib.request

    from datacur.sources import emnist

    payload = make_gzip_zip(tmp_path / "server").read_bytes()
    calls: list[str] = []

    def fake_urlopen(url: str, timeout: float) -> FakeResponse:
        calls.append(url)
        return FakeResponse(payload)

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    with pytest.raises(SourceError, match="checksum mismatch"):
        emnist.download_emnist(tmp_path / "cache")
    assert not list((tmp_path / "cache" / "emnist").iterdir()), "no partial file left"

    monkeypatch.setattr(emnist, "DOWNLOAD_MD5", hashlib.md5(payload).hexdigest())
    seen: list[tuple[int, int]] = []
    target = emnist.download_emnist(tmp_path / "cache", progress=lambda d, t: seen.append((d, t)))
    assert target.read_bytes() == payload and seen[-1] == (len(payload), len(payload))
    assert calls == [emnist.DOWNLOAD_URL] * 2
    source = open_source("emnist", None, download=True, cache_dir=tmp_path / "cache")
    assert len(list(source)) == 6 and len(calls) == 2, "the cached file is reused"
