"""``datacur report``: an HTML page with plots for a variant or one run, or comparing
variants (``report A B ...``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from datacur.cli._common import DbOption, ForceOption, JsonOption, err_console, out_console


def report(
    targets: Annotated[
        list[str],
        typer.Argument(
            help="A variant folder, a variant name or hash prefix with runs, or a run id. "
            "Two or more: compare them (the first is the baseline).",
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Output folder (default: `reports/<variant>-<hash8>`, `reports/run-<id>`, "
            "or `reports/compare-<A>-vs-<B>`).",
            file_okay=False,
        ),
    ] = None,
    test: Annotated[
        str | None,
        typer.Option(
            "--test",
            help="Only runs scored on this test set (folder name). Comparing: the test set of "
            "the per-class deltas and image lists (default dev-test).",
        ),
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Only runs of this many epochs.")] = None,
    model: Annotated[
        str | None, typer.Option(help="Only runs of this model (see `datacur models`).")
    ] = None,
    variant: Annotated[
        Path | None,
        typer.Option(
            "--variant",
            help="The variant folder, for the dataset plots when TARGET is a name or run id "
            "(default: `datasets/<name>` if it holds the same content).",
            file_okay=False,
        ),
    ] = None,
    max_gallery: Annotated[
        int, typer.Option(min=0, help="At most this many misclassified images in the gallery.")
    ] = 120,
    db: DbOption = None,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Write a report: learning curves (best epoch marked), confusion matrix, per-class
    accuracy, misclassified test images, class balance, image sizes and the recipe.

    The page (index.html) embeds every image, so it opens alone in any browser; the plots
    are also written next to it as PNG files. For a variant, all its comparable runs are
    shown (the largest group of one test set, model and schedule, or the one
    --test/--model/--epochs pick).

    With two or more targets, one page compares them against the first: accuracy per test
    set (95% intervals, the shift mean, whether each difference is beyond the seed spread),
    per-class deltas, the test images one gets right and the other wrong, class balance and
    sources, and what each recipe changed.

    Example: datacur report datasets/dcai-2021 --out reports/starter
    """
    from datacur.store import default_results_db

    if len(targets) > 1:
        from datacur.compare_report import build_comparison_report

        if variant is not None:
            raise typer.BadParameter(
                "--variant is for a one-TARGET report; to compare, give the variant folders "
                "as the TARGETs."
            )
        result = build_comparison_report(
            targets,
            out_dir=out,
            db_path=db or default_results_db(),
            test_name=test,
            epochs=epochs,
            model=model,
            max_gallery=max_gallery,
            overwrite=force,
        )
    else:
        from datacur.report import build_report

        result = build_report(
            targets[0],
            out_dir=out,
            db_path=db or default_results_db(),
            test_name=test,
            epochs=epochs,
            model=model,
            variant_dir=variant,
            max_gallery=max_gallery,
            overwrite=force,
        )
    for note in result.notes:
        err_console.print(f"Note: {note}", highlight=False, markup=False)
    if as_json:
        payload = {
            "html": str(result.html),
            "images": {name: str(path) for name, path in result.images.items()},
            "runs": result.runs,
            "title": result.title,
            "notes": result.notes,
        }
        typer.echo(json.dumps(payload, separators=(",", ":")))
        return
    out_console.print(f"{result.title}: {result.runs} run(s)", markup=False)
    out_console.print(
        f"Wrote {result.html} and {len(result.images)} plot(s)", highlight=False, markup=False
    )


def register(app: typer.Typer) -> None:
    """Add ``report`` to the root app."""
    app.command(name="report")(report)
