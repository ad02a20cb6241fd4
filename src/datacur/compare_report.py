"""The comparison report: two or more variants on one self-contained HTML page (issue 23).

Accuracy per test set with intervals and the shift mean (from :mod:`datacur.compare`),
per-class deltas, the test images one variant gets right and the other wrong, class
balance and sources, and what each recipe changed. Nothing here trains.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from datacur.errors import DatacurError, StoreError, VariantError
from datacur.labels import CLASSES, SPLITS
from datacur.report import (
    ReportResult,
    _class_balance_figure,
    _clip01,
    _esc,
    _find_variant_dir,
    _fmt,
    _img,
    _mean_per_class,
    _png_bytes,
    _table,
    _thumbnail_uri,
    _write_report,
)
from datacur.store import StoredRun, load_runs

__all__ = [
    "DEFAULT_FOCUS_TEST",
    "ImageVotes",
    "build_comparison_report",
    "describe_recipe",
    "diff_recipes",
    "split_right_wrong",
    "tally_predictions",
]

DEFAULT_FOCUS_TEST = "dev-test"
"""The test set the per-class deltas and the image lists look at unless --test names one."""

DELTA_FIGURE_SIZE = (6.5, 3.5)
"""Inches of the per-class delta chart (the report's per-class chart size)."""

_ORDER = {label: index for index, label in enumerate(CLASSES)}


# --------------------------------------------------------------------------- pure parts


@dataclass(frozen=True)
class ImageVotes:
    """One test image under one variant: how many of its runs got it right."""

    path: str
    true: str
    right: int
    runs: int
    predicted: str  # the most frequent prediction (ties: class order)

    @property
    def majority_right(self) -> bool:
        return 2 * self.right > self.runs

    @property
    def majority_wrong(self) -> bool:
        return 2 * self.right < self.runs


def tally_predictions(predictions: Sequence[Sequence[Sequence[str]]]) -> dict[str, ImageVotes]:
    """Votes per image over runs: ``predictions[run]`` is that run's ``(path, true, predicted)``.

    Example:
        >>> tally_predictions([[("a.png", "i", "i")], [("a.png", "i", "v")]])["a.png"].right
        1
    """
    right: Counter[str] = Counter()
    runs: Counter[str] = Counter()
    truth: dict[str, str] = {}
    predicted: dict[str, Counter[str]] = {}
    for rows in predictions:
        for path, true, guess in rows:
            runs[path] += 1
            truth[path] = true
            right[path] += guess == true
            predicted.setdefault(path, Counter())[guess] += 1
    return {
        path: ImageVotes(
            path=path,
            true=truth[path],
            right=right[path],
            runs=runs[path],
            predicted=min(
                predicted[path].items(), key=lambda kv: (-kv[1], _ORDER.get(kv[0], 99), kv[0])
            )[0],
        )
        for path in sorted(runs)
    }


def split_right_wrong(
    first: Mapping[str, ImageVotes], second: Mapping[str, ImageVotes]
) -> tuple[list[tuple[ImageVotes, ImageVotes]], list[tuple[ImageVotes, ImageVotes]], int]:
    """The images ``first`` gets right and ``second`` wrong (by majority over each one's
    runs), the reverse, and how many images are split evenly in one of them (not listed).

    Each list holds ``(first's votes, second's votes)`` pairs, the clearest first (largest
    gap in the share of runs right), then by class and path.
    """
    first_only, second_only = [], []
    ties = 0
    for path in sorted(set(first) & set(second)):
        a, b = first[path], second[path]
        if not (a.majority_right or a.majority_wrong) or not (b.majority_right or b.majority_wrong):
            ties += 1
            continue
        if a.majority_right and b.majority_wrong:
            first_only.append((a, b))
        elif b.majority_right and a.majority_wrong:
            second_only.append((a, b))

    def gap(pair: tuple[ImageVotes, ImageVotes]) -> tuple[float, int, str]:
        a, b = pair
        return (-abs(a.right / a.runs - b.right / b.runs), _ORDER.get(a.true, 99), a.path)

    return sorted(first_only, key=gap), sorted(second_only, key=gap), ties


def _stem(value: object) -> str:
    return Path(str(value)).stem if value else "?"


def _step_phrase(step: Mapping[str, Any]) -> str:
    kind, options = next(
        ((key, value) for key, value in step.items() if value is not None), ("?", None)
    )
    options = options or {}
    if kind == "review":
        return f"review ({_stem(options.get('journal'))})"
    if kind == "dedupe":
        what = "exact+near" if options.get("near", True) else "exact"
        if options.get("near", True):
            what += f" ≤{options.get('max_distance', '?')}"
        return f"dedupe ({what})"
    if kind == "drop":
        listed = len(options.get("files") or ()) + len(options.get("lists") or ())
        return f"drop ({listed} list(s))"
    if kind == "crop_and_pad":
        parts = [name for name in ("crop", "pad") if options.get(name, True)]
        return "+".join(parts) or "crop_and_pad (off)"
    if kind == "augment":
        amount = (
            f"{options['copies']} copies"
            if options.get("copies")
            else f"to {options.get('per_class_target')} per class"
        )
        return f"augment ({_stem(options.get('pipeline'))}, {amount})"
    return str(kind)


def _input_phrase(item: Mapping[str, Any]) -> str:
    kind = item.get("kind", "?")
    where = (item.get("synth") or {}).get("source") if kind == "synth" else _stem(item.get("path"))
    take = next(
        (
            f"{key} {item[key]}"
            for key in ("count", "share", "per_class")
            if item.get(key) is not None
        ),
        "all",
    )
    return f"{item.get('name', '?')} ({kind} {where}, split {item.get('split', 'keep')}, {take})"


def _fill_phrase(recipe: Mapping[str, Any]) -> str:
    fill = recipe.get("fill")
    if not fill:
        return "no fill"
    if fill is True:
        return f"fill to {recipe.get('cap', '?')} with the last augment step's pipeline"
    inputs = ", ".join(fill.get("inputs") or ()) or "every input"
    return f"fill to {recipe.get('cap', '?')} with {_stem(fill.get('pipeline'))} copies of {inputs}"


def _split_phrase(recipe: Mapping[str, Any]) -> str:
    split = recipe.get("split") or {}
    return f"val {split.get('val_fraction', 0.2):.0%} by {split.get('group_by', 'writer')}"


def describe_recipe(recipe: Mapping[str, Any]) -> str:
    """One sentence: what a resolved recipe (a variant's ``recipe.yaml``) builds.

    Example:
        >>> describe_recipe({"name": "raw", "inputs": [], "fill": False})
        'recipe raw: inputs none; no steps; no fill; val 20% by writer'
    """
    name = recipe.get("name", "?")
    about = f" ({recipe['description']})" if recipe.get("description") else ""
    inputs = ", ".join(_input_phrase(item) for item in recipe.get("inputs") or ()) or "none"
    steps = ", ".join(_step_phrase(step) for step in recipe.get("steps") or ())
    return (
        f"recipe {name}{about}: inputs {inputs}; "
        f"{'steps ' + steps if steps else 'no steps'}; {_fill_phrase(recipe)}; "
        f"{_split_phrase(recipe)}"
    )


def diff_recipes(base: Mapping[str, Any], other: Mapping[str, Any]) -> list[str]:
    """What ``other`` does differently from ``base``, one short phrase per change.

    Inputs are matched by name; steps, fill, split, cap, seed and excluded folders are
    compared as wholes. An empty list: the same recipe apart from name and description.

    Example:
        >>> diff_recipes({"seed": 0}, {"seed": 1})
        ['seed 1 instead of 0']
    """
    changes: list[str] = []
    base_inputs = {item.get("name"): item for item in base.get("inputs") or ()}
    other_inputs = {item.get("name"): item for item in other.get("inputs") or ()}
    for name, item in other_inputs.items():
        if name not in base_inputs:
            changes.append(f"adds input {_input_phrase(item)}")
        elif _input_phrase(item) != _input_phrase(base_inputs[name]) or item != base_inputs[name]:
            changes.append(
                f"input {_input_phrase(item)} instead of {_input_phrase(base_inputs[name])}"
                if _input_phrase(item) != _input_phrase(base_inputs[name])
                else f"input {name} changed ({_stem(item.get('path'))})"
            )
    changes += [f"drops input {name}" for name in base_inputs if name not in other_inputs]
    base_steps = [_step_phrase(step) for step in base.get("steps") or ()]
    other_steps = [_step_phrase(step) for step in other.get("steps") or ()]
    if base_steps != other_steps:
        added = [step for step in other_steps if step not in base_steps]
        removed = [step for step in base_steps if step not in other_steps]
        parts = [f"adds {', '.join(added)}"] if added else []
        parts += [f"removes {', '.join(removed)}"] if removed else []
        changes.append("steps: " + ("; ".join(parts) if parts else "same steps, other order"))
    for phrase in (_fill_phrase, _split_phrase):
        if phrase(other) != phrase(base):
            changes.append(f"{phrase(other)} instead of {phrase(base)}")
    for key in ("cap", "seed"):
        if other.get(key) != base.get(key):
            changes.append(f"{key} {other.get(key)} instead of {base.get(key)}")
    base_excluded = sorted(_stem(f) for f in (base.get("exclude") or {}).get("folders") or ())
    other_excluded = sorted(_stem(f) for f in (other.get("exclude") or {}).get("folders") or ())
    if base_excluded != other_excluded:
        changes.append(
            f"excludes {', '.join(other_excluded) or 'nothing'} instead of "
            f"{', '.join(base_excluded) or 'nothing'}"
        )
    return changes


# --------------------------------------------------------------------------- resolution


@dataclass(frozen=True)
class _Compared:
    spec: str
    name: str
    variant_hash: str
    runs: list[StoredRun]  # every test set, under --epochs/--model
    variant_dir: Path | None


def _filters(epochs: int | None, model: str | None) -> str:
    given = [f"{key}={value}" for key, value in (("epochs", epochs), ("model", model)) if value]
    return f" ({', '.join(given)})" if given else ""


def _resolve(
    spec: str,
    every_run: Sequence[StoredRun],
    kept: Sequence[StoredRun],
    *,
    db_label: str,
    filters: str,
    cwd: Path,
) -> _Compared:
    """A target as ``datacur report`` takes it: a variant folder, a run id, a name or a hash
    prefix; ``kept`` are the runs left by --epochs/--model."""
    from datacur.compare import resolve_variants
    from datacur.variant import compute_content_hash, list_variant_images

    folder = cwd / spec
    if folder.is_dir():
        variant_hash = compute_content_hash(list_variant_images(folder, allow_empty_class=True))
        runs = [run for run in kept if run.variant_hash == variant_hash]
        if not runs:
            raise StoreError(
                f"{spec}: no runs of this variant ({variant_hash[:12]}) in {db_label}{filters}. "
                f"Score it first with `datacur evaluate {spec} --test datasets/dev-test`, or "
                "relax --epochs/--model."
            )
        return _Compared(spec, runs[-1].variant, variant_hash, runs, folder)
    if spec.isdigit():
        runs = [run for run in kept if run.id == int(spec)]
        if not runs:
            raise StoreError(
                f"run {spec}: no such run in {db_label}{filters}. List runs with `datacur "
                "leaderboard`, or name a variant folder or name instead."
            )
        return _Compared(spec, runs[0].variant, runs[0].variant_hash, runs, None)
    (ref,) = resolve_variants([spec], every_run, cwd=cwd)
    runs = [run for run in kept if run.variant_hash == ref.variant_hash]
    if not runs:
        raise StoreError(
            f"{spec}: no runs of variant {ref.variant} ({ref.variant_hash[:12]}) in "
            f"{db_label}{filters}. Score it with `datacur evaluate`, or relax --epochs/--model."
        )
    return _Compared(spec, ref.variant, ref.variant_hash, runs, None)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "variant"


# --------------------------------------------------------------------------- sections


def _interval_cell(scores: Mapping[int, float]) -> tuple[str, float]:
    from datacur.compare import summarize_scores

    mean, _sd, low, high = summarize_scores(list(scores.values()))
    interval = (
        f" [{_fmt(_clip01(low), '.3f')}, {_fmt(_clip01(high), '.3f')}]"
        if math.isfinite(low)
        else ""
    )
    return f"{_fmt(mean)}{interval} n={len(scores)}", mean


def _spread_cell(difference: Any) -> str:
    if difference.method == "none":
        return "unknown (needs ≥ 2 seeds each)"
    if difference.significant:
        return f"yes (p = {difference.p_value:.2g}, {difference.method})"
    return f"no (p = {difference.p_value:.2g}, {difference.method})"


def _accuracy_section(
    table: Any, runs: Sequence[Sequence[StoredRun]], names: Sequence[str], focus: str
) -> tuple[str, list[str]]:
    """Accuracy per test set per variant (mean over seeds, 95% interval in [0, 1], n),
    Δ to the baseline with the paired verdict, and the shift mean; plus headline phrases."""
    from datacur.compare import assess_difference, scores_by_seed

    headers = ["test set"]
    for index, name in enumerate(names):
        headers.append(f"{name}: mean [95% CI] n")
        if index:
            headers += [f"Δ {name} − {names[0]}", "beyond seed spread?"]
    headers.append("twins in train/val (exact+near)")
    rows: list[list[object]] = []
    per_seed_shift: list[dict[int, list[float]]] = [{} for _ in names]
    by_test: dict[str, list[Any]] = {}
    leaky: set[str] = set()
    for row in table.rows:
        groups = [[run for run in group if run.test_hash == row.test_hash] for group in runs]
        seeds = [scores_by_seed(group) for group in groups]
        cells: list[object] = [row.test_name or "?"]
        differences = []
        for index, name in enumerate(names):
            text, _mean = _interval_cell(seeds[index])
            if row.twins[index] not in ("0", "?", "—"):
                text += f" LEAKY (w/o twins {_fmt(row.without_twins[index])})"
            cells.append(text)
            if index:
                difference = assess_difference(
                    seeds[0], seeds[index], variant=name, baseline=names[0]
                )
                differences.append(difference)
                cells += [_fmt(100 * difference.diff, "+.1f") + " pts", _spread_cell(difference)]
            if row.is_shift:
                for seed, score in seeds[index].items():
                    per_seed_shift[index].setdefault(seed, []).append(score)
        cells.append(" / ".join(row.twins))
        rows.append(cells)
        by_test[row.test_name or "?"] = differences
        if any(label not in ("0", "?", "—") for label in row.twins):
            leaky.add(row.test_name or "?")
    shift_differences: list[Any] = []
    if table.shift_mean is not None:
        n_shift = len(table.shift_tests)
        complete = [
            {seed: float(np.mean(v)) for seed, v in shifts.items() if len(v) == n_shift}
            for shifts in per_seed_shift
        ]
        cells = [f"shift mean ({n_shift} shift-* sets)"]
        for index, name in enumerate(names):
            cells.append(f"{_fmt(table.shift_mean[index])} n={len(complete[index])}")
            if index:
                difference = assess_difference(
                    complete[0], complete[index], variant=name, baseline=names[0]
                )
                shift_differences.append(difference)
                cells += [
                    _fmt(100 * (table.shift_mean[index] - table.shift_mean[0]), "+.1f") + " pts",
                    _spread_cell(difference),
                ]
        cells.append("")
        rows.append(cells)
    intro = (
        f"<p>Model <b>{_esc(table.model)}</b>, {table.epochs} epochs; mean over each variant's "
        "seeds with its 95% t interval clipped to [0, 1] and the number of seeds n. Δ is "
        f"against the baseline <b>{_esc(names[0])}</b>, paired by seed (the verdict of "
        "<code>datacur compare</code>: beyond the seed spread when the paired t-test gives "
        "p &lt; 0.05). LEAKY: the test set has twins in that variant's train/val; its accuracy "
        "without them is given.</p>"
    )
    html = (
        "<h2>Accuracy per test set</h2>"
        + intro
        + f"<div class='wide'>{_table(headers, rows)}</div>"
    )
    for note in table.notes:
        html += f"<p class='note'>{_esc(note)}</p>"
    headline = []
    for index, name in enumerate(names[1:]):
        parts = []
        if focus in by_test:
            where = f"{focus} (LEAKY)" if focus in leaky else focus
            parts.append(_headline_part(by_test[focus][index], where))
        if shift_differences:
            parts.append(_headline_part(shift_differences[index], "the shift mean"))
        if parts:
            headline.append(f"{name} vs {names[0]}: " + ", ".join(parts) + ".")
    return html, headline


def _headline_part(difference: Any, where: str) -> str:
    if difference.method == "none":
        spread = "spread unknown: fewer than 2 seeds"
    else:
        spread = f"{'beyond' if difference.significant else 'within'} the seed spread"
    return f"{_fmt(100 * difference.diff, '+.1f')} points on {where} ({spread})"


def _per_class_delta_figure(deltas: Mapping[str, Mapping[str, float]], *, title: str) -> bytes:
    from matplotlib.figure import Figure

    figure = Figure(figsize=DELTA_FIGURE_SIZE, dpi=100, layout="constrained")
    axis = figure.subplots()
    positions = np.arange(len(CLASSES))
    width = 0.8 / max(1, len(deltas))
    for index, (name, values) in enumerate(deltas.items()):
        heights = np.nan_to_num([100 * values.get(label, math.nan) for label in CLASSES])
        offset = (index - (len(deltas) - 1) / 2) * width
        bars = axis.bar(positions + offset, heights, width, label=name, color=f"C{index + 1}")
        axis.bar_label(bars, fmt="%+.0f", fontsize=7, padding=2)
    axis.axhline(0, color="black", linewidth=0.8)
    axis.set_xticks(positions, CLASSES)
    axis.set(ylabel="Δ accuracy (points)", title=title)
    axis.margins(y=0.15)
    axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    axis.grid(axis="y", alpha=0.3)
    return _png_bytes(figure)


def _per_class_section(
    focus: str, runs: Sequence[Sequence[StoredRun]], names: Sequence[str], figures: dict[str, bytes]
) -> str:
    means = [_mean_per_class([run.per_class for run in group]) for group in runs]
    counts = np.asarray(runs[0][-1].confusion, dtype=np.int64).sum(axis=1)
    headers = ["class", "test images", f"{names[0]} (baseline)"]
    for name in names[1:]:
        headers += [name, f"Δ {name}"]
    rows = []
    for index, label in enumerate(CLASSES):
        row: list[object] = [label, int(counts[index]), _fmt(means[0][label], ".3f")]
        for other in means[1:]:
            row += [_fmt(other[label], ".3f"), _fmt(100 * (other[label] - means[0][label]), "+.1f")]
        rows.append(row)
    deltas = {
        name: {label: other[label] - means[0][label] for label in CLASSES}
        for name, other in zip(names[1:], means[1:], strict=True)
    }
    figures["class_delta"] = _per_class_delta_figure(
        deltas, title=f"Per-class accuracy change vs {names[0]} on {focus} (points)"
    )
    return "".join(
        (
            f"<h2>Per-class accuracy on {_esc(focus)}</h2>",
            "<p>Mean over each variant's runs; Δ in points against the baseline.</p>",
            "<div class='side'>",
            _table(headers, rows),
            _img(figures["class_delta"], "per-class accuracy change"),
            "</div>",
        )
    )


def _read_votes(group: Sequence[StoredRun], db_path: Path) -> tuple[dict[str, ImageVotes], int]:
    """Votes from each run's stored predictions csv.gz (the database's copy when a file is
    missing); also how many runs fell back to the database."""
    from datacur.modelstore import read_predictions

    predictions: list[list[tuple[str, str, str]]] = []
    fallback = 0
    for run in group:
        try:
            rows, _probabilities = read_predictions(db_path, run.id, run.test_hash)
        except DatacurError:
            rows = [(path, true, guess) for path, true, guess in run.predictions]
            fallback += 1
        predictions.append(rows)
    return tally_predictions(predictions), fallback


def _figure(
    pair: tuple[ImageVotes, ImageVotes], names: tuple[str, str], cwd: Path
) -> tuple[str, bool]:
    """A thumbnail with its caption; and whether the image was found on disk."""
    a, b = pair
    file = Path(a.path) if Path(a.path).is_absolute() else cwd / a.path
    uri = _thumbnail_uri(file)
    image = f'<img src="{uri}" alt="{_esc(file.name)}">' if uri else "<i>(not on disk)</i>"
    lines = [f"true <b>{_esc(a.true)}</b>"]
    for name, votes in zip(names, (a, b), strict=True):
        mark = "✓" if votes.majority_right else "✗"
        lines.append(f"{_esc(name)}: {_esc(votes.predicted)} {mark} {votes.right}/{votes.runs}")
    return (
        f'<figure title="{_esc(a.path)}">{image}<figcaption>{"<br>".join(lines)}'
        f'<br><span class="path">{_esc(a.path)}</span></figcaption></figure>',
        uri is not None,
    )


def _images_section(
    focus: str,
    runs: Sequence[Sequence[StoredRun]],
    names: Sequence[str],
    means: Sequence[float],
    *,
    db_path: Path,
    cwd: Path,
    max_items: int,
) -> tuple[str, list[str]]:
    notes: list[str] = []
    votes = []
    for name, group in zip(names, runs, strict=True):
        tally, fallback = _read_votes(group, db_path)
        votes.append(tally)
        if fallback:
            notes.append(
                f"{name}: {fallback} run(s) on {focus} have no predictions csv.gz in the model "
                "store; their predictions were read from the database instead."
            )
    parts = [
        f"<h2>Images on {_esc(focus)} that one variant gets right and the other wrong</h2>",
        "<p>Majority vote over each variant's runs (seeds): an image is listed when more than "
        "half of one variant's runs get it right and more than half of the other's get it "
        "wrong; images split evenly (e.g. 1 of 2 runs) are not listed. Each caption gives the "
        "true label, each variant's most frequent prediction and its runs right / runs, then "
        "the image's path.</p>",
    ]
    missing = 0
    for index in range(1, len(names)):
        base, other = names[0], names[index]
        first, second, ties = split_right_wrong(votes[index], votes[0])
        # the better variant (higher mean on the focus test set) first
        ordered = [(other, base, first, (0, 1)), (base, other, second, (1, 0))]
        if means[0] > means[index]:
            ordered.reverse()
        for right_name, wrong_name, pairs, order in ordered:
            figures = []
            for pair in pairs[:max_items]:
                shown = (pair[order[0]], pair[order[1]])
                html, found = _figure(shown, (right_name, wrong_name), cwd)
                missing += not found
                figures.append(html)
            more = f" (showing {len(figures)})" if len(figures) < len(pairs) else ""
            parts.append(
                f"<h3>{_esc(right_name)} right, {_esc(wrong_name)} wrong: "
                f"{len(pairs)} image(s){more}</h3>"
                + (f"<div class='gallery'>{''.join(figures)}</div>" if figures else "<p>None.</p>")
            )
        if ties:
            parts.append(
                f"<p>{ties} image(s) are split evenly over the runs of {_esc(other)} or "
                f"{_esc(base)} and are not listed.</p>"
            )
    if missing:
        notes.append(
            f"{missing} listed image(s) were not found on disk (paths are relative to the folder "
            "the runs were made in): run the report from that folder to see them."
        )
    return "".join(parts), notes


def _manifest_rows(variant_dir: Path) -> list[dict[str, str]]:
    from datacur.variant import read_manifest

    if not (variant_dir / "manifest.csv").is_file():
        return []
    try:
        return list(read_manifest(variant_dir))
    except (VariantError, ValueError):
        return []


def _origin_root(origin: str) -> str:
    if ":" in origin.split("/", 1)[0]:
        return origin.split(":", 1)[0] + ":"
    return origin.split("/", 1)[0] or "?"


def _dataset_section(
    variants: Sequence[_Compared], figures: dict[str, bytes]
) -> tuple[str, list[Mapping[str, Any] | None]]:
    """Class balance and sources side by side; returns the recipes read for the sentences."""
    import yaml

    from datacur.variant import list_variant_images

    balance_rows, train_counts = [], {}
    sources: dict[tuple[str, str], list[str]] = {}
    origins: dict[str, list[int]] = {}
    recipes: list[Mapping[str, Any] | None] = []
    missing = []
    for index, variant in enumerate(variants):
        if variant.variant_dir is None:
            missing.append(variant.name)
            recipes.append(None)
            continue
        counts = {split: dict.fromkeys(CLASSES, 0) for split in SPLITS}
        for image in list_variant_images(variant.variant_dir, allow_empty_class=True):
            counts[image.split][image.label] += 1
        for split in SPLITS:
            row = [counts[split][label] for label in CLASSES]
            balance_rows.append((f"{variant.name} {split}", *row, sum(row)))
        train_counts[variant.name] = counts["train"]
        by_kind: Counter[tuple[str, str, str]] = Counter()
        for entry in _manifest_rows(variant.variant_dir):
            kind = "copy" if entry.get("parent") else "original"
            by_kind[(entry.get("source") or "?", kind, entry.get("split") or "?")] += 1
            root = _origin_root(entry.get("origin") or "")
            origins.setdefault(root, [0] * len(variants))[index] += 1
        for source, kind, _split in by_kind:
            cells = sources.setdefault((source, kind), ["—"] * len(variants))
            train, val = (by_kind.get((source, kind, split), 0) for split in ("train", "val"))
            cells[index] = f"{train} / {val}"
        recipe_file = variant.variant_dir / "recipe.yaml"
        try:
            loaded = yaml.safe_load(recipe_file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            loaded = None
        recipes.append(loaded if isinstance(loaded, dict) else None)
    parts = ["<h2>Class balance and sources</h2>"]
    if missing:
        parts.append(
            f"<p class='note'>Variant folder not found for {', '.join(missing)}: give the "
            "variant folder as the TARGET (e.g. datasets/NAME) to show its balance, sources "
            "and recipe.</p>"
        )
    if balance_rows:
        figures["balance"] = _png_bytes(
            _class_balance_figure(train_counts, title="Train images per class")
        )
        parts += [
            _table(("variant split", *CLASSES, "total"), balance_rows),
            _img(figures["balance"], "train images per class"),
        ]
    if sources:
        names = [variant.name for variant in variants]
        rows = [(source, kind, *cells) for (source, kind), cells in sorted(sources.items())]
        parts += [
            "<h3>Sources (manifest <code>source</code>; copy: made from a parent image), "
            "train / val</h3>",
            _table(("source", "kind", *names), rows),
            "<h3>Where the pixels first came from (manifest <code>origin</code>)</h3>",
            _table(
                ("origin", *names),
                [(root, *counts) for root, counts in sorted(origins.items())],
            ),
        ]
    return "".join(parts), recipes


def _recipe_section(
    variants: Sequence[_Compared], recipes: Sequence[Mapping[str, Any] | None]
) -> str:
    items = []
    base_name, base = variants[0].name, recipes[0]
    for index, (variant, recipe) in enumerate(zip(variants, recipes, strict=True)):
        if recipe is None:
            why = (
                "no recipe.yaml in its folder"
                if variant.variant_dir is not None
                else "its folder was not found (give it as the TARGET)"
            )
            sentence = f"{variant.name}: recipe unknown, {why}."
        elif index == 0:
            sentence = f"{variant.name} (baseline): {describe_recipe(recipe)}."
        elif base is None:
            sentence = f"{variant.name}: {describe_recipe(recipe)}."
        else:
            changes = diff_recipes(base, recipe)
            sentence = (
                f"{variant.name} changes {base_name}'s recipe: "
                + ("; ".join(changes) if changes else "nothing but its name and description")
                + "."
            )
        items.append(f"<li>{_esc(sentence)}</li>")
    return "<h2>What each recipe changed</h2><ul>" + "".join(items) + "</ul>"


_EXTRA_CSS = (
    "<style>.gallery figcaption .path { color: #666; font-size: 0.65rem; "
    "overflow-wrap: anywhere; } .side { display: flex; flex-wrap: wrap; gap: 1rem; "
    "align-items: flex-start; } .side img.plot { max-width: 650px; }</style>"
)


# --------------------------------------------------------------------------- public API


def build_comparison_report(
    targets: Sequence[str],
    *,
    out_dir: Path | None = None,
    db_path: Path | None = None,
    test_name: str | None = None,
    epochs: int | None = None,
    model: str | None = None,
    max_gallery: int = 60,
    overwrite: bool = False,
    cwd: Path | None = None,
) -> ReportResult:
    """Write one page comparing variants; the first is the baseline.

    Args:
        targets: two or more variant folders, variant names or hash prefixes with runs, or
            run ids (a run id stands for that training alone).
        out_dir: output folder (default ``reports/compare-<A>-vs-<B>...``).
        db_path: results database (default: :func:`datacur.store.default_results_db`).
        test_name: the test set of the per-class deltas and the image lists (default
            ``dev-test`` when all were scored on it, else the first shared one); every
            shared test set is in the accuracy table.
        epochs, model: keep only runs of this schedule / model (needed when the variants
            share several).
        max_gallery: at most this many images per right/wrong list.
        overwrite: replace an existing ``out_dir``.
        cwd: folder relative paths (targets, image paths of the runs) are resolved against.

    Returns:
        A :class:`datacur.report.ReportResult`; ``html`` opens alone in any browser.

    Raises:
        VariantError: a target names no variant, or two name the same content.
        StoreError: a target has no runs (under the filters), the variants share no test
            set or schedule, or ``test_name`` is not one they share.
        DatacurError: ``out_dir`` exists and ``overwrite`` is false.

    Example:
        >>> build_comparison_report(["raw", "best"], out_dir=Path("reports/raw-vs-best"))
    """
    from datacur.compare import compare_test_sets
    from datacur.store import default_results_db

    if len(targets) < 2:
        raise VariantError("A comparison needs at least two targets (the first is the baseline).")
    cwd = cwd or Path.cwd()
    db_path = Path(db_path) if db_path is not None else default_results_db()
    every_run = load_runs(db_path)
    kept = [
        run
        for run in every_run
        if (epochs is None or run.epochs == epochs) and (model is None or run.model == model)
    ]
    db_label = str(db_path) if db_path.exists() else f"{db_path} (no such file)"
    variants = [
        _resolve(spec, every_run, kept, db_label=db_label, filters=_filters(epochs, model), cwd=cwd)
        for spec in targets
    ]
    seen: dict[str, str] = {}
    for variant in variants:
        if variant.variant_hash in seen:
            raise VariantError(
                f"{variant.spec} and {seen[variant.variant_hash]} are the same variant content "
                f"({variant.variant_hash[:12]}). Name each variant once."
            )
        seen[variant.variant_hash] = variant.spec
    table = compare_test_sets(
        [variant.variant_hash for variant in variants],
        epochs=epochs,
        model=model,
        runs=[run for variant in variants for run in variant.runs],
    )
    if not table.rows:
        raise StoreError(
            f"{', '.join(targets)}: no test set was scored for all of them. Score each with "
            "`datacur score VARIANT --test datasets/dev-test` (or evaluate with --test)."
        )
    names = [variant.name for variant in variants]
    if len(set(names)) < len(names):
        names = [f"{variant.name} ({variant.spec})" for variant in variants]
    context = [
        [run for run in variant.runs if (run.model, run.epochs) == (table.model, table.epochs)]
        for variant in variants
    ]
    shared = [row.test_name or "?" for row in table.rows]
    if test_name is not None and test_name not in shared:
        raise StoreError(
            f"--test {test_name}: not a test set all of {', '.join(targets)} were scored on "
            f"(shared: {', '.join(shared)}). Choose one of those."
        )
    focus = test_name or (DEFAULT_FOCUS_TEST if DEFAULT_FOCUS_TEST in shared else shared[0])
    focus_row = table.rows[shared.index(focus)]
    focus_runs = [
        [run for run in group if run.test_hash == focus_row.test_hash] for group in context
    ]
    variants = [
        variant
        if variant.variant_dir is not None
        else _Compared(
            variant.spec,
            variant.name,
            variant.variant_hash,
            variant.runs,
            _find_variant_dir(variant.name, variant.variant_hash, cwd, variant.runs),
        )
        for variant in variants
    ]

    figures: dict[str, bytes] = {}
    notes: list[str] = []
    accuracy, headline = _accuracy_section(table, context, names, focus)
    per_class = _per_class_section(focus, focus_runs, names, figures)
    images, image_notes = _images_section(
        focus,
        focus_runs,
        names,
        [float(np.mean([run.score for run in group])) for group in focus_runs],
        db_path=db_path,
        cwd=cwd,
        max_items=max_gallery,
    )
    notes += image_notes
    dataset, recipes = _dataset_section(variants, figures)
    unfound = [variant.name for variant in variants if variant.variant_dir is None]
    if unfound:
        notes.append(
            f"Variant folder not found for {', '.join(unfound)}: give the folder as the TARGET "
            "to show its class balance, sources and recipe."
        )
    summary = "".join(
        f"<li>{_esc(variant.name)}: {_esc(variant.variant_hash[:12])}, "
        f"{len({run.id for run in group})} training(s), seeds "
        f"{', '.join(map(str, sorted({run.seed for run in group})))}</li>"
        for variant, group in zip(variants, context, strict=True)
    )
    sections = [
        _EXTRA_CSS,
        "<p>Baseline: <b>"
        + _esc(names[0])
        + "</b>. "
        + _esc(" ".join(headline) or "See the table for the differences.")
        + f" Per-class deltas and images are on <b>{_esc(focus)}</b>"
        + (" (choose another with --test)." if test_name is None else ".")
        + "</p>",
        f"<ul>{summary}</ul>",
        _recipe_section(variants, recipes),
        accuracy,
        per_class,
        images,
        dataset,
    ]
    if notes:
        sections.insert(1, "".join(f"<p class='note'>{_esc(note)}</p>" for note in notes))
    default_out = "compare-" + "-vs-".join(_safe(name) for name in names)
    return _write_report(
        Path(out_dir) if out_dir is not None else cwd / "reports" / default_out,
        title="Comparison: " + " vs ".join(names),
        sections=sections,
        figures=figures,
        overwrite=overwrite,
        runs=sum(len({run.id for run in group}) for group in context),
        notes=notes,
    )
