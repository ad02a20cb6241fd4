"""``datacur mix``: build a dataset variant from a recipe (or print its plan with --dry-run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from datacur.cli._common import ForceOption, JsonOption, check_seed, err_console, out_console
from datacur.labels import CLASSES

if TYPE_CHECKING:
    from datacur.mix import MixPlan


def _plan_table(plan: MixPlan) -> Table:
    cap = plan.cap()
    table = Table(title=f"Plan of {plan.recipe.name} (seed {plan.seed})", box=box.SIMPLE_HEAD)
    for column in ("source", "stage", "split"):
        table.add_column(column, no_wrap=True)
    for label in CLASSES:
        table.add_column(label, justify="right", no_wrap=True)
    table.add_column("total", justify="right", no_wrap=True)
    for source, stage, split, counts in plan.table():
        table.add_row(
            source,
            stage,
            split,
            *(str(counts[label]) for label in CLASSES),
            f"{sum(counts.values()):,}",
        )
    for split in ("train", "val"):
        totals = {label: 0 for label in CLASSES}
        for _source, _stage, row_split, counts in plan.table():
            if row_split == split:
                for label in CLASSES:
                    totals[label] += counts[label]
        table.add_row(
            f"[bold]{split}[/]",
            "",
            "",
            *(str(totals[label]) for label in CLASSES),
            f"[bold]{sum(totals.values()):,}[/]",
        )
    style = "red" if cap.over else "green"
    table.caption = (
        f"cap count [{style}]{cap.counted:,}[/] of {cap.limit:,} "
        f"({cap.train_images:,} train + {cap.val_images:,} val, batches of 8)"
    )
    return table


def _print_table(table: Table) -> None:
    # Thirteen count columns do not fit 80 characters; never squash the numbers.
    # A wider console on the same stream (stdout) as out_console.
    wide = Console(
        file=out_console.file,
        width=max(out_console.width, _TABLE_WIDTH),
        force_terminal=out_console.is_terminal,
        no_color=out_console.no_color,
    )
    wide.print(table)


_TABLE_WIDTH = 132


def _plan_json(plan: MixPlan) -> dict[str, object]:
    cap = plan.cap()
    return {
        "recipe": plan.recipe.name,
        "seed": plan.seed,
        "rows": [
            {"source": source, "stage": stage, "split": split, "per_class": counts}
            for source, stage, split, counts in plan.table()
        ],
        "train_images": cap.train_images,
        "val_images": cap.val_images,
        "counted": cap.counted,
        "cap": cap.limit,
        "skipped_inputs": plan.skipped_inputs,
        "notes": plan.notes,
    }


def mix(
    recipe: Annotated[Path, typer.Argument(help="Recipe YAML file, e.g. recipes/clean.yaml.")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Folder of the new variant (default: `datasets/<recipe name>`)."
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            callback=check_seed,
            help="Override the recipe's seed; same seed, same output.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan (counts and cap) and write nothing.")
    ] = False,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Build a dataset variant from RECIPE: inputs in set counts or shares, under the cap.

    Everything is checked before any image is written: unknown keys, shares that do not
    add up, missing inputs, a plan over the cap. --dry-run prints the plan table.

    Example: datacur mix recipes/clean.yaml --out datasets/clean --seed 1
    """
    # Planning reads every input image (dedupe, review, twins): seconds to a minute, so a
    # spinner from the first second, before even the imports.
    with err_console.status(f"Planning {recipe}: reading inputs...", spinner="dots"):
        from datacur.mix import build_variant, plan_mix

        plan = plan_mix(recipe, seed=seed)
    for note in plan.notes:
        err_console.print(f"[dim]{note}[/]", highlight=False)
    if dry_run:
        if as_json:
            out_console.print_json(json.dumps(_plan_json(plan)))
        else:
            _print_table(_plan_table(plan))
        return
    target = out if out is not None else Path("datasets") / plan.recipe.name
    with Progress(
        SpinnerColumn(),  # moves while a synth input renders, before the first image counts
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=as_json,
    ) as progress:
        task = progress.add_task(f"building {target}", total=len(plan.items))
        result = build_variant(
            plan,
            target,
            overwrite=force,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    if as_json:
        payload = _plan_json(plan)
        payload["out"] = str(result.out_dir)
        payload["written_per_class"] = result.per_class
        out_console.print_json(json.dumps(payload))
        return
    _print_table(_plan_table(plan))
    err_console.print(
        f"Wrote {result.out_dir} ({result.cap.images:,} images, cap count "
        f"{result.cap.counted:,} of {result.cap.limit:,})."
    )


def register(app: typer.Typer) -> None:
    """Add ``mix`` to the root app."""
    app.command(name="mix")(mix)
