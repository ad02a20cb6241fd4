"""``datacur compare``: variants side by side over seeds, with paired tests and power."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from datacur.cli._common import DbOption, JsonOption, out_console
from datacur.labels import CLASSES
from datacur.wording import count_noun


def _fmt(value: float | None, spec: str = ".4f") -> str:
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
    across_models: Annotated[
        bool,
        typer.Option(
            "--across-models",
            help="Compare exactly two variants under every model both were scored with: "
            "does the difference keep its sign and size?",
        ),
    ] = False,
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

    Without --test, when the variants were scored on several test sets (`evaluate --test A
    --test B`, `datacur score`), one row per test set is printed, plus the **shift mean**
    over the test sets named `shift-*`; --test NAME then gives the paired comparison on one.
    A score whose test set has twins in a variant's train/val is marked (exact+near count)
    with its accuracy without the twins beside it.

    With --across-models A B, the comparison is made once per model (each on the longest
    schedule both variants share under it), and the verdict says whether B's gain over A
    has the same sign under every model and whether its size differs between models.

    Example: datacur compare datasets/dcai-2021 datasets/clean --test dev-test
    """
    from datacur.compare import compare_variants
    from datacur.store import default_results_db

    db_path = db or default_results_db()
    if across_models:
        if model is not None:
            raise typer.BadParameter("--across-models uses every model; drop --model.")
        _print_across_models(variants, db_path, test, epochs, alpha, power, as_json)
        return
    if test is None:
        from datacur.compare import compare_test_sets
        from datacur.errors import DatacurError

        try:
            table_of_tests = compare_test_sets(
                variants, db_path=db_path, epochs=epochs, model=model
            )
        except DatacurError:
            table_of_tests = None  # val-only runs, or no shared schedule: the paired path says why
        if table_of_tests is not None and len(table_of_tests.rows) > 1:
            _print_test_sets(table_of_tests, db_path, as_json)
            return
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
            f"Accuracy on {result.scored_on} — model {result.model}, "
            f"{count_noun(result.epochs, 'epoch')} ({db_path})"
        )
    )
    for column, justify in (
        ("variant", "left"),
        ("hash", "left"),
        ("seeds", "right"),
        ("mean", "right"),
        ("sd", "right"),
        (f"{level} CI", "right"),
        (f"Δ vs {escape(result.variants[0].variant)}", "right"),
        (f"Δ {level} CI", "right"),
        ("p", "right"),
        ("seeds needed", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    differences = [None, *result.differences]
    for stat, difference in zip(result.variants, differences, strict=True):
        row = [
            escape(stat.variant),
            stat.variant_hash[:8],
            str(stat.n),
            _fmt(stat.mean),
            _fmt(stat.sd),
            # an accuracy interval stays in [0, 1] (a t interval over few seeds can pass 1)
            f"[{_fmt(min(max(stat.ci_low, 0.0), 1.0))}, {_fmt(min(max(stat.ci_high, 0.0), 1.0))}]",
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
        per_class = Table(
            title=f"Per-class accuracy change vs {escape(result.variants[0].variant)}"
        )
        per_class.add_column("variant")
        for label in CLASSES:
            per_class.add_column(label, justify="right")
        for difference in result.differences:
            per_class.add_row(
                escape(difference.variant),
                *(_fmt(difference.per_class[label], "+.2f") for label in CLASSES),
            )
        out_console.print(per_class)
        for difference in result.differences:
            out_console.print(f"• {difference.verdict}", highlight=False, markup=False)
    for note in result.notes:
        out_console.print(f"Note: {note}", highlight=False, markup=False)


def _print_test_sets(result: object, db_path: Path, as_json: bool) -> None:
    """One row per test set, a Δ against the first variant, and the shift mean."""
    from datacur.compare import TestSetTable

    assert isinstance(result, TestSetTable)
    if as_json:
        typer.echo(json.dumps(_json_safe(asdict(result)), separators=(",", ":")))
        return
    names = [ref.variant for ref in result.variants]
    table = Table(
        title=f"Accuracy per test set — model {result.model}, {result.epochs} epochs ({db_path})"
    )
    table.add_column("test set")
    for index, name in enumerate(names):
        table.add_column(f"{escape(name)} (seeds)", justify="right")
        if index:
            table.add_column(f"Δ vs {escape(names[0])}", justify="right")
    table.add_column("twins (exact+near)", justify="right")
    table.add_column("acc w/o twins", justify="right")
    for row in result.rows:
        cells = [escape(row.test_name or "?")]
        for index in range(len(names)):
            cell = f"{_fmt(row.means[index])} ± {_fmt(row.sds[index], '.3f')} ({row.seeds[index]})"
            cells.append(cell)
            if index:
                cells.append(_fmt(row.means[index] - row.means[0], "+.4f"))
        leaky = any(label not in ("0", "?", "—") for label in row.twins)
        cells.append(" / ".join(row.twins) + (" LEAKY" if leaky else ""))
        cells.append(" / ".join(_fmt(value) for value in row.without_twins) if leaky else "—")
        table.add_row(*cells)
    if result.shift_mean is not None:
        table.add_section()
        cells = [f"shift mean ({len(result.shift_tests)})"]
        for index in range(len(names)):
            cells.append(_fmt(result.shift_mean[index]))
            if index:
                cells.append(_fmt(result.shift_mean[index] - result.shift_mean[0], "+.4f"))
        cells += ["", ""]
        table.add_row(*cells)
    out_console.print(table)
    out_console.print(
        "Note: give --test NAME for the paired comparison (intervals, p, seeds needed) on one "
        "test set.",
        highlight=False,
        markup=False,
    )
    for note in result.notes:
        out_console.print(f"Note: {note}", highlight=False, markup=False)


def _print_across_models(
    variants: list[str],
    db_path: Path,
    test: str | None,
    epochs: int | None,
    alpha: float,
    power: float,
    as_json: bool,
) -> None:
    from datacur.compare import compare_across_models

    result = compare_across_models(
        variants, db_path=db_path, test_name=test, epochs=epochs, alpha=alpha, power=power
    )
    if as_json:
        typer.echo(json.dumps(_json_safe(asdict(result)), separators=(",", ":")))
        return
    level = f"{100 * (1 - alpha):g}%"
    table = Table(
        title=escape(
            f"{result.variant} vs {result.baseline} on {result.test_name or 'val'}, per model"
        )
    )
    for column in (
        "model",
        "epochs",
        "seeds",
        escape(result.baseline),
        escape(result.variant),
        "Δ",
    ):
        table.add_column(column, justify="left" if column == "model" else "right")
    table.add_column(f"Δ {level} CI", justify="right")
    table.add_column("p", justify="right")
    table.add_column("s/epoch", justify="right")
    for row in result.rows:
        difference = row.difference
        mark = "*" if difference.significant else ""
        table.add_row(
            row.model,
            str(row.epochs),
            str(difference.n),
            f"{_fmt(row.baseline.mean)} ± {_fmt(row.baseline.sd, '.3f')}",
            f"{_fmt(row.variant.mean)} ± {_fmt(row.variant.sd, '.3f')}",
            f"{_fmt(difference.diff, '+.4f')}{mark}",
            f"[{_fmt(difference.ci_low, '+.4f')}, {_fmt(difference.ci_high, '+.4f')}]",
            f"{_fmt(difference.p_value, '.3g')} ({difference.method})",
            " / ".join(_fmt(seconds, ".1f") for seconds in row.seconds_per_epoch),
        )
    out_console.print(table)
    out_console.print(f"• {result.verdict}", highlight=False, markup=False)
    if result.missing:
        out_console.print(
            "Note: no comparable runs of both under "
            + ", ".join(result.missing)
            + ": score both with `datacur evaluate --model M`.",
            highlight=False,
            markup=False,
        )


def register(app: typer.Typer) -> None:
    """Add ``compare`` to the root app."""
    app.command(name="compare")(compare)
