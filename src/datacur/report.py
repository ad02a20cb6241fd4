"""Reports: matplotlib plots (PNG) and one self-contained HTML page per variant, run or sweep.

The page embeds every image as a data URI, so it can be mailed or archived alone; the plots
are also written next to it as PNG files for slides. Nothing here trains: it reads the
results database and the variant folder.
"""

from __future__ import annotations

import base64
import html
import io as _io
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from datacur.errors import DatacurError, StoreError, VariantError
from datacur.io import atomic_output_dir, open_image
from datacur.labels import CLASSES, SPLITS
from datacur.store import StoredRun, load_runs
from datacur.wording import count_noun

__all__ = [
    "FIGURE_DPI",
    "FIGURE_SIZES",
    "GalleryItem",
    "ReportResult",
    "SweepPoint",
    "build_report",
    "build_sweep_report",
    "collect_misclassified",
    "figure_pixels",
    "plot_class_balance",
    "plot_confusion",
    "plot_image_sizes",
    "plot_learning_curves",
    "plot_per_class",
    "plot_ratio",
]

FIGURE_DPI = 100
FIGURE_SIZES: dict[str, tuple[float, float]] = {
    "curves": (11.0, 4.0),
    "confusion": (6.0, 5.5),
    "per_class": (8.0, 3.5),
    "balance": (8.0, 3.5),
    "sizes": (10.0, 3.8),
    "ratio": (7.0, 4.5),
}
"""Figure sizes in inches; at :data:`FIGURE_DPI` each PNG is exactly ``size * dpi`` pixels."""

THUMBNAIL_PX = 96
MAX_CURVE_RUNS = 8
"""Learning curves of at most this many runs are drawn (the first seeds), to stay legible."""


def figure_pixels(name: str) -> tuple[int, int]:
    """(width, height) in pixels of the PNG written for figure ``name``."""
    width, height = FIGURE_SIZES[name]
    return round(width * FIGURE_DPI), round(height * FIGURE_DPI)


# --------------------------------------------------------------------------- plots (pure)


def _new_figure(name: str) -> Any:
    # Figure objects, not pyplot: no global state, no GUI backend; savefig renders with Agg.
    from matplotlib.figure import Figure

    return Figure(figsize=FIGURE_SIZES[name], dpi=FIGURE_DPI, layout="constrained")


def _png_bytes(figure: Any) -> bytes:
    buffer = _io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI, metadata={"Software": None})
    return buffer.getvalue()


def plot_learning_curves(runs: Sequence[StoredRun]) -> bytes:
    """Train/val loss and accuracy per epoch for each run, its best epoch marked.

    Returns:
        PNG bytes of size :func:`figure_pixels` ``("curves")``.
    """
    figure = _new_figure("curves")
    loss_ax, acc_ax = figure.subplots(1, 2)
    colors = [f"C{index}" for index in range(10)]
    for index, run in enumerate(runs[:MAX_CURVE_RUNS]):
        color = colors[index % len(colors)]
        epochs = np.arange(1, len(run.curves.get("loss", [])) + 1)
        for axis, key in ((loss_ax, "loss"), (acc_ax, "accuracy")):
            train = run.curves.get(key, [])
            val = run.curves.get(f"val_{key}", [])
            if len(train):
                axis.plot(epochs[: len(train)], train, "--", color=color, alpha=0.7)
            if len(val):
                axis.plot(
                    np.arange(1, len(val) + 1), val, "-", color=color, label=f"seed {run.seed}"
                )
            if 1 <= run.best_epoch <= len(val):
                axis.plot(
                    run.best_epoch, val[run.best_epoch - 1], "o", color=color, markersize=7,
                    markeredgecolor="black",
                )  # fmt: skip
    loss_ax.set(title="Loss (dashed: train, solid: val)", xlabel="epoch", ylabel="loss")
    acc_ax.set(
        title="Accuracy (dot: best val epoch, the checkpoint kept)",
        xlabel="epoch",
        ylabel="accuracy",
    )
    for axis in (loss_ax, acc_ax):
        axis.grid(alpha=0.3)
    if runs:
        acc_ax.legend(loc="lower right", fontsize="small")
    else:
        acc_ax.text(0.5, 0.5, "no runs", ha="center", va="center", transform=acc_ax.transAxes)
    return _png_bytes(figure)


def plot_confusion(confusion: Sequence[Sequence[float]], *, title: str) -> bytes:
    """A 10x10 confusion matrix (rows: true class), coloured by row share, counts written.

    Returns:
        PNG bytes of size :func:`figure_pixels` ``("confusion")``.
    """
    matrix = np.asarray(confusion, dtype=np.float64).reshape(len(CLASSES), len(CLASSES))
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    figure = _new_figure("confusion")
    axis = figure.subplots()
    image = axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axis, label="share of the true class")
    ticks = np.arange(len(CLASSES))
    axis.set_xticks(ticks, CLASSES)
    axis.set_yticks(ticks, CLASSES)
    axis.set(xlabel="predicted", ylabel="true", title=title)
    for row in range(len(CLASSES)):
        for col in range(len(CLASSES)):
            value = matrix[row, col]
            if value:
                text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
                color = "white" if shares[row, col] > 0.6 else "black"
                axis.text(col, row, text, ha="center", va="center", fontsize=7, color=color)
    return _png_bytes(figure)


def plot_per_class(means: Mapping[str, float], sds: Mapping[str, float], *, title: str) -> bytes:
    """Per-class accuracy bars with the sd over seeds as error bars.

    Returns:
        PNG bytes of size :func:`figure_pixels` ``("per_class")``.
    """
    return _png_bytes(_per_class_figure(means, sds, title=title))


def _clip_interval(value: float, low: float, high: float) -> tuple[float, float]:
    """An accuracy interval ``[low, high]`` clipped to [0, 1] (accuracy cannot leave it),
    returned as the (below, above) lengths from ``value`` that error bars take."""
    return max(0.0, value - max(low, 0.0)), max(0.0, min(high, 1.0) - value)


def _per_class_figure(means: Mapping[str, float], sds: Mapping[str, float], *, title: str) -> Any:
    figure = _new_figure("per_class")
    axis = figure.subplots()
    heights = np.nan_to_num([means.get(label, math.nan) for label in CLASSES])
    spans = [
        _clip_interval(height, height - sd, height + sd) if math.isfinite(sd) else (0.0, 0.0)
        for height, sd in zip(heights, (sds.get(label, math.nan) for label in CLASSES), strict=True)
    ]
    below, above = (list(side) for side in zip(*spans, strict=True))
    axis.bar(CLASSES, heights, yerr=[below, above], capsize=3, color="C0")
    for index, label in enumerate(CLASSES):
        value = means.get(label, math.nan)
        text = "n/a" if not math.isfinite(value) else f"{value:.2f}"
        # above the error bar's cap, not on it (the bar's top may be under the whisker)
        axis.text(index, heights[index] + above[index] + 0.02, text, ha="center", fontsize=8)
    axis.set(ylim=(0, 1.12), ylabel="accuracy", title=title)
    axis.grid(axis="y", alpha=0.3)
    return figure


def plot_class_balance(counts: Mapping[str, Mapping[str, int]], *, title: str) -> bytes:
    """Images per class, one bar group per split (``counts[split][label]``).

    Returns:
        PNG bytes of size :func:`figure_pixels` ``("balance")``.
    """
    return _png_bytes(_class_balance_figure(counts, title=title))


def _class_balance_figure(counts: Mapping[str, Mapping[str, int]], *, title: str) -> Any:
    figure = _new_figure("balance")
    axis = figure.subplots()
    positions = np.arange(len(CLASSES))
    splits = list(counts)
    width = 0.8 / max(1, len(splits))
    for index, split in enumerate(splits):
        values = [counts[split].get(label, 0) for label in CLASSES]
        offset = (index - (len(splits) - 1) / 2) * width
        bars = axis.bar(positions + offset, values, width, label=split)
        axis.bar_label(bars, fontsize=7)
    axis.set_xticks(positions, CLASSES)
    axis.set(ylabel="images", title=title)
    # Outside the axes, right of the plot: inside, "upper right" sat on the `x` bars.
    axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    axis.grid(axis="y", alpha=0.3)
    return figure


def plot_image_sizes(sizes: Mapping[str, Sequence[tuple[int, int]]], *, title: str) -> bytes:
    """Width x height scatter and aspect-ratio histogram, per split (``sizes[split]``).

    Returns:
        PNG bytes of size :func:`figure_pixels` ``("sizes")``.
    """
    figure = _new_figure("sizes")
    scatter_ax, ratio_ax = figure.subplots(1, 2)
    for index, (split, pairs) in enumerate(sizes.items()):
        if not pairs:
            continue
        array = np.asarray(pairs, dtype=np.float64)
        color = f"C{index}"
        scatter_ax.scatter(array[:, 0], array[:, 1], s=6, alpha=0.5, color=color, label=split)
        ratios = array[:, 0] / np.maximum(array[:, 1], 1)
        ratio_ax.hist(np.log2(ratios), bins=40, alpha=0.5, color=color, label=split)
    scatter_ax.set(xlabel="width (px)", ylabel="height (px)", title=title)
    ratio_ax.set(
        xlabel="log2(width / height)  (0 = square; the model sees 32x32)",
        ylabel="images",
        title="Aspect ratio",
    )
    for axis in (scatter_ax, ratio_ax):
        axis.grid(alpha=0.3)
        if any(sizes.values()):
            # A fixed corner: loc="best" searches over every scatter point, which matplotlib
            # warns is slow (an error under the test suite's warning filter on a busy machine).
            axis.legend(loc="upper right", fontsize="small")
    return _png_bytes(figure)


def plot_ratio(
    values: Sequence[float],
    means: Sequence[float],
    low: Sequence[float],
    high: Sequence[float],
    *,
    axis_label: str,
    title: str,
    scores: Sequence[Sequence[float]] | None = None,
) -> bytes:
    """Mean accuracy against a recipe parameter, with interval error bars.

    Points with no interval (a single seed) are drawn without a bar. ``scores`` (one list
    of per-seed scores per value) are drawn as small grey dots, so the spread is visible.

    Returns:
        PNG bytes of size :func:`figure_pixels` ``("ratio")``.
    """
    figure = _new_figure("ratio")
    axis = figure.subplots()
    x = np.asarray(values, dtype=np.float64)
    y = np.asarray(means, dtype=np.float64)
    # accuracy intervals are clipped to [0, 1]: a t interval over few seeds can pass 1
    lower = np.nan_to_num(y - np.clip(np.asarray(low, dtype=np.float64), 0.0, 1.0), nan=0.0)
    upper = np.nan_to_num(np.clip(np.asarray(high, dtype=np.float64), 0.0, 1.0) - y, nan=0.0)
    lower, upper = np.maximum(lower, 0.0), np.maximum(upper, 0.0)
    order = np.argsort(x, kind="stable")
    if scores is not None:
        for xi, seed_scores in zip(x, scores, strict=True):
            axis.scatter([xi] * len(seed_scores), seed_scores, s=12, color="0.6", zorder=1)
    axis.errorbar(
        x[order], y[order], yerr=[lower[order], upper[order]], fmt="o-", capsize=4, color="C0"
    )
    for xi, yi in zip(x, y, strict=True):
        if math.isfinite(yi):
            axis.annotate(f"{yi:.3f}", (xi, yi), textcoords="offset points", xytext=(6, 6))
    axis.set(xlabel=axis_label, ylabel="test accuracy (mean over seeds)", title=title)
    axis.margins(x=0.1)  # room for the last point's label inside the axes
    axis.grid(alpha=0.3)
    return _png_bytes(figure)


# --------------------------------------------------------------------------- gallery


@dataclass(frozen=True)
class GalleryItem:
    """A test image the model got wrong in at least one run."""

    path: str
    true: str
    predicted: str  # the most frequent wrong prediction
    wrong: int  # runs that got it wrong
    runs: int  # runs that scored it


def collect_misclassified(runs: Sequence[StoredRun]) -> list[GalleryItem]:
    """Images misclassified in at least one run, most often wrong first.

    Ties are broken by class order and then path, so the gallery is deterministic.
    """
    scored: Counter[str] = Counter()
    wrong: dict[str, Counter[str]] = {}
    truth: dict[str, str] = {}
    for run in runs:
        for path, true, predicted in run.predictions:
            scored[path] += 1
            truth[path] = true
            if predicted != true:
                wrong.setdefault(path, Counter())[predicted] += 1
    order = {label: index for index, label in enumerate(CLASSES)}
    items = [
        GalleryItem(
            path=path,
            true=truth[path],
            predicted=min(counts.items(), key=lambda kv: (-kv[1], order.get(kv[0], 99), kv[0]))[0],
            wrong=sum(counts.values()),
            runs=scored[path],
        )
        for path, counts in wrong.items()
    ]
    items.sort(key=lambda item: (-item.wrong / item.runs, order.get(item.true, 99), item.path))
    return items


def _thumbnail_uri(path: Path) -> str | None:
    """A data URI of a small grey thumbnail, or None when the file is missing or unreadable."""
    try:
        with open_image(path) as image:
            image.load()
            thumbnail = image.convert("L")
    except DatacurError:
        return None
    thumbnail.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    buffer = _io.BytesIO()
    thumbnail.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# --------------------------------------------------------------------------- variant facts


def _variant_facts(
    variant_dir: Path,
) -> tuple[dict[str, dict[str, int]], dict[str, list[tuple[int, int]]]]:
    """Class counts and image sizes per split; sizes from manifest.csv when it has them."""

    from datacur.variant import list_variant_images, read_manifest

    images = list_variant_images(variant_dir, allow_empty_class=True)
    counts: dict[str, dict[str, int]] = {split: dict.fromkeys(CLASSES, 0) for split in SPLITS}
    for image in images:
        counts[image.split][image.label] += 1
    known: dict[str, tuple[int, int]] = {}
    if (variant_dir / "manifest.csv").is_file():
        try:
            for row in read_manifest(variant_dir):
                if row.get("width") and row.get("height"):
                    known[row["path"]] = (int(row["width"]), int(row["height"]))
        except (VariantError, ValueError):
            known = {}  # a damaged manifest: fall back to reading image headers
    sizes: dict[str, list[tuple[int, int]]] = {split: [] for split in SPLITS}
    for image in images:
        relative = image.path.relative_to(variant_dir).as_posix()
        if relative in known:
            sizes[image.split].append(known[relative])
            continue
        try:
            with open_image(image.path) as handle:  # reads the header only
                sizes[image.split].append(handle.size)
        except DatacurError:
            continue  # `datacur check` reports unreadable files; a report only skips them
    return counts, sizes


# --------------------------------------------------------------------------- HTML


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1150px; color: #222; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child, td:last-child { text-align: left; }
img.plot { max-width: 100%; height: auto; display: block; margin: 0.5rem 0; }
.gallery { display: flex; flex-wrap: wrap; gap: 0.5rem; }
.gallery figure { margin: 0; width: 110px; text-align: center; font-size: 0.75rem; }
.gallery img { width: 96px; height: 96px; object-fit: contain; border: 1px solid #ccc;
  background: #fff; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.4rem 0.8rem; }
.significant { font-weight: bold; }
.wide { overflow-x: auto; }
pre { background: #f6f6f6; padding: 0.8rem; overflow-x: auto; font-size: 0.85rem; }
"""


def _clip01(value: float | None) -> float | None:
    """An accuracy bound clipped to [0, 1] (NaN and None pass through)."""
    if value is None or not math.isfinite(value):
        return value
    return min(max(value, 0.0), 1.0)


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: float | None, spec: str = ".4f") -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return format(value, spec)


def _img(png: bytes, alt: str) -> str:
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return f'<img class="plot" src="{uri}" alt="{_esc(alt)}">'


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _page(title: str, sections: Sequence[str]) -> str:
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_esc(title)}</h1>\n" + "\n".join(sections) + "\n</body></html>\n"
    )


@dataclass(frozen=True)
class ReportResult:
    """What a report wrote."""

    out_dir: Path
    html: Path
    images: dict[str, Path]  # figure name -> PNG path
    runs: int
    title: str
    notes: list[str] = field(default_factory=list)


def _write_report(
    out_dir: Path,
    *,
    title: str,
    sections: Sequence[str],
    figures: Mapping[str, bytes],
    overwrite: bool,
    runs: int,
    notes: Sequence[str],
) -> ReportResult:
    final = Path(out_dir)
    with atomic_output_dir(final, overwrite=overwrite) as partial:
        for name, png in figures.items():
            (partial / f"{name}.png").write_bytes(png)
        (partial / "index.html").write_text(_page(title, sections), encoding="utf-8")
    return ReportResult(
        out_dir=final,
        html=final / "index.html",
        images={name: final / f"{name}.png" for name in figures},
        runs=runs,
        title=title,
        notes=list(notes),
    )


# --------------------------------------------------------------------------- run selection


def _context(run: StoredRun) -> tuple[str | None, str, int]:
    return (run.test_hash, run.model, run.epochs)


def _select_runs(runs: Sequence[StoredRun], notes: list[str]) -> list[StoredRun]:
    """Keep the comparable group (test set, model, epochs) with the most runs."""
    groups: dict[tuple[str | None, str, int], list[StoredRun]] = {}
    for run in runs:
        groups.setdefault(_context(run), []).append(run)
    if len(groups) <= 1:
        return list(runs)
    chosen = max(groups.values(), key=lambda group: (len(group), group[-1].id))
    others = [
        f"{group[0].test_name or 'val'}/{group[0].model}/{count_noun(group[0].epochs, 'epoch')} "
        f"({count_noun(len(group), 'run')})"
        for group in groups.values()
        if group is not chosen
    ]
    notes.append(
        f"Showing the {len(chosen)} runs on {chosen[0].test_name or 'val'} with model "
        f"{chosen[0].model} and {count_noun(chosen[0].epochs, 'epoch')}; also in the database: "
        f"{', '.join(others)}. Choose with --test/--model/--epochs."
    )
    return chosen


def _find_variant_dir(
    name: str, variant_hash: str, cwd: Path, runs: Sequence[StoredRun] = ()
) -> Path | None:
    """The variant's folder, if one still holds the content the runs were on.

    Tried: the folder a sweep recorded with the runs (``extra.sweep.variant_dir``), then
    ``datasets/<name>``.
    """
    from datacur.variant import compute_content_hash, list_variant_images

    candidates: list[Path] = []
    for run in runs:
        recorded = (run.extra.get("sweep") or {}).get("variant_dir")
        if recorded and Path(recorded) not in candidates:
            candidates.append(Path(recorded))
    candidates.append(Path("datasets") / name)
    for candidate in candidates:
        folder = candidate if candidate.is_absolute() else cwd / candidate
        if not folder.is_dir():
            continue
        try:
            content = compute_content_hash(list_variant_images(folder, allow_empty_class=True))
        except VariantError:
            continue
        if content == variant_hash:
            return folder
    return None


# --------------------------------------------------------------------------- sections


def _runs_section(runs: Sequence[StoredRun]) -> str:
    from datacur.compare import summarize_scores

    rows = [
        (
            run.id,
            run.seed,
            run.epochs,
            run.path,
            run.best_epoch,
            _fmt(run.val_accuracy),
            _fmt(run.test_accuracy),
            run.test_name or "—",
            run.created_at,
        )
        for run in runs
    ]
    table = _table(
        ("run", "seed", "epochs", "path", "best epoch", "val acc", "test acc", "test", "created"),
        rows,
    )
    scores = [run.score for run in runs]
    mean, sd, low, high = summarize_scores(scores)
    scored_on = runs[0].test_name or "val"
    summary = (
        f"<p>Accuracy on <b>{_esc(scored_on)}</b>, model <b>{_esc(runs[0].model)}</b>, "
        f"over {len(runs)} run(s): mean "
        f"<b>{_fmt(mean)}</b>, sd {_fmt(sd)}, 95% CI [{_fmt(low)}, {_fmt(high)}].</p>"
    )
    return f"<h2>Runs</h2>{summary}{table}"


def _gallery_section(
    runs: Sequence[StoredRun], *, max_items: int, cwd: Path
) -> tuple[str, list[str]]:
    notes: list[str] = []
    items = collect_misclassified(runs)
    scored_on = runs[0].scored_on if runs else "test"
    figures: list[str] = []
    missing = 0
    for item in items:
        if len(figures) >= max_items:
            break
        path = Path(item.path)
        uri = _thumbnail_uri(path if path.is_absolute() else cwd / path)
        if uri is None:
            missing += 1
            continue
        figures.append(
            f'<figure><img src="{uri}" alt="{_esc(path.name)}" title="{_esc(item.path)}">'
            f"<figcaption>true <b>{_esc(item.true)}</b> → {_esc(item.predicted)}<br>"
            f"wrong in {item.wrong}/{item.runs}</figcaption></figure>"
        )
    intro = (
        f"<p>{len(items)} {scored_on} image(s) misclassified in at least one run; "
        f"showing {len(figures)}, most often wrong first.</p>"
    )
    if missing:
        notes.append(
            f"{missing} misclassified image(s) were not found on disk (moved, or the runs were "
            "made from another folder) and are left out of the gallery."
        )
    body = f'<div class="gallery">{"".join(figures)}</div>' if figures else ""
    return f"<h2>Misclassified {scored_on} images</h2>{intro}{body}", notes


def _dataset_section(
    variant_dir: Path | None, figures: dict[str, bytes], name: str
) -> tuple[str, list[str]]:
    if variant_dir is None:
        return (
            "<h2>Dataset</h2><p class='note'>Variant folder not found: pass --variant DIR to "
            "show its class balance, image sizes and recipe.</p>",
            ["Variant folder not found; dataset plots skipped (pass --variant DIR)."],
        )
    counts, sizes = _variant_facts(variant_dir)
    figures["balance"] = plot_class_balance(counts, title=f"Class balance of {name}")
    figures["sizes"] = plot_image_sizes(sizes, title=f"Image sizes of {name}")
    rows = [(split, *(counts[split][c] for c in CLASSES), sum(counts[split].values()))
            for split in counts]  # fmt: skip
    parts = [
        "<h2>Dataset</h2>",
        f"<p>Folder: <code>{_esc(variant_dir)}</code></p>",
        _table(("split", *CLASSES, "total"), rows),
        _img(figures["balance"], "class balance"),
        _img(figures["sizes"], "image sizes"),
    ]
    recipe = variant_dir / "recipe.yaml"
    if recipe.is_file():
        parts.append(
            f"<h2>Recipe</h2><pre>{_esc(recipe.read_text(encoding='utf-8', errors='replace'))}"
            "</pre>"
        )
    else:
        parts.append("<h2>Recipe</h2><p>No recipe.yaml in this variant.</p>")
    return "".join(parts), []


def _test_sets_section(
    all_runs: Sequence[StoredRun], shown: Sequence[StoredRun], variant_dir: Path | None
) -> str:
    """Every test set the variant was scored on (same model and schedule as the shown
    runs): accuracy with its spread, twins, per-class accuracy and class balance, and the
    shift mean over the ``shift-*`` test sets (issues 20 and 27)."""
    from datacur.compare import SHIFT_PREFIX, summarize_scores

    if not shown:
        return ""
    model, epochs = shown[0].model, shown[0].epochs
    groups: dict[str | None, list[StoredRun]] = {}
    for run in all_runs:
        if run.model == model and run.epochs == epochs and run.test_hash is not None:
            groups.setdefault(run.test_hash, []).append(run)
    if not groups:
        return ""
    rows, per_class_rows, balance_rows = [], [], []
    shift_means = []
    for group in sorted(groups.values(), key=lambda g: (g[0].test_name or "").startswith(
        SHIFT_PREFIX)):  # fmt: skip
        by_seed: dict[int, float] = {}
        for run in group:
            by_seed.setdefault(run.seed, run.score)
        mean, sd, _low, _high = summarize_scores(list(by_seed.values()))
        latest = group[-1]
        if not latest.twins_checked:
            twins = "not checked"
        elif latest.leaky:
            twins = f"{latest.twins_exact} exact + {latest.twins_near} near: LEAKY"
        else:
            twins = "none"
        without = [run.accuracy_without_twins for run in group if run.leaky]
        name = latest.test_name or "?"
        if name.startswith(SHIFT_PREFIX):
            shift_means.append(mean)
        rows.append(
            (
                name,
                len(by_seed),
                _fmt(mean),
                _fmt(sd),
                twins,
                _fmt(float(np.mean([w for w in without if w is not None])))
                if any(w is not None for w in without)
                else "—",
            )
        )
        per_class_rows.append(
            (
                name,
                *(
                    _fmt(
                        float(np.nanmean([run.per_class.get(label, math.nan) for run in group]))
                        if any(math.isfinite(run.per_class.get(label, math.nan)) for run in group)
                        else math.nan,
                        ".2f",
                    )
                    for label in CLASSES
                ),
            )
        )
        counts = np.asarray(latest.confusion, dtype=np.int64).sum(axis=1)
        balance_rows.append((name, *counts.tolist(), int(counts.sum())))
    if variant_dir is not None:
        split_counts, _sizes = _variant_facts(variant_dir)
        for split in ("val", "train"):
            if split in split_counts:
                row = [split_counts[split][label] for label in CLASSES]
                balance_rows.insert(0, (split, *row, sum(row)))
    parts = [
        "<h2>Test sets</h2>",
        f"<p>Model <b>{_esc(model)}</b>, {epochs} epochs; each test set scored from the same "
        "trainings (or by <code>datacur score</code> from their kept checkpoints). Twins: "
        "test images with an exact or ink-pHash twin in the variant's train/val.</p>",
        _table(("test set", "seeds", "mean acc", "sd", "twins", "acc w/o twins"), rows),
    ]
    if shift_means:
        parts.append(
            f"<p><b>Shift mean</b> over {len(shift_means)} shift-* test set(s): "
            f"<b>{_fmt(float(np.mean(shift_means)))}</b></p>"
        )
    parts += [
        "<h3>Per-class accuracy on each test set (mean over runs)</h3>",
        _table(("test set", *CLASSES), per_class_rows),
        "<h3>Class balance: train and val beside every test set</h3>",
        _table(("set", *CLASSES, "total"), balance_rows),
    ]
    return "".join(parts)


def _mean_per_class(tables: Sequence[Mapping[str, float] | None]) -> dict[str, float]:
    """Per-class mean over runs of the finite values they hold (NaN where none has one)."""
    means = {}
    for label in CLASSES:
        values = [
            float(table[label])
            for table in tables
            if table is not None
            and table.get(label) is not None
            and math.isfinite(float(table[label]))
        ]
        means[label] = float(np.mean(values)) if values else math.nan
    return means


def _gap_section(all_runs: Sequence[StoredRun], shown: Sequence[StoredRun]) -> str:
    """The generalization gap per class: the best checkpoint's accuracy on its own train
    and val splits beside every test set it was scored on, and train − test, val − test
    (each a mean over the trainings; issue 27 D5). Runs stored before train and val were
    measured show "—"."""
    from datacur.compare import SHIFT_PREFIX

    if not shown:
        return ""
    model, epochs = shown[0].model, shown[0].epochs
    trainings: dict[int, StoredRun] = {}
    groups: dict[str, list[StoredRun]] = {}
    for run in all_runs:
        if run.model != model or run.epochs != epochs:
            continue
        trainings.setdefault(run.id, run)
        if run.test_hash is not None:
            groups.setdefault(run.test_hash, []).append(run)
    measured = [run for run in trainings.values() if run.train_per_class is not None]
    train = _mean_per_class([run.train_per_class for run in measured])
    val = _mean_per_class([run.val_per_class for run in measured])
    tests = [
        (group[-1].test_name or "?", _mean_per_class([run.per_class for run in group]))
        for group in sorted(
            groups.values(), key=lambda g: ((g[0].test_name or "").startswith(SHIFT_PREFIX),)
        )
    ]
    headers = ["class", "train", "val"]
    for name, _means in tests:
        headers += [name, f"train − {name}", f"val − {name}"]
    rows = []
    for label in CLASSES:
        row: list[object] = [label, _fmt(train[label], ".2f"), _fmt(val[label], ".2f")]
        for _name, means in tests:
            row += [
                _fmt(means[label], ".2f"),
                _fmt(train[label] - means[label], "+.2f"),
                _fmt(val[label] - means[label], "+.2f"),
            ]
        rows.append(row)
    if measured:
        seeds = sorted({run.seed for run in measured})
        intro = (
            f"<p>Accuracy of the best-val checkpoint per class on its own train and val "
            f"splits beside every test set, and the gaps; means over "
            f"{count_noun(len(measured), 'training')} (seeds {', '.join(map(str, seeds))}). "
            "A large train − test gap is overfitting or a shift the data does not cover; a "
            "large val − test gap says val does not resemble the test set.</p>"
        )
    else:
        intro = (
            "<p class='note'>These runs were stored before train and val accuracy per class "
            "were measured (—): evaluate the variant again to see the gap.</p>"
        )
    if len(measured) < len(trainings) and measured:
        intro += (
            f"<p class='note'>{count_noun(len(trainings) - len(measured), 'training')} stored "
            "before train and val accuracy per class were measured are left out of train and "
            "val.</p>"
        )
    return "".join(
        (
            "<h2>Generalization gap per class</h2>",
            intro,
            f"<div class='wide'>{_table(headers, rows)}</div>",
        )
    )


def _errors_section(
    runs: Sequence[StoredRun], *, cwd: Path, db_path: Path | None, per_cell: int = 12
) -> str:
    """What the model confuses, and on which images: the confusion matrix with the diagonal
    removed (counts summed over runs, and rates of the true class), then a gallery per
    confusion cell (true x predicted), each image with the predicted probability when the
    run's per-image predictions are stored, linked to its path (issue 27 D5)."""
    from datacur.store import default_results_db

    if not runs:
        return ""
    total = np.sum([np.asarray(run.confusion, dtype=np.int64) for run in runs], axis=0)
    row_totals = total.sum(axis=1)
    count_rows, rate_rows = [], []
    for i, label in enumerate(CLASSES):
        count_rows.append(
            (label, *("·" if i == j else (total[i, j] or "") for j in range(len(CLASSES))))
        )
        rate_rows.append(
            (
                label,
                *(
                    "·"
                    if i == j
                    else (
                        f"{total[i, j] / row_totals[i]:.0%}"
                        if row_totals[i] and total[i, j]
                        else ""
                    )
                    for j in range(len(CLASSES))
                ),
            )
        )
    probabilities: dict[tuple[int, str], float] = {}
    store_db = Path(db_path) if db_path is not None else default_results_db()
    for run in runs:
        try:
            from datacur.modelstore import read_predictions

            rows, probs = read_predictions(store_db, run.id, run.test_hash)
        except DatacurError:
            continue
        for (path, _true, predicted), row in zip(rows, probs, strict=True):
            probabilities[(run.id, path)] = float(row[CLASSES.index(predicted)])
    cells: dict[tuple[str, str], list[tuple[str, int, float | None]]] = {}
    for run in runs:
        for path, true, predicted in run.predictions:
            if true != predicted:
                cells.setdefault((true, predicted), []).append(
                    (path, run.seed, probabilities.get((run.id, path)))
                )
    galleries = []
    for (true, predicted), items in sorted(cells.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        by_path: dict[str, list[float | None]] = {}
        for path, _seed, probability in items:
            by_path.setdefault(path, []).append(probability)
        figures = []
        for path in sorted(by_path, key=lambda name: (-len(by_path[name]), name))[:per_cell]:
            file = Path(path) if Path(path).is_absolute() else cwd / path
            uri = _thumbnail_uri(file)
            known = [value for value in by_path[path] if value is not None]
            caption = f"in {len(by_path[path])}/{len(runs)} run(s)" + (
                f", p({_esc(predicted)}) = {float(np.mean(known)):.2f}" if known else ""
            )
            image = f'<img src="{uri}" alt="{_esc(file.name)}">' if uri else _esc(file.name)
            figures.append(
                f'<figure><a href="{_esc(file.as_uri() if file.is_absolute() else path)}" '
                f'title="{_esc(path)}">{image}</a><figcaption>{caption}</figcaption></figure>'
            )
        galleries.append(
            f"<h3>true {_esc(true)} → predicted {_esc(predicted)}: {len(items)} time(s), "
            f"{len(by_path)} image(s)</h3><div class='gallery'>{''.join(figures)}</div>"
        )
    return "".join(
        (
            f"<h2>What the model confuses on {_esc(runs[0].test_name or 'val')}</h2>",
            "<p>Confusion without the diagonal, summed over runs (rows: true, columns: "
            "predicted).</p>",
            _table(("true \\ predicted", *CLASSES), count_rows),
            "<p>The same as a share of each true class.</p>",
            _table(("true \\ predicted", *CLASSES), rate_rows),
            *galleries,
        )
    )


def _model_sections(runs: Sequence[StoredRun], figures: dict[str, bytes]) -> str:
    scored_on = runs[0].scored_on
    total = np.sum([np.asarray(run.confusion, dtype=np.float64) for run in runs], axis=0)
    figures["curves"] = plot_learning_curves(runs)
    figures["confusion"] = plot_confusion(
        total, title=f"Confusion on {scored_on}, summed over {len(runs)} run(s)"
    )
    means: dict[str, float] = {}
    sds: dict[str, float] = {}
    for label in CLASSES:
        values = [run.per_class.get(label) for run in runs]
        finite = [v for v in values if v is not None and math.isfinite(v)]
        means[label] = float(np.mean(finite)) if finite else math.nan
        sds[label] = float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan
    figures["per_class"] = plot_per_class(
        means, sds, title=f"Per-class accuracy on {scored_on} (error bars: sd over runs)"
    )
    return "".join(
        (
            "<h2>Learning curves</h2>",
            _img(figures["curves"], "learning curves"),
            "<h2>Confusion matrix</h2>",
            _img(figures["confusion"], "confusion matrix"),
            "<h2>Per-class accuracy</h2>",
            _img(figures["per_class"], "per-class accuracy"),
        )
    )


# --------------------------------------------------------------------------- public API


def build_report(
    target: str,
    *,
    out_dir: Path | None = None,
    db_path: Path | None = None,
    test_name: str | None = None,
    epochs: int | None = None,
    model: str | None = None,
    variant_dir: Path | None = None,
    max_gallery: int = 120,
    overwrite: bool = False,
    cwd: Path | None = None,
) -> ReportResult:
    """Write the report of a variant (all its comparable runs) or of one run.

    Args:
        target: a variant folder, a variant name or hash prefix with runs in the database,
            or a run id (digits).
        out_dir: output folder (default ``reports/<variant>-<hash8>`` or ``reports/run-<id>``).
        db_path: results database (default: :func:`datacur.store.default_results_db`).
        test_name, epochs, model: keep only runs on this test set / schedule / model
            (``datacur models``). Without them the largest comparable group of runs is
            shown (and the others named in a note).
        variant_dir: the variant folder, for the dataset section when ``target`` is a name or
            run id (default: ``datasets/<name>`` if it still holds the same content).
        max_gallery: at most this many misclassified images in the gallery.
        overwrite: replace an existing ``out_dir``.
        cwd: folder relative paths are resolved against (default: the current folder).

    Returns:
        A :class:`ReportResult`; ``html`` opens in any browser with no other file.

    Raises:
        VariantError: ``target`` names no variant.
        StoreError: a run id that is not in the database.
        DatacurError: ``out_dir`` exists and ``overwrite`` is false.

    Example:
        >>> result = build_report("datasets/dcai-2021", out_dir=Path("reports/starter"))
    """
    from datacur.compare import resolve_variants
    from datacur.variant import compute_content_hash, list_variant_images

    cwd = cwd or Path.cwd()
    notes: list[str] = []
    folder = cwd / target
    if folder.is_dir():
        variant_dir = folder
        variant_hash = compute_content_hash(list_variant_images(folder))
        runs = load_runs(db_path, variant_hash=variant_hash)
        name = runs[-1].variant if runs else folder.resolve().name
        default_out = f"{name}-{variant_hash[:8]}"
        kind = "Variant"
    elif target.isdigit():
        runs = load_runs(db_path, run_ids=[int(target)])
        if not runs:
            raise StoreError(
                f"run {target}: no such run in {db_path or 'the results database'}. "
                "List runs with `datacur leaderboard`, or give a variant folder."
            )
        name, variant_hash = runs[0].variant, runs[0].variant_hash
        default_out = f"run-{target}"
        kind = f"Run {target} of"
    else:
        (ref,) = resolve_variants([target], load_runs(db_path), cwd=cwd)
        name, variant_hash = ref.variant, ref.variant_hash
        runs = load_runs(db_path, variant_hash=variant_hash)
        default_out = f"{name}-{variant_hash[:8]}"
        kind = "Variant"
    if test_name is not None:
        runs = [run for run in runs if run.test_name == test_name]
    if epochs is not None:
        runs = [run for run in runs if run.epochs == epochs]
    if model is not None:
        runs = [run for run in runs if run.model == model]
    scored_runs = list(runs)
    runs = _select_runs(runs, notes)
    if variant_dir is None:
        variant_dir = _find_variant_dir(name, variant_hash, cwd, runs)
    elif not (cwd / variant_dir).is_dir():
        raise VariantError(f"{variant_dir}: folder not found. Give the variant folder.")
    else:
        variant_dir = cwd / variant_dir

    figures: dict[str, bytes] = {}
    title = f"{kind} {name} ({variant_hash[:12]})"
    sections: list[str] = []
    if runs:
        sections.append(_runs_section(runs))
        sections.append(_model_sections(runs, figures))
        sections.append(_test_sets_section(scored_runs, runs, variant_dir))
        sections.append(_gap_section(scored_runs, runs))
        sections.append(_errors_section(runs, cwd=cwd, db_path=db_path))
        gallery, gallery_notes = _gallery_section(runs, max_items=max_gallery, cwd=cwd)
        sections.append(gallery)
        notes.extend(gallery_notes)
    else:
        notes.append(
            "No runs of this content in the results database: only the dataset is shown. "
            "Score it with `datacur evaluate`."
        )
    dataset, dataset_notes = _dataset_section(variant_dir, figures, name)
    sections.append(dataset)
    notes.extend(dataset_notes)
    if notes:
        sections.insert(0, "".join(f"<p class='note'>{_esc(note)}</p>" for note in notes))
    return _write_report(
        Path(out_dir) if out_dir is not None else cwd / "reports" / default_out,
        title=title,
        sections=sections,
        figures=figures,
        overwrite=overwrite,
        runs=len(runs),
        notes=notes,
    )


@dataclass(frozen=True)
class SweepPoint:
    """One variant of a sweep: its name, content hash and value on the varied axis."""

    name: str
    variant_hash: str
    value: float | str | None = None


def build_sweep_report(
    points: Sequence[SweepPoint],
    *,
    out_dir: Path,
    axis: str | None = None,
    db_path: Path | None = None,
    test_name: str | None = None,
    epochs: int | None = None,
    model: str | None = None,
    overwrite: bool = False,
) -> ReportResult:
    """Write the report of a sweep: the comparison table and, along an axis, the ratio plot.

    The first point is the baseline of the paired comparison (see
    :func:`datacur.compare.compare_variants`). With ``axis`` and numeric values, accuracy is
    plotted against the value with 95% intervals as error bars.

    Raises:
        StoreError: no comparable runs for the points.

    Example:
        >>> build_sweep_report(points, out_dir=Path("reports/sweep"), axis="sources.synth.share")
    """
    from datacur.compare import compare_variants

    if not points:
        raise StoreError("A sweep report needs at least one variant with runs.")
    comparison = compare_variants(
        [point.variant_hash for point in points],
        db_path=db_path,
        test_name=test_name,
        epochs=epochs,
        model=model,
    )
    figures: dict[str, bytes] = {}
    sections: list[str] = []
    notes = list(comparison.notes)
    level = f"{100 * (1 - comparison.alpha):g}%"
    headers = ["variant", "hash"]
    if axis:
        headers.append(axis)
    headers += ["seeds", "mean", "sd", f"{level} CI", "Δ vs first", "p", "verdict"]
    rows = []
    differences = [None, *comparison.differences]
    for point, stat, difference in zip(points, comparison.variants, differences, strict=True):
        row: list[object] = [point.name, stat.variant_hash[:8]]
        if axis:
            row.append(point.value)
        row += [
            stat.n,
            _fmt(stat.mean),
            _fmt(stat.sd),
            f"[{_fmt(_clip01(stat.ci_low))}, {_fmt(_clip01(stat.ci_high))}]",
        ]
        if difference is None:
            row += ["baseline", "", ""]
        else:
            row += [
                _fmt(difference.diff, "+.4f"),
                _fmt(difference.p_value, ".3g"),
                difference.verdict,
            ]
        rows.append(row)
    sections.append(
        f"<h2>Comparison</h2><p>Accuracy on <b>{_esc(comparison.scored_on)}</b>, model "
        f"{_esc(comparison.model)}, {count_noun(comparison.epochs, 'epoch')}; differences "
        f"paired by seed against the first variant.</p>" + _table(headers, rows)
    )
    numeric = axis is not None and all(
        isinstance(point.value, int | float) and not isinstance(point.value, bool)
        for point in points
    )
    if numeric:
        figures["ratio"] = plot_ratio(
            [float(point.value) for point in points],  # type: ignore[arg-type]
            [stat.mean for stat in comparison.variants],
            [stat.ci_low for stat in comparison.variants],
            [stat.ci_high for stat in comparison.variants],
            axis_label=str(axis),
            title=f"Accuracy on {comparison.scored_on} vs {axis} (bars: {level} CI, dots: seeds)",
            scores=[stat.scores for stat in comparison.variants],
        )
        sections.append(f"<h2>Accuracy against {_esc(axis)}</h2>" + _img(figures["ratio"], "ratio"))
    elif axis:
        notes.append(f"The values of {axis} are not all numbers: no ratio plot.")
    if notes:
        sections.insert(0, "".join(f"<p class='note'>{_esc(note)}</p>" for note in notes))
    title = f"Sweep over {axis}" if axis else f"Sweep of {len(points)} variant(s)"
    runs = sum(stat.n for stat in comparison.variants)
    return _write_report(
        out_dir,
        title=title,
        sections=sections,
        figures=figures,
        overwrite=overwrite,
        runs=runs,
        notes=notes,
    )
