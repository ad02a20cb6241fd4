"""``datacur synth``: compose Roman numerals from a glyph source into a new variant."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from datacur.cli._common import ForceOption, JsonOption, SeedOption, err_console, out_console
from datacur.errors import DatacurError, SourceError


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """Turn ``["split=byclass", "writers=40"]`` into ``{"split": "byclass", "writers": 40}``.

    Values that read as integers, floats or true/false become those types.

    Raises:
        SourceError: an item without ``=``.
    """
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise SourceError(
                f"--option expects KEY=VALUE (received {pair!r}), e.g. --option split=byclass."
            )
        value: Any = raw
        if raw.lower() in ("true", "false"):
            value = raw.lower() == "true"
        else:
            for cast in (int, float):
                try:
                    value = cast(raw)
                    break
                except ValueError:
                    continue
        options[key.strip().replace("-", "_")] = value
    return options


def synth(
    out: Annotated[Path, typer.Option("--out", help="The variant folder to create.")],
    source: Annotated[
        str,
        typer.Option(help="Glyph source: strokes (built in), emnist, chars74k or folder."),
    ] = "strokes",
    path: Annotated[
        Path | None,
        typer.Option(help="The source's data: a folder, an archive or a file."),
    ] = None,
    per_class: Annotated[
        int, typer.Option("--per-class", help="Images per class, train and val together.")
    ] = 500,
    val_fraction: Annotated[
        float,
        typer.Option("--val-fraction", help="Share of writers (and images) that go to val."),
    ] = 0.2,
    case: Annotated[
        str, typer.Option(help="Letter case of the numerals: upper, lower or mixed.")
    ] = "mixed",
    seed: SeedOption = 0,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            help="Source option KEY=VALUE, repeatable: emnist split=byclass subset=train; "
            "chars74k kind=hnd|fnt writers=train|held-out|all (default train: the 15 writers "
            "held out for datasets/shift-chars74k-writers are left out); strokes writers=240 "
            "samples=3; folder min_side=8.",
        ),
    ] = None,
    download: Annotated[
        bool,
        typer.Option(
            "--download", help="emnist: fetch the official gzip.zip from NIST into the cache."
        ),
    ] = False,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir", help="Where --download keeps files (default ~/.cache/datacur)."
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Processes to render with (default: up to 2).")
    ] = None,
    preview: Annotated[
        bool, typer.Option("--preview", help="Also write preview.png, a contact sheet.")
    ] = False,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Synthesise numerals i..x from letter glyphs and write them as a variant at --out.

    Each numeral takes one writer and one case where the source knows them; writers are
    split so none is on both train and val. Same inputs and seed, byte-identical variant.

    Example: datacur synth --source chars74k --path ../shared/data/chars74k --out datasets/c74k
    """
    from datacur.synth import synthesize

    options = parse_options(option or [])
    if download or cache_dir is not None:
        if source != "emnist":
            raise SourceError(f"--download and --cache-dir apply to --source emnist, not {source}.")
        options["download"] = download
        if cache_dir is not None:
            options["cache_dir"] = cache_dir

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=as_json,
    ) as progress:
        fetch = progress.add_task("download", total=None, visible=False)
        task = progress.add_task(f"synth {source}", total=None)

        def on_download(done: int, total: int) -> None:
            progress.update(fetch, visible=True, completed=done, total=total or None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        if source == "emnist" and download:
            options["progress"] = on_download
        try:
            result = synthesize(
                source,
                out,
                path=path,
                source_options=options,
                per_class=per_class,
                val_fraction=val_fraction,
                case=case,
                seed=seed,
                overwrite=force,
                progress=on_progress,
                workers=workers,
                preview=preview,
            )
        except DatacurError:
            progress.live.transient = True  # the error is the one line left on stderr
            raise

    summary = {
        "out": str(result.out_dir),
        "source": source,
        "glyphs": result.glyphs,
        "images": result.images,
        "writers": result.writers,
        "seconds": round(result.seconds, 2),
        "preview": None if result.preview is None else str(result.preview),
    }
    if as_json:
        typer.echo(json.dumps(summary, separators=(",", ":")))
        return
    table = Table(title=f"Synthesised {result.out_dir}")
    for column in ("split", "images", "writers"):
        table.add_column(column, justify="right" if column != "split" else "left")
    for split in ("train", "val"):
        table.add_row(split, f"{result.images[split]:,}", f"{result.writers[split]:,}")
    out_console.print(table)
    out_console.print(
        f"{result.glyphs:,} glyphs from {source}, {result.seconds:.1f} s"
        + (f"; contact sheet: {result.preview}" if result.preview else ""),
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add ``synth`` to the root app."""
    app.command(name="synth")(synth)
