"""``datacur cap``: count a variant exactly as the competition did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from datacur.cli._common import JsonOption, err_console, out_console


def cap(
    variant: Annotated[Path, typer.Argument(help="Dataset variant folder (train/ and val/).")],
    limit: Annotated[
        int | None,
        typer.Option(help="The cap to check against [default: the competition's 10,000]."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Count VARIANT as the fixed script does: (ceil(train/8) + ceil(val/8)) * 8.

    Exits 1 when the count is over the cap, so it can guard a script.

    Example: datacur cap datasets/dcai-2021
    """
    with err_console.status(f"Counting {variant}..."):
        # imported here: datacur.cap reads images (NumPy, Pillow); `--help` must start fast
        from datacur.cap import MAX_IMAGES, measure_cap

        result = measure_cap(variant, limit=MAX_IMAGES if limit is None else limit)
    if as_json:
        payload = {
            "variant": result.variant,
            "train_images": result.train_images,
            "val_images": result.val_images,
            "counted": result.counted,
            "limit": result.limit,
            "over": result.over,
        }
        typer.echo(json.dumps(payload, separators=(",", ":")))
    else:
        table = Table(title=f"Cap count of {variant}")
        for column in ("train", "val", "images", "counted", "cap", "headroom"):
            table.add_column(column, justify="right")
        style = "red" if result.over else "green"
        table.add_row(
            f"{result.train_images:,}",
            f"{result.val_images:,}",
            f"{result.images:,}",
            f"[{style}]{result.counted:,}[/]",
            f"{result.limit:,}",
            f"[{style}]{result.headroom:,}[/]",
        )
        out_console.print(table)
    if result.over:
        err_console.print(
            f"[bold red]Error:[/] {result.message()}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add ``cap`` to the root app."""
    app.command(name="cap")(cap)
