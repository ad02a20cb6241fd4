"""The hostile-input corpus (issue 22): every case is generated at test time, none committed.

A :class:`Case` builds one hostile input under a scratch folder ``root`` (which already
holds a small valid variant at ``root/v``) and returns the ``datacur`` arguments that feed
it to a command, plus the fragment (usually a file name) the one-line error must name.
The test in ``test_corpus.py`` runs each case through the real CLI and checks the exit
code, the message, and that the file tree is byte-for-byte what it was before.

Kinds of input: symbolic links (outside, inside, dangling, loops, linked class folders),
FIFOs named like images, decompression-bomb PNGs (header-only: a 30000x30000 IHDR with a
tiny IDAT), truncated PNGs (bytes sliced off), non-UTF-8 recipes/journals/lists/manifests,
counts over the cap, out-of-range seeds and options, EMNIST IDX headers declaring 1.5e9
records, Chars74K archives holding a bomb, and every unsafe ``--out``/``--force`` case.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

__all__ = ["CASES", "Case", "bomb_png", "truncated_png"]

Builder = Callable[[Path], list[str]]


@dataclass(frozen=True)
class Case:
    """One hostile input: ``build(root)`` makes it and returns the CLI arguments."""

    name: str
    build: Builder
    names: str
    """A fragment the one-line error must contain (the path it names, or the option)."""
    follow_links: bool = False


# --------------------------------------------------------------------------- file makers


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def bomb_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A ~100-byte PNG whose header declares ``width`` x ``height`` gray pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )


def _noisy_png(seed: int = 0, side: int = 48) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def truncated_png(seed: int = 0) -> bytes:
    """A gray PNG with the last 40% of its bytes cut off (opens, fails to decode)."""
    data = _noisy_png(seed)
    return data[: int(len(data) * 0.6)]


def _idx(shape: tuple[int, ...], payload: bytes = b"") -> bytes:
    return bytes([0, 0, 0x08, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + payload


# --------------------------------------------------------------------------- inputs


def _variant(root: Path) -> Path:
    return root / "v"


def _recipe(root: Path, body: str = "", *, name: str = "r.yaml", encoding: str = "utf-8") -> Path:
    text = (
        "version: 1\nname: hostile\nseed: 0\ninputs:\n"
        "  - name: base\n    kind: variant\n    path: v\n    split: keep\n" + body
    )
    path = root / name
    path.write_bytes(text.encode(encoding))
    return path


def _journal(root: Path) -> Path:
    path = root / "review.jsonl"
    entry = (
        '{"action":"keep","path":"train/i/i_0.png","label":"i","to":"","issue":"",'
        '"time":"2026-01-01T00:00:00Z"}\n'
    )
    path.write_text(entry, encoding="utf-8")
    return path


# Each mutation damages the variant and returns the fragment the error must name.
Mutation = Callable[[Path], object]


def _link_outside(root: Path) -> str:
    secret = root / "private" / "secret.png"
    secret.parent.mkdir()
    secret.write_bytes(_noisy_png(1))
    secret.chmod(0o600)
    os.symlink(secret, _variant(root) / "train/i/evil.png")
    return "evil.png"


def _link_passwd(root: Path) -> str:
    os.symlink("/etc/passwd", _variant(root) / "train/i/passwd.png")
    return "passwd.png"


def _link_inside(root: Path) -> str:
    os.symlink("i_0.png", _variant(root) / "train/i/dup.png")
    return "dup.png"


def _link_dangling(root: Path) -> str:
    os.symlink(root / "nowhere.png", _variant(root) / "train/v/gone.png")
    return "gone.png"


def _link_loop(root: Path) -> str:
    os.symlink("loop.png", _variant(root) / "val/x/loop.png")
    return "loop.png"


def _link_class_dir(root: Path) -> str:
    moved = root / "elsewhere-x"
    (_variant(root) / "val/x").rename(moved)
    os.symlink(moved, _variant(root) / "val/x")
    return "val/x"


def _fifo(root: Path) -> str:
    os.mkfifo(_variant(root) / "train/ii/pipe.png")
    return "pipe.png"


def _bomb(root: Path) -> str:
    (_variant(root) / "train/iii/bomb.png").write_bytes(bomb_png())
    return "bomb.png"


def _bomb_warning(root: Path) -> str:
    # 12000 x 12000 = 1.44e8 pixels: over Pillow's warning limit, under its error limit.
    (_variant(root) / "train/iv/big.png").write_bytes(bomb_png(12_000, 12_000))
    return "big.png"


def _truncated(root: Path) -> str:
    (_variant(root) / "train/vi/cut.png").write_bytes(truncated_png())
    return "cut.png"


LINK_AND_FILE_MUTATIONS: dict[str, Mutation] = {
    "link-outside": _link_outside,
    "link-etc-passwd": _link_passwd,
    "link-inside": _link_inside,
    "link-dangling": _link_dangling,
    "link-loop": _link_loop,
    "link-class-dir": _link_class_dir,
    "fifo": _fifo,
}
BOMB_MUTATIONS: dict[str, Mutation] = {"bomb": _bomb, "bomb-warning": _bomb_warning}


def _args_for(command: str, root: Path) -> list[str]:
    variant = str(_variant(root))
    if command == "check":
        return ["check", variant]
    if command == "cap":
        return ["cap", variant]
    if command == "show":
        return ["show", variant, "--out", str(root / "sheet.png")]
    if command == "noise":
        return ["noise", variant, "--out", str(root / "issues.csv"), "--no-model"]
    if command == "apply":
        return ["apply", variant, str(_journal(root)), "--out", str(root / "out")]
    if command == "mix":
        return ["mix", str(_recipe(root)), "--out", str(root / "out")]
    if command == "evaluate":
        return ["evaluate", variant, "--no-store", "--epochs", "1"]
    raise ValueError(command)


def _variant_case(command: str, kind: str, mutation: Mutation, *, follow: bool = False) -> Case:
    prefix = ["--follow-links"] if follow else []

    def build(root: Path) -> list[str]:
        mutation(root)
        return prefix + _args_for(command, root)

    suffix = "-follow-links" if follow else ""
    return Case(f"{command}-{kind}{suffix}", build, _MUTATION_FRAGMENTS[kind], follow_links=follow)


_MUTATION_FRAGMENTS = {
    "link-outside": "evil.png",
    "link-etc-passwd": "passwd.png",
    "link-inside": "dup.png",
    "link-dangling": "gone.png",
    "link-loop": "loop.png",
    "link-class-dir": "val/x",
    "fifo": "pipe.png",
    "bomb": "bomb.png",
    "bomb-warning": "big.png",
    "truncated": "cut.png",
}


def _variant_cases() -> list[Case]:
    cases = []
    decoding = ("check", "show", "noise", "apply", "mix", "evaluate")
    for command in ("check", "cap", *decoding[1:]):
        for kind, mutation in LINK_AND_FILE_MUTATIONS.items():
            cases.append(_variant_case(command, kind, mutation))
        if command in decoding:
            for kind, mutation in BOMB_MUTATIONS.items():
                cases.append(_variant_case(command, kind, mutation))
        if command in ("show", "apply", "mix", "evaluate"):
            cases.append(_variant_case(command, "truncated", _truncated))
    # --follow-links follows only links that stay inside; these still leave or loop.
    for command, kind in (
        ("apply", "link-outside"),
        ("check", "link-etc-passwd"),
        ("mix", "link-loop"),
        ("cap", "link-dangling"),
        ("mix", "link-class-dir"),
    ):
        mutation = LINK_AND_FILE_MUTATIONS[kind]
        cases.append(_variant_case(command, kind, mutation, follow=True))
    return cases


# --------------------------------------------------------------------------- outputs

_OUT_COMMANDS: dict[str, Callable[[Path, str], list[str]]] = {
    "mix": lambda root, out: ["mix", str(_recipe(root)), "--out", out],
    "apply": lambda root, out: ["apply", str(_variant(root)), str(_journal(root)), "--out", out],
    "synth": lambda root, out: ["synth", "--per-class", "2", "--out", out],
}


def _out_plain_file(command: str) -> Case:
    def build(root: Path) -> list[str]:
        (root / "out").write_text("my notes\n", encoding="utf-8")
        return [*_OUT_COMMANDS[command](root, str(root / "out")), "--force"]

    return Case(f"{command}-force-on-plain-file", build, "out")


def _out_foreign_folder(command: str) -> Case:
    def build(root: Path) -> list[str]:
        (root / "out").mkdir()
        (root / "out" / "thesis.tex").write_text("years of work\n", encoding="utf-8")
        return [*_OUT_COMMANDS[command](root, str(root / "out")), "--force"]

    return Case(f"{command}-force-on-foreign-folder", build, "out")


def _out_foreign_partial(command: str) -> Case:
    def build(root: Path) -> list[str]:
        (root / "out.partial").mkdir()
        (root / "out.partial" / "keep.txt").write_text("mine\n", encoding="utf-8")
        return _OUT_COMMANDS[command](root, str(root / "out"))

    return Case(f"{command}-foreign-partial", build, "out.partial")


def _out_foreign_old(command: str) -> Case:
    def build(root: Path) -> list[str]:
        (root / "out").mkdir()
        (root / "out" / "manifest.csv").write_text("path\n", encoding="utf-8")
        (root / "out.old").mkdir()
        (root / "out.old" / "keep.txt").write_text("mine\n", encoding="utf-8")
        return [*_OUT_COMMANDS[command](root, str(root / "out")), "--force"]

    return Case(f"{command}-foreign-old", build, "out.old")


def _out_dot(command: str) -> Case:
    def build(root: Path) -> list[str]:
        return [*_OUT_COMMANDS[command](root, "."), "--force"]

    return Case(f"{command}-out-dot", build, ".")


def _out_parent_is_file(command: str) -> Case:
    def build(root: Path) -> list[str]:
        (root / "afile").write_text("x\n", encoding="utf-8")
        return _OUT_COMMANDS[command](root, str(root / "afile" / "out"))

    return Case(f"{command}-out-under-a-file", build, "afile")


def _out_long_name(command: str) -> Case:
    def build(root: Path) -> list[str]:
        return _OUT_COMMANDS[command](root, str(root / ("n" * 300)))

    return Case(f"{command}-out-name-too-long", build, "nnnn")


def _out_unwritable(command: str) -> Case:
    def build(root: Path) -> list[str]:
        # /proc refuses new folders even to root, whom permission bits do not stop.
        if not os.path.isdir("/proc/self"):
            pytest.skip("needs Linux /proc as an unwritable folder")
        return _OUT_COMMANDS[command](root, "/proc/datacur-hostile-out")

    return Case(f"{command}-out-unwritable", build, "/proc")


def _output_cases() -> list[Case]:
    cases = []
    for command in _OUT_COMMANDS:
        cases += [
            _out_plain_file(command),
            _out_foreign_folder(command),
            _out_foreign_partial(command),
            _out_dot(command),
            _out_parent_is_file(command),
            _out_long_name(command),
            _out_unwritable(command),
        ]
        if command != "synth":
            cases.append(_out_foreign_old(command))

    def show_long(root: Path) -> list[str]:
        return ["show", str(_variant(root)), "--out", str(root / ("s" * 300 + ".png"))]

    cases.append(Case("show-out-name-too-long", show_long, "ssss"))
    return cases


# --------------------------------------------------------------------------- counts, text, options


def _simple(name: str, names: str, make: Builder) -> Case:
    return Case(name, make, names)


def _recipe_case(name: str, body: str, names: str, *, dry_run: bool) -> Case:
    def build(root: Path) -> list[str]:
        args = ["mix", str(_recipe(root, body)), "--out", str(root / "out")]
        return [*args, "--dry-run"] if dry_run else args

    return Case(name, build, names)


def _non_utf8_recipe(dry_run: bool) -> Case:
    def build(root: Path) -> list[str]:
        path = root / "latin1.yaml"
        path.write_bytes(
            b"version: 1\nname: hostile\ndescription: caf\xe9\ninputs:\n"
            b"  - {name: base, kind: variant, path: v}\n"
        )
        args = ["mix", str(path), "--out", str(root / "out")]
        return [*args, "--dry-run"] if dry_run else args

    return Case("mix-recipe-not-utf8" + ("-dry-run" if dry_run else ""), build, "latin1.yaml")


def _non_utf8_journal(root: Path) -> list[str]:
    path = root / "bad.jsonl"
    path.write_bytes(b'{"action":"drop","path":"train/i/\xff.png"}\n')
    return ["apply", str(_variant(root)), str(path), "--out", str(root / "out")]


def _non_utf8_drop_list(root: Path) -> list[str]:
    (root / "drop.txt").write_bytes(b"train/i/\xe9t\xe9.png\n")
    recipe = _recipe(root, "steps:\n  - drop: {lists: [drop.txt]}\n")
    return ["mix", str(recipe), "--out", str(root / "out")]


def _non_utf8_manifest(root: Path) -> list[str]:
    (_variant(root) / "manifest.csv").write_bytes(b"path,split\ntrain/i/\xff.png,train\n")
    return ["apply", str(_variant(root)), str(_journal(root)), "--out", str(root / "out")]


def _fifo_recipe(root: Path) -> list[str]:
    os.mkfifo(root / "fifo.yaml")
    return ["mix", str(root / "fifo.yaml"), "--out", str(root / "out")]


def _counts_and_text_cases() -> list[Case]:
    variant_args = lambda root: [str(_variant(root))]  # noqa: E731
    cases = [
        _simple(
            "synth-per-class-1e12",
            "per_class",
            lambda root: ["synth", "--per-class", "1000000000000", "--out", str(root / "out")],
        ),
        _simple(
            "synth-per-class-over-cap",
            "per_class",
            lambda root: ["synth", "--per-class", "1001", "--out", str(root / "out")],
        ),
        _recipe_case("mix-per-class-1e9", "    per_class: 1000000000\n", "r.yaml", dry_run=False),
        _recipe_case(
            "mix-per-class-1e9-dry-run", "    per_class: 1000000000\n", "r.yaml", dry_run=True
        ),
        _recipe_case(
            "mix-count-1e12-dry-run", "    count: 1000000000000\n", "r.yaml", dry_run=True
        ),
        _recipe_case(
            "mix-synth-per-class-1e9-dry-run",
            "  - name: gen\n    kind: synth\n    synth: {source: strokes, per_class: 1000000000}\n",
            "r.yaml",
            dry_run=True,
        ),
        _recipe_case(
            "mix-synth-share-of-huge-cap-dry-run",
            "  - name: gen\n    kind: synth\n    share: 1.0\n    synth: {source: strokes}\n"
            "cap: 1000000000\n",
            "r.yaml",
            dry_run=True,
        ),
        _recipe_case(
            "mix-augment-copies-1e9-dry-run",
            "steps:\n  - augment: {pipeline: p.yaml, copies: 1000000000}\n",
            "r.yaml",
            dry_run=True,
        ),
        _non_utf8_recipe(dry_run=False),
        _non_utf8_recipe(dry_run=True),
        _simple("apply-journal-not-utf8", "bad.jsonl", _non_utf8_journal),
        _simple("mix-drop-list-not-utf8", "drop.txt", _non_utf8_drop_list),
        _simple("apply-manifest-not-utf8", "manifest.csv", _non_utf8_manifest),
        _simple("mix-recipe-is-a-fifo", "fifo.yaml", _fifo_recipe),
        _simple(
            "synth-seed-negative",
            "--seed",
            lambda root: ["synth", "--per-class", "2", "--seed", "-1", "--out", str(root / "o")],
        ),
        _simple(
            "synth-seed-2-pow-32",
            "--seed",
            lambda root: ["synth", "--per-class", "2", "--seed", str(2**32), "--out", str(root)],
        ),
        _simple(
            "mix-seed-2-pow-64",
            "--seed",
            lambda root: ["mix", str(_recipe(root)), "--seed", str(2**64), "--dry-run"],
        ),
        _simple(
            "show-seed-negative",
            "--seed",
            lambda root: ["show", *variant_args(root), "--seed", "-5"],
        ),
        _simple(
            "noise-seed-negative",
            "--seed",
            lambda root: ["noise", *variant_args(root), "--seed", "-1", "--no-model"],
        ),
        _simple(
            "evaluate-seed-negative",
            "--seed",
            lambda root: ["evaluate", *variant_args(root), "--seed", "-1", "--no-store"],
        ),
        _simple(
            "show-cell-zero",
            "--cell",
            lambda root: ["show", *variant_args(root), "--cell", "0"],
        ),
        _simple(
            "show-cell-huge",
            "--cell",
            lambda root: ["show", *variant_args(root), "--cell", "100000"],
        ),
        _simple(
            "show-cell-negative",
            "--cell",
            lambda root: ["show", *variant_args(root), "--cell", "-3"],
        ),
        _simple(
            "show-per-class-1e9",
            "per_class",
            lambda root: ["show", *variant_args(root), "--per-class", "1000000000"],
        ),
        _simple(
            "noise-folds-99999",
            "--folds 99999",
            lambda root: ["noise", *variant_args(root), "--folds", "99999", "--out", "i.csv"],
        ),
        _simple(
            "noise-folds-one",
            "--folds",
            lambda root: ["noise", *variant_args(root), "--folds", "1", "--out", "i.csv"],
        ),
    ]
    return cases


# --------------------------------------------------------------------------- sources


def _emnist_zip(root: Path, labels: bytes, images: bytes) -> Path:
    path = root / "gzip.zip"
    with zipfile.ZipFile(path, "w") as bundle:
        stem = "gzip/emnist-byclass-train"
        bundle.writestr(f"{stem}-labels-idx1-ubyte.gz", gzip.compress(labels, mtime=0))
        bundle.writestr(f"{stem}-images-idx3-ubyte.gz", gzip.compress(images, mtime=0))
    return path


def _synth_from(root: Path, source: str, path: Path) -> list[str]:
    return ["synth", "--source", source, "--path", str(path), "--per-class", "2", "--out",
            str(root / "out")]  # fmt: skip


def _emnist_huge_labels(root: Path) -> list[str]:
    bundle = _emnist_zip(root, _idx((1_500_000_000,), b"\x12" * 64), _idx((2, 28, 28)))
    return _synth_from(root, "emnist", bundle)


def _emnist_huge_images(root: Path) -> list[str]:
    labels = _idx((2,), b"\x12\x12")
    bundle = _emnist_zip(root, labels, _idx((2, 60_000, 60_000)))
    return _synth_from(root, "emnist", bundle)


def _emnist_truncated_labels(root: Path) -> list[str]:
    bundle = _emnist_zip(root, _idx((1000,), b"\x12" * 10), _idx((1000, 28, 28)))
    return _synth_from(root, "emnist", bundle)


def _emnist_count_mismatch(root: Path) -> list[str]:
    labels = _idx((2,), b"\x12\x12")
    bundle = _emnist_zip(root, labels, _idx((3_000_000, 28, 28)))
    return _synth_from(root, "emnist", bundle)


def _chars74k_tgz(root: Path, data: bytes) -> Path:
    path = root / "EnglishHnd.tgz"
    with tarfile.open(path, "w:gz") as archive:
        member = tarfile.TarInfo("English/Hnd/Img/Sample019/img019-001.png")
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))
    return path


def _letters_folder(root: Path) -> Path:
    folder = root / "letters"
    for name in ("I", "V", "X"):
        (folder / name).mkdir(parents=True)
        (folder / name / "a.png").write_bytes(_noisy_png(2))
    return folder


def _folder_fifo(root: Path) -> list[str]:
    folder = _letters_folder(root)
    os.mkfifo(folder / "V" / "pipe.png")
    return _synth_from(root, "folder", folder)


def _folder_link(root: Path) -> list[str]:
    folder = _letters_folder(root)
    os.symlink("/etc/passwd", folder / "X" / "passwd.png")
    return _synth_from(root, "folder", folder)


def _source_cases() -> list[Case]:
    return [
        _simple("emnist-labels-declare-1.5e9", "labels-idx1", _emnist_huge_labels),
        _simple("emnist-images-declare-60000x60000", "images-idx3", _emnist_huge_images),
        _simple("emnist-labels-truncated", "labels-idx1", _emnist_truncated_labels),
        _simple("emnist-images-count-mismatch", "images-idx3", _emnist_count_mismatch),
        _simple(
            "chars74k-archive-bomb",
            "img019-001.png",
            lambda root: _synth_from(root, "chars74k", _chars74k_tgz(root, bomb_png())),
        ),
        _simple(
            "chars74k-archive-truncated",
            "img019-001.png",
            lambda root: _synth_from(root, "chars74k", _chars74k_tgz(root, truncated_png())),
        ),
        _simple("folder-source-fifo", "pipe.png", _folder_fifo),
        _simple("folder-source-link", "passwd.png", _folder_link),
    ]


CASES: list[Case] = [
    *_variant_cases(),
    *_output_cases(),
    *_counts_and_text_cases(),
    *_source_cases(),
]
"""Every hostile case, in a stable order (ids are the case names)."""
