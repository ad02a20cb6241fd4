"""``datacur apply``: turn a review journal into a new variant."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from datacur.cli._common import ForceOption, JsonOption, out_console


def apply(
    variant: Annotated[Path, typer.Argument(help="The variant the journal was reviewed on.")],
    journal: Annotated[Path, typer.Argument(help="The review.jsonl written by `datacur review`.")],
    out: Annotated[Path, typer.Option("--out", help="New variant folder to write.")],
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Write a new variant: VARIANT with JOURNAL's drops removed and relabels moved.

    VARIANT is never touched; decisions are recorded in the new manifest.csv, dropped images
    in dropped.csv. A journal naming files that are not in VARIANT is refused.

    Example: datacur apply datasets/dcai-2021 review.jsonl --out datasets/dcai-reviewed
    """
    from datacur.apply import apply_journal  # NumPy and Pillow: loaded only when applying

    result = apply_journal(variant, journal, out, overwrite=force)
    if as_json:
        out_console.print_json(json.dumps(asdict(result)))
        return
    table = Table(title=f"Applied {journal} to {variant}")
    for column in ("images", "kept", "relabelled", "dropped", "no decision"):
        table.add_column(column, justify="right")
    table.add_row(
        *(
            f"{value:,}"
            for value in (
                result.images,
                result.kept,
                result.relabelled,
                result.dropped,
                result.unchanged,
            )
        )
    )
    out_console.print(table)
    out_console.print(f"wrote {result.out_dir}")


def register(app: typer.Typer) -> None:
    """Add ``apply`` to the root app."""
    app.command(name="apply")(apply)
