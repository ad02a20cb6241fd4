"""``datacur augment``: a new variant with label-aware augmented copies of a variant's images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from datacur.cli._common import ForceOption, JsonOption, SeedOption, err_console, out_console
from datacur.labels import CLASSES


def augment(
    variant: Annotated[Path, typer.Argument(help="Input dataset variant (train/ and val/).")],
    pipeline: Annotated[
        Path,
        typer.Option(
            "--pipeline", dir_okay=False, help="Pipeline YAML file, e.g. recipes/augment/*.yaml."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder of the new variant.")],
    per_class_target: Annotated[
        int | None,
        typer.Option(
            "--per-class-target",
            help="Top every class up to N images (train + val); rarer classes get more copies.",
        ),
    ] = None,
    copies: Annotated[
        int,
        typer.Option("--copies", help="Augmented copies per image when no --per-class-target."),
    ] = 1,
    split: Annotated[
        list[str] | None,
        typer.Option(
            "--split", help="Only augment this split (repeatable; default: train and val)."
        ),
    ] = None,
    seed: SeedOption = 0,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Write a new variant: VARIANT's images plus augmented copies made by a pipeline.

    Copies stay in their parent's split; flips swap iv and vi and never touch vii, viii,
    ix (so iv and vi can end a little off --per-class-target). manifest.csv records each
    copy's parent and the exact transform parameters.

    Example: datacur augment datasets/dcai-2021 --pipeline recipes/augment/ink.yaml --out d/ink
    """
    from datacur.augment import augment_variant, load_pipeline

    built = load_pipeline(pipeline)
    summary = augment_variant(
        variant,
        built,
        out,
        copies=copies,
        per_class_target=per_class_target,
        splits=tuple(split) if split else ("train", "val"),
        seed=seed,
        overwrite=force,
    )
    for label in summary.skipped_classes:
        err_console.print(
            f"[yellow]Warning:[/] no step of {pipeline} is safe for class {label}; "
            "its images were copied without augmentation."
        )
    if as_json:
        out_console.print_json(
            json.dumps(
                {
                    "out": str(summary.out_dir),
                    "parents": summary.parents,
                    "children": summary.children,
                    "per_class": summary.per_class,
                    "skipped_classes": list(summary.skipped_classes),
                }
            )
        )
        return
    table = Table(title=f"Augmented {variant} -> {summary.out_dir}")
    table.add_column("class")
    table.add_column("images", justify="right")
    for label in CLASSES:
        table.add_row(label, f"{summary.per_class[label]:,}")
    table.add_row("[bold]total[/]", f"[bold]{summary.images:,}[/]")
    out_console.print(table)
    err_console.print(
        f"{summary.parents:,} images copied, {summary.children:,} augmented copies written."
    )


def register(app: typer.Typer) -> None:
    """Add ``augment`` to the root app."""
    app.command(name="augment")(augment)
