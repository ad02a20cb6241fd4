"""``datacur review``: the terminal UI over issues.csv; decisions go to review.jsonl."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from datacur.cli._common import JsonOption, err_console, out_console

DEFAULT_LABEL_BOOK = Path("datasets/label-book")
"""Equal to ``datacur.review.DEFAULT_LABEL_BOOK`` (tested); Textual is imported only when the
command runs, so ``datacur --help`` stays fast."""


def review(
    issues: Annotated[Path, typer.Argument(help="issues.csv written by `datacur noise`.")],
    journal: Annotated[
        Path, typer.Option("--journal", help="Decisions journal (appended, resumed).")
    ] = Path("review.jsonl"),
    variant: Annotated[
        Path | None,
        typer.Option(help="Variant folder, if it moved since `noise` [default: from the CSV]."),
    ] = None,
    label_book: Annotated[
        Path | None,
        typer.Option(
            help="Label book shown beside each image (class folders) [default: the variant's "
            f"own (its recipe's label-book input), else a label-book folder next to it, else "
            f"{DEFAULT_LABEL_BOOK}]."
        ),
    ] = None,
    kind: Annotated[
        str,
        typer.Option(
            "--kind", help="Queue to review: bad (drop/relabel candidates) or hygiene (twins)."
        ),
    ] = "bad",
    as_json: JsonOption = False,
) -> None:
    """Review the flagged images of ISSUES: keep, relabel or drop each, with a preview.

    Opens the bad-image queue (most likely bad first); --kind hygiene reviews the twin pairs
    (leakage, duplicates, one image under two labels), each row the copy to drop.

    Keys: k keep, r relabel to the suggestion, t type a class, d drop, u undo, s skip,
    n/p next/previous, f/c filter by issue/class, o sort, ? help, q quit. Every decision is
    appended to the journal at once; run the same command again to resume. Then turn the
    journal into a new variant with `datacur apply`.

    Example: datacur review issues.csv --journal review.jsonl --kind hygiene
    """
    from datacur.review import ReviewApp, find_label_book, load_review, require_terminal

    rows, variant_dir = load_review(issues, variant_dir=variant, kind=kind)
    if label_book is None:
        label_book = find_label_book(variant_dir)
        if label_book is None:
            err_console.print(
                f"No label book found for {variant_dir} (none in its recipe, next to it or "
                f"in {DEFAULT_LABEL_BOOK}): pass --label-book DIR to see example images.",
                highlight=False,
            )
    require_terminal()  # before the journal is opened: a refused start leaves no file
    app = ReviewApp(rows, journal, variant_dir=variant_dir, label_book=label_book)
    app.run()
    progress = app.progress
    if as_json:
        out_console.print_json(json.dumps({"journal": str(journal), **asdict(progress)}))
        return
    out_console.print(
        f"reviewed {progress.reviewed} / {progress.total} "
        f"(kept {progress.kept}, relabelled {progress.relabelled}, dropped {progress.dropped}); "
        f"decisions in {journal}. Next: datacur apply {variant_dir} {journal} --out DIR"
    )


def register(app: typer.Typer) -> None:
    """Add ``review`` to the root app."""
    app.command(name="review")(review)
