"""Run every hostile case of ``corpus.py`` through the real CLI (issue 22).

Each case must end with exit code 1 and exactly one ``Error: ...`` line on stderr naming the
path (or option), no traceback, and the scratch folder exactly as it was: nothing written
(no output, no ``.partial``, no temp folder), nothing deleted, no link followed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datacur.cli import build_app
from datacur.variant import FOLLOW_LINKS_ENV
from tests.hostile.corpus import CASES, Case

runner = CliRunner()


def snapshot(root: Path) -> dict[str, tuple[str, str]]:
    """Every entry under ``root`` (links not followed, FIFOs not opened) with its content."""
    state: dict[str, tuple[str, str]] = {}
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            info = path.lstat()
            rel = path.relative_to(root).as_posix()
            if stat.S_ISLNK(info.st_mode):
                state[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                state[rel] = ("dir", "")
            elif stat.S_ISREG(info.st_mode):
                state[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
            else:
                state[rel] = ("special", oct(stat.S_IFMT(info.st_mode)))
    return state


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny valid variant (2 train + 1 val per class, 24 px) copied into every case."""
    import numpy as np
    from PIL import Image

    from datacur.labels import CLASSES
    from tests.conftest import draw_numeral

    root = tmp_path_factory.mktemp("hostile-template") / "v"
    rng = np.random.default_rng(0)
    for split, n in (("train", 2), ("val", 1)):
        for label in CLASSES:
            folder = root / split / label
            folder.mkdir(parents=True)
            for k in range(n):
                Image.fromarray(draw_numeral(label, rng, 24)).save(folder / f"{label}_{k}.png")
    return root


def test_corpus_has_at_least_80_distinct_cases() -> None:
    names = [case.name for case in CASES]
    assert len(names) >= 80 and len(set(names)) == len(names)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_input_is_refused_cleanly(
    case: Case, template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "scratch"
    shutil.copytree(template, root / "v")
    monkeypatch.chdir(root)  # relative writes (caches, default outputs) land where we look
    monkeypatch.setenv(FOLLOW_LINKS_ENV, "0")  # restored after --follow-links sets it
    args = case.build(root)
    before = snapshot(root)

    result = runner.invoke(build_app(), args)

    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert case.names in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert snapshot(root) == before  # no output, .partial, temp folder; nothing deleted


def test_follow_links_reads_a_link_that_stays_inside(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    variant = tmp_path / "v"
    shutil.copytree(template, variant)
    os.symlink("i_0.png", variant / "train/i/dup.png")
    monkeypatch.setenv(FOLLOW_LINKS_ENV, "0")
    refused = runner.invoke(build_app(), ["cap", str(variant)])
    assert refused.exit_code == 1 and "dup.png" in refused.stderr
    followed = runner.invoke(build_app(), ["--follow-links", "cap", str(variant), "--json"])
    assert followed.exit_code == 0, followed.output
    assert json.loads(followed.stdout)["train_images"] == 21  # 20 files and the link


def test_force_replaces_a_folder_datacur_wrote_and_cleans_its_leftovers(
    template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    variant = tmp_path / "v"
    shutil.copytree(template, variant)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    journal = tmp_path / "review.jsonl"
    journal.write_text("", encoding="utf-8")
    args = ["apply", str(variant), str(journal), "--out", str(out)]
    assert runner.invoke(build_app(), args).exit_code == 0
    # a run killed mid-way leaves datacur's own .partial and a mix work folder behind
    (tmp_path / "out.partial").mkdir()
    (tmp_path / "out.partial" / ".datacur-partial").write_bytes(b"")
    (tmp_path / ".out.synth-abc123").mkdir()
    result = runner.invoke(build_app(), [*args, "--force"])
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(tmp_path)) == ["out", "review.jsonl", "v"]
    assert (out / "manifest.csv").is_file()
