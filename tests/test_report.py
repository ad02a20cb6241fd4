"""report: plots of the expected size, the HTML page, and that it renders in real Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datacur.errors import DatacurError, StoreError, VariantError
from datacur.labels import CLASSES
from datacur.report import (
    SweepPoint,
    build_report,
    build_sweep_report,
    collect_misclassified,
    figure_pixels,
)
from datacur.store import load_runs, save_run
from datacur.variant import compute_content_hash, list_variant_images
from tests._report_fakes import fake_run

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def scored_variant(
    tmp_path: Path,
    make_variant: Callable[..., Path],
    make_image_folder: Callable[..., Path],
) -> tuple[Path, Path, str]:
    """A variant with recipe.yaml, a test folder, and 3 fake runs in ``results.db``.

    Every run gets ``iv`` images wrong (predicted ``vi``); one prediction names a missing file.
    """
    variant = make_variant(tmp_path / "datasets" / "demo", n_train=3, n_val=2)
    (variant / "recipe.yaml").write_text("version: 1\nseed: 0\nsources: {synth: {share: 0.2}}\n")
    test = make_image_folder(tmp_path / "datasets" / "test", n=2, size=48)
    variant_hash = compute_content_hash(list_variant_images(variant))
    db = tmp_path / "results.db"
    for seed in range(3):
        predictions = [
            (str(test / label / f"{label}_{k}.png"), label, "vi" if label == "iv" else label)
            for label in CLASSES
            for k in range(2)
        ]
        predictions.append((str(test / "x" / "gone.png"), "x", "ix"))
        save_run(
            fake_run(
                "demo",
                seed,
                0.7 + 0.01 * seed,
                variant_hash=variant_hash,
                predictions=predictions,
                test_name="test",
            ),
            db,
        )
    return variant, db, variant_hash


def _assert_png(path: Path, name: str) -> None:
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size == figure_pixels(name)
        pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 5, f"{path} looks blank"


def test_variant_report_writes_plots_and_page(
    tmp_path: Path, scored_variant: tuple[Path, Path, str]
) -> None:
    variant, db, variant_hash = scored_variant
    result = build_report(str(variant), db_path=db, out_dir=tmp_path / "rep")
    assert result.runs == 3
    assert set(result.images) == {"curves", "confusion", "per_class", "balance", "sizes"}
    for name, path in result.images.items():
        _assert_png(path, name)
    page = result.html.read_text()
    assert f"Variant demo ({variant_hash[:12]})" in page
    assert "mean <b>0.7100</b>" in page
    assert "sources: {synth: {share: 0.2}}" in page  # the recipe, escaped into <pre>
    # 2 iv images wrong in 3/3 runs, plus the missing file left out with a note
    assert page.count("wrong in 3/3") == 3 - 1
    assert "1 misclassified image(s) were not found on disk" in page
    # 5 plots, the 2 found images of the gallery, and each again in its confusion cell
    assert page.count("<img") == 5 + 2 + 2
    assert not (tmp_path / "rep.partial").exists()


def test_report_of_one_run_and_by_name(
    tmp_path: Path, scored_variant: tuple[Path, Path, str]
) -> None:
    _variant, db, variant_hash = scored_variant
    run_id = load_runs(db)[1].id
    # run ids and names: the variant folder is found as datasets/<name> under cwd
    result = build_report(str(run_id), db_path=db, out_dir=tmp_path / "run", cwd=tmp_path)
    assert result.runs == 1 and result.title.startswith(f"Run {run_id} of demo")
    assert "balance" in result.images
    result = build_report(variant_hash[:6], db_path=db, out_dir=tmp_path / "hash", cwd=tmp_path)
    assert result.runs == 3
    default = build_report("demo", db_path=db, cwd=tmp_path)
    assert default.out_dir == tmp_path / "reports" / f"demo-{variant_hash[:8]}"


def test_report_without_runs_shows_the_dataset(
    tmp_path: Path, make_variant: Callable[..., Path]
) -> None:
    variant = make_variant(tmp_path / "fresh")
    result = build_report(str(variant), db_path=tmp_path / "r.db", out_dir=tmp_path / "rep")
    assert result.runs == 0 and set(result.images) == {"balance", "sizes"}
    assert "No runs of this content" in result.html.read_text()
    assert "No recipe.yaml" in result.html.read_text()


def test_report_without_variant_folder_says_so(
    tmp_path: Path, scored_variant: tuple[Path, Path, str]
) -> None:
    _variant, db, _hash = scored_variant
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = build_report("demo", db_path=db, out_dir=tmp_path / "rep", cwd=elsewhere)
    assert "balance" not in result.images
    assert any("--variant" in note for note in result.notes)


def test_report_picks_largest_group_and_names_the_rest(
    tmp_path: Path, scored_variant: tuple[Path, Path, str]
) -> None:
    variant, db, variant_hash = scored_variant
    save_run(fake_run("demo", 0, 0.9, variant_hash=variant_hash, epochs=10), db)
    result = build_report(str(variant), db_path=db, out_dir=tmp_path / "a")
    assert result.runs == 3 and any("10 epochs (1 run)" in note for note in result.notes)
    result = build_report(str(variant), db_path=db, out_dir=tmp_path / "b", epochs=10)
    assert result.runs == 1


def test_report_of_one_model_among_several(
    tmp_path: Path, scored_variant: tuple[Path, Path, str]
) -> None:
    variant, db, variant_hash = scored_variant
    for seed in range(4):
        run = fake_run("demo", seed, 0.9, variant_hash=variant_hash, model="small-cnn")
        save_run(replace(run, test_name="test"), db)
    result = build_report(str(variant), db_path=db, out_dir=tmp_path / "a")
    assert result.runs == 4  # the larger group, the other named with its model
    assert any("test/fixed/3 epochs (3 runs)" in note for note in result.notes)
    result = build_report(str(variant), db_path=db, out_dir=tmp_path / "b", model="fixed")
    assert result.runs == 3 and "model <b>fixed</b>" in result.html.read_text()


@pytest.mark.parametrize(
    ("target", "error", "match"),
    [
        ("999", StoreError, "run 999: no such run"),
        ("nothing-here", VariantError, "not a variant folder"),
    ],
    ids=["unknown-run", "unknown-variant"],
)
def test_report_errors(
    tmp_path: Path,
    scored_variant: tuple[Path, Path, str],
    target: str,
    error: type[Exception],
    match: str,
) -> None:
    _variant, db, _hash = scored_variant
    with pytest.raises(error, match=match):
        build_report(target, db_path=db, out_dir=tmp_path / "rep", cwd=tmp_path)


def test_report_refuses_to_overwrite(
    tmp_path: Path, scored_variant: tuple[Path, Path, str]
) -> None:
    variant, db, _hash = scored_variant
    build_report(str(variant), db_path=db, out_dir=tmp_path / "rep")
    with pytest.raises(DatacurError, match="--force"):
        build_report(str(variant), db_path=db, out_dir=tmp_path / "rep")
    build_report(str(variant), db_path=db, out_dir=tmp_path / "rep", overwrite=True)


def test_collect_misclassified_orders_by_error_rate() -> None:
    runs = [
        fake_run(predictions=[("a.png", "i", "ii"), ("b.png", "v", "v"), ("c.png", "x", "ix")]),
        fake_run(predictions=[("a.png", "i", "iii"), ("b.png", "v", "vi"), ("c.png", "x", "ix")]),
    ]
    # save/load round trip turns tuples into lists, as the report sees them
    items = collect_misclassified(runs)  # type: ignore[arg-type]
    assert [(item.path, item.wrong, item.predicted) for item in items] == [
        ("a.png", 2, "ii"),
        ("c.png", 2, "ix"),
        ("b.png", 1, "vi"),
    ]


def test_sweep_report_plots_accuracy_against_the_ratio(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    points = []
    for share, base in ((0.0, 0.70), (0.1, 0.74), (0.2, 0.75)):
        name = f"combined@share={share}"
        for seed in range(3):
            save_run(fake_run(name, seed, base + 0.01 * seed), db)
        points.append(SweepPoint(name, load_runs(db, variant=name)[0].variant_hash, share))
    result = build_sweep_report(
        points, out_dir=tmp_path / "sweep", axis="sources.synth.share", db_path=db
    )
    _assert_png(result.images["ratio"], "ratio")
    page = result.html.read_text()
    assert "Accuracy against sources.synth.share" in page
    assert "combined@share=0.2 is better than combined@share=0.0" in page


def _chromium_image_probe(html_path: Path, tmp_path: Path) -> list[list[object]]:
    """Open a copy of the page in headless Chromium; return [complete, w, h] per <img>."""
    script = (
        '<script>window.addEventListener("load", () => { const out = document.createElement('
        '"pre"); out.id = "img-probe"; out.textContent = JSON.stringify(Array.from('
        "document.images, (img) => [img.complete, img.naturalWidth, img.naturalHeight])); "
        "document.body.appendChild(out); });</script>"
    )
    probe = html_path.with_name("_probe.html")
    probe.write_text(html_path.read_text().replace("</body>", script + "</body>"))
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        probe.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    match = re.search(r'<pre id="img-probe">(.*?)</pre>', done.stdout, re.S)
    assert match, f"no probe output from Chromium: {done.stdout[:500]} {done.stderr[-500:]}"
    return json.loads(match.group(1))


@pytest.mark.skipif(
    not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None,
    reason="needs Chromium at /usr/bin/chromium (apt-get install -y chromium)",
)
def test_report_renders_in_headless_chromium(
    tmp_path: Path, scored_variant: tuple[Path, Path, str]
) -> None:
    variant, db, _hash = scored_variant
    result = build_report(str(variant), db_path=db, out_dir=tmp_path / "rep")
    images = _chromium_image_probe(result.html, tmp_path)
    assert len(images) == 7 + 2  # the figures, misclassified thumbnails, the confusion-cell gallery
    assert all(complete and width > 0 and height > 0 for complete, width, height in images)
    sizes = {(w, h) for _c, w, h in images}
    assert figure_pixels("curves") in sizes and figure_pixels("confusion") in sizes


def test_report_finds_the_folder_a_sweep_recorded(
    tmp_path: Path, make_variant: Callable[..., Path]
) -> None:
    folder = make_variant(tmp_path / "cache" / "tiny@share=0.1-abc")
    variant_hash = compute_content_hash(list_variant_images(folder))
    db = tmp_path / "r.db"
    run = fake_run("tiny@share=0.1", 0, 0.6, variant_hash=variant_hash)
    save_run(run, db, extra={"sweep": {"variant_dir": str(folder)}})
    result = build_report("tiny@share=0.1", db_path=db, out_dir=tmp_path / "rep", cwd=tmp_path)
    assert "balance" in result.images


def test_sweep_report_with_one_seed_per_point(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    points = []
    for share, score in ((0.0, 0.70), (0.4, 0.72)):
        name = f"combined@share={share}"
        save_run(fake_run(name, 0, score), db)
        points.append(SweepPoint(name, load_runs(db, variant=name)[0].variant_hash, share))
    result = build_sweep_report(points, out_dir=tmp_path / "sweep", axis="share", db_path=db)
    _assert_png(result.images["ratio"], "ratio")
    assert any("single seed" in note for note in result.notes)
    # non-numeric axis values: the table only, and a note saying why
    labels = [SweepPoint(p.name, p.variant_hash, str(p.value) + "x") for p in points]
    result = build_sweep_report(labels, out_dir=tmp_path / "s2", axis="share", db_path=db)
    assert "ratio" not in result.images and any("not all numbers" in n for n in result.notes)
