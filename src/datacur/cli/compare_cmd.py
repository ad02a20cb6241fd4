"""``datacur compare``: variants side by side over seeds, with paired tests and power."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from datacur.cli._common import DbOption, JsonOption, out_console
from datacur.labels import CLASSES


def _fmt(value: float, spec: str = ".4f") -> str:
    return "—" if value is None or not math.isfinite(value) else format(value, spec)


def _json_safe(value: object) -> object:
    """NaN is not JSON: write null instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


def compare(
    variants: Annotated[
        list[str],
        typer.Argument(help="Variants: folder, name or hash prefix. The first is the baseline."),
    ],
    test: Annotated[
        str | None, typer.Option("--test", help="Only runs scored on this test set (folder name).")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Only runs of this many epochs.")] = None,
    model: Annotated[str | None, typer.Option(help="Only runs of this model.")] = None,
    alpha: Annotated[
        float, typer.Option(help="Significance level; intervals cover 1 - alpha.")
    ] = 0.05,
    power: Annotated[float, typer.Option(help="Power for the estimate of the seeds needed.")] = 0.8,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compare variants: mean, sd and 95% interval of test accuracy over seeds, and the
    paired difference of each to the first variant (paired t-test over shared seeds).

    Says plainly when the runs cannot tell two variants apart, and about how many seeds
    would be needed to detect the observed difference. Runs are compared only within one
    test set, model and schedule (use --test/--epochs when the variants share several).

    Example: datacur compare datasets/dcai-2021 datasets/clean --test dev-test
    """
    from datacur.compare import compare_variants
    from datacur.store import default_results_db

    db_path = db or default_results_db()
    result = compare_variants(
        variants,
        db_path=db_path,
        test_name=test,
        epochs=epochs,
        model=model,
        alpha=alpha,
        power=power,
    )
    if as_json:
        typer.echo(json.dumps(_json_safe(asdict(result)), separators=(",", ":")))
        return

    level = f"{100 * (1 - alpha):g}%"
    table = Table(
        title=(
            f"Accuracy on {result.scored_on} — model {result.model}, {result.epochs} epochs "
            f"({db_path})"
        )
    )
    for column, justify in (
        ("variant", "left"),
        ("hash", "left"),
        ("seeds", "right"),
        ("mean", "right"),
        ("sd", "right"),
        (f"{level} CI", "right"),
        (f"Δ vs {result.variants[0].variant}", "right"),
        (f"Δ {level} CI", "right"),
        ("p", "right"),
        ("seeds needed", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    differences = [None, *result.differences]
    for stat, difference in zip(result.variants, differences, strict=True):
        row = [
            stat.variant,
            stat.variant_hash[:8],
            str(stat.n),
            _fmt(stat.mean),
            _fmt(stat.sd),
            f"[{_fmt(stat.ci_low)}, {_fmt(stat.ci_high)}]",
        ]
        if difference is None:
            row += ["baseline", "", "", ""]
        else:
            mark = "*" if difference.significant else ""
            row += [
                f"{_fmt(difference.diff, '+.4f')}{mark}",
                f"[{_fmt(difference.ci_low, '+.4f')}, {_fmt(difference.ci_high, '+.4f')}]",
                f"{_fmt(difference.p_value, '.3g')} ({difference.method})",
                ""
                if difference.significant or difference.seeds_needed is None
                else str(difference.seeds_needed),
            ]
        table.add_row(*row)
    out_console.print(table)

    if result.differences:
        per_class = Table(title=f"Per-class accuracy change vs {result.variants[0].variant}")
        per_class.add_column("variant")
        for label in CLASSES:
            per_class.add_column(label, justify="right")
        for difference in result.differences:
            per_class.add_row(
                difference.variant,
                *(_fmt(difference.per_class[label], "+.2f") for label in CLASSES),
            )
        out_console.print(per_class)
        for difference in result.differences:
            out_console.print(f"• {difference.verdict}", highlight=False, markup=False)
    for note in result.notes:
        out_console.print(f"Note: {note}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add ``compare`` to the root app."""
    app.command(name="compare")(compare)
