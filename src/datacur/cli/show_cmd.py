"""``datacur show``: a contact sheet PNG of a variant, a row of samples per class."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from datacur.cli._common import JsonOption, SeedOption, out_console
from datacur.errors import VariantError
from datacur.labels import SPLITS


def show(
    variant: Annotated[Path, typer.Argument(help="Dataset variant folder (train/ and val/).")],
    out: Annotated[
        Path | None,
        typer.Option(help="PNG to write (default: `<variant>-sheet.png` next to the variant)."),
    ] = None,
    per_class: Annotated[int, typer.Option("--per-class", help="Samples per class row.")] = 12,
    split: Annotated[
        str | None, typer.Option(help="Only this split (train or val); default both.")
    ] = None,
    cell: Annotated[int, typer.Option(help="Thumbnail side in pixels.")] = 64,
    seed: SeedOption = 0,
    as_json: JsonOption = False,
) -> None:
    """Write a contact sheet of VARIANT: one row per class, random samples, as a PNG.

    The variant itself is never written to (variants are immutable).

    Example: datacur show datasets/dcai-2021 --out dcai-sheet.png --per-class 16
    """
    from datacur.preview import write_contact_sheet

    if split is not None and split not in SPLITS:
        raise VariantError(f"--split must be one of {', '.join(SPLITS)} (received {split!r}).")
    target = out or variant.parent / f"{variant.resolve().name}-sheet.png"
    written = write_contact_sheet(
        variant,
        target,
        per_class=per_class,
        splits=(split,) if split else SPLITS,
        cell=cell,
        seed=seed,
    )
    if as_json:
        typer.echo(json.dumps({"variant": str(variant), "sheet": str(written)}))
    else:
        out_console.print(f"Contact sheet written: {written}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``show`` to the root app."""
    app.command(name="show")(show)
