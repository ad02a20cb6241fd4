"""``datacur review``: a Textual terminal UI over issues.csv (UI only).

Every decision goes straight to the append-only journal (:mod:`datacur.journal`), so the
UI holds no state worth losing: quitting, Ctrl-C or a crash loses nothing, and the next
start resumes at the first undecided image with progress shown (reviewed / total).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from PIL import Image, UnidentifiedImageError
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich_pixels import Pixels
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Header, Input, Static

from datacur.errors import DatacurError
from datacur.journal import Decision, Journal
from datacur.labels import CLASSES
from datacur.noise import IssueRow, read_issues_csv
from datacur.variant import list_class_images

__all__ = [
    "DEFAULT_LABEL_BOOK",
    "ReviewApp",
    "ReviewProgress",
    "load_review",
    "preview_image",
    "review_issues",
]

DEFAULT_LABEL_BOOK = Path("datasets/label-book")
SORT_KEYS: tuple[str, ...] = ("rank", "score", "label", "issue", "path")
HELP = """\
[b]Decide[/b]
  k  keep          the image is fine as it is
  r  relabel       to the suggested class
  t  type class    relabel to a class you type (Enter; Esc cancels)
  d  drop          remove the image
  u  undo          cancel the latest decision
[b]Move[/b]
  s  skip          next undecided image, no decision
  n / ↓  next      p / ↑  previous
[b]View[/b]
  f  filter by issue type (cycles)    c  filter by class (cycles)
  o  sort by rank / score / label / issue / path (cycles)
  ?  this help      q  quit (every decision is already saved)
"""


@dataclass(frozen=True)
class ReviewProgress:
    """How far a review has got."""

    reviewed: int
    total: int
    kept: int
    relabelled: int
    dropped: int


def preview_image(path: Path, *, max_size: tuple[int, int]) -> Image.Image | None:
    """The image fitted into ``max_size`` (width, height) pixels, aspect kept, RGB on white.

    Returns None when the file cannot be read.
    """
    try:
        with Image.open(path) as opened:
            opened.load()
            image: Image.Image = opened
            if image.mode in ("RGBA", "LA", "P"):
                rgba = image.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                image = Image.alpha_composite(background, rgba)
            rgb = image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    rgb.thumbnail(max_size, Image.Resampling.LANCZOS)
    return rgb


def _pixels(path: Path, cells: tuple[int, int]) -> RenderableType:
    """Half-block rendering: a cell is one pixel wide and two pixels high."""
    image = preview_image(path, max_size=(cells[0], cells[1] * 2))
    if image is None:
        return Text(f"(cannot read {path.name})", style="red")
    return Pixels.from_image(image)


def _short_path(path: str, *, keep: int = 10) -> str:
    """``train/ix/aebd296a-ce5d-11eb-b317.png`` -> ``train/ix/aebd296a-c….png`` for the table."""
    folder, _, name = path.rpartition("/")
    stem, dot, suffix = name.rpartition(".")
    if dot and len(stem) > keep + 1:
        name = f"{stem[:keep]}…{dot}{suffix}"
    return f"{folder}/{name}" if folder else name


def load_review(
    issues_csv: Path, *, variant_dir: Path | None = None, kind: str = "bad"
) -> tuple[list[IssueRow], Path]:
    """Read one queue of issues.csv (``bad`` images or ``hygiene`` twin pairs) and its variant.

    Raises:
        DatacurError: missing or malformed file, empty queue, or the variant folder is gone.
    """
    rows = read_issues_csv(issues_csv, queue=kind)
    if not rows:
        raise DatacurError(f"{issues_csv}: no rows in the {kind!r} queue, nothing to review.")
    variant = Path(variant_dir) if variant_dir is not None else Path(rows[0].variant)
    if not variant.is_dir():
        raise DatacurError(
            f"{issues_csv}: its variant folder {variant} does not exist. Pass --variant with "
            "the folder `datacur noise` ran on."
        )
    return rows, variant


class HelpScreen(ModalScreen[None]):
    """The key list; any of Esc, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Static { width: 76; height: auto; border: round $accent; padding: 1 2;
                          background: $surface; }
    """

    def compose(self) -> ComposeResult:
        yield Static(HELP)


class ReviewApp(App[ReviewProgress]):
    """Review flagged images: keep, relabel or drop each, journalled as it happens."""

    TITLE = "datacur review"
    CSS = """
    #table { width: 3fr; }
    #side { width: 2fr; min-width: 40; padding: 0 1; }
    #classbox { dock: bottom; display: none; }
    #classbox.visible { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "keep", "Keep"),
        Binding("r", "relabel", "Relabel"),
        Binding("t", "type_class", "Type class"),
        Binding("d", "drop", "Drop"),
        Binding("u", "undo", "Undo"),
        Binding("s", "skip", "Skip"),
        Binding("n", "next", "Next", show=False),
        Binding("p", "prev", "Prev", show=False),
        Binding("f", "filter_issue", "Issue filter"),
        Binding("c", "filter_class", "Class filter"),
        Binding("o", "sort", "Sort"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit_review", "Quit"),
    ]

    def __init__(
        self,
        rows: Sequence[IssueRow],
        journal_path: Path,
        *,
        variant_dir: Path,
        label_book: Path | None = DEFAULT_LABEL_BOOK,
        preview_cells: tuple[int, int] = (36, 16),
    ) -> None:
        super().__init__()
        self.rows = list(rows)
        self.by_path = {row.path: row for row in self.rows}
        self.variant_dir = Path(variant_dir)
        self.label_book = Path(label_book) if label_book is not None else None
        self.preview_cells = preview_cells
        self.journal = Journal(journal_path)
        self.issue_filter = ""
        self.class_filter = ""
        self.sort_key = "rank"
        self.shown: list[IssueRow] = []
        self._book_cache: dict[str, list[Path]] = {}

    # ----------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield DataTable(id="table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="side"):
                yield Static(id="preview")
                yield Static(id="details")
                yield Static(id="book")
        yield Input(placeholder=f"class ({' '.join(CLASSES)}), Enter to relabel", id="classbox")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for column in ("#", "decision", "path", "label", "suggested", "issue", "score"):
            table.add_column(column, key=column)
        self._rebuild(focus_path=None)
        self._goto_pending(start=0)
        table.focus()

    def on_unmount(self) -> None:
        self.journal.close()

    # ----------------------------------------------------------------- state

    @property
    def progress(self) -> ReviewProgress:
        """Reviewed / total over the rows of issues.csv, from the journal."""
        decisions = self.journal.decisions
        mine = [decisions[row.path] for row in self.rows if row.path in decisions]
        return ReviewProgress(
            reviewed=len(mine),
            total=len(self.rows),
            kept=sum(d.action == "keep" for d in mine),
            relabelled=sum(d.action == "relabel" for d in mine),
            dropped=sum(d.action == "drop" for d in mine),
        )

    def _status(self, path: str) -> str:
        decision = self.journal.decisions.get(path)
        if decision is None:
            return ""
        return f"→ {decision.to}" if decision.action == "relabel" else decision.action

    def _rebuild(self, focus_path: str | None) -> None:
        rows = [
            row
            for row in self.rows
            if (not self.issue_filter or self.issue_filter in row.issues.split(";"))
            and (not self.class_filter or row.label == self.class_filter)
        ]
        if self.sort_key == "score":
            rows.sort(key=lambda row: (-row.score, row.rank))
        else:
            rows.sort(key=lambda row: (getattr(row, self.sort_key), row.rank))
        self.shown = rows
        table = self.query_one(DataTable)
        table.clear()
        for row in rows:
            table.add_row(
                str(row.rank),
                self._status(row.path),
                _short_path(row.path),
                row.label,
                row.suggested,
                row.issue,
                f"{row.score:.2f}",
                key=row.path,
            )
        if focus_path is not None:
            self._goto_path(focus_path)
        self._refresh_titles()

    def _refresh_titles(self) -> None:
        progress = self.progress
        filters = [f"issue={self.issue_filter}"] if self.issue_filter else []
        filters += [f"class={self.class_filter}"] if self.class_filter else []
        self.sub_title = (
            f"reviewed {progress.reviewed} / {progress.total}  ·  showing {len(self.shown)}"
            f"  ·  sort {self.sort_key}" + (f"  ·  {' '.join(filters)}" if filters else "")
        )

    def current(self) -> IssueRow | None:
        """The highlighted row, or None when the view is empty."""
        table = self.query_one(DataTable)
        if not self.shown or table.cursor_row >= len(self.shown):
            return None
        return self.shown[table.cursor_row]

    def _goto_path(self, path: str) -> bool:
        for index, row in enumerate(self.shown):
            if row.path == path:
                self.query_one(DataTable).move_cursor(row=index)
                return True
        return False

    def _goto_pending(self, start: int) -> None:
        """Move to the first undecided row at or after ``start`` (wrapping round)."""
        decisions = self.journal.decisions
        count = len(self.shown)
        for offset in range(count):
            index = (start + offset) % count
            if self.shown[index].path not in decisions:
                self.query_one(DataTable).move_cursor(row=index)
                return
        if count:
            self.notify("Every image in this view is reviewed. Press q to quit.")

    # ----------------------------------------------------------------- preview

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        row = self.current()
        if row is None:
            return
        self.query_one("#preview", Static).update(
            _pixels(self.variant_dir / row.path, self.preview_cells)
        )
        details = Table.grid(padding=(0, 1))
        details.add_column(style="bold")
        details.add_column()
        details.add_row("path", row.path)
        details.add_row("label", row.label)
        details.add_row("suggested", row.suggested or "-")
        details.add_row("decision", self._status(row.path) or "-")
        details.add_row("issues", row.issues)
        details.add_row("reason", row.reason)
        self.query_one("#details", Static).update(details)
        self.query_one("#book", Static).update(self._book_panel(row))

    def _book_images(self, label: str) -> list[Path]:
        if label not in self._book_cache:
            folder = self.label_book / label if self.label_book is not None else None
            self._book_cache[label] = (
                list_class_images(folder)[:2] if folder is not None and folder.is_dir() else []
            )
        return self._book_cache[label]

    def _book_panel(self, row: IssueRow) -> RenderableType:
        parts: list[RenderableType] = []
        for title, label in (("given", row.label), ("suggested", row.suggested)):
            if not label:
                continue
            examples = self._book_images(label)
            parts.append(Text(f"label book: {title} '{label}'", style="bold"))
            if not examples:
                parts.append(Text("  (no label-book images)", style="dim"))
                continue
            grid = Table.grid(padding=(0, 1))
            for _ in examples:
                grid.add_column()
            grid.add_row(*(_pixels(path, (16, 8)) for path in examples))
            parts.append(grid)
        return Group(*parts)

    # ----------------------------------------------------------------- decisions

    def _decide(self, action: str, to: str = "") -> None:
        row = self.current()
        if row is None:
            return
        self.journal.record(action, row.path, label=row.label, to=to, issue=row.issue)
        index = self.query_one(DataTable).cursor_row
        self._update_status(row.path)
        self._goto_pending(start=index + 1)

    def _update_status(self, path: str) -> None:
        table = self.query_one(DataTable)
        if path in table.rows:
            table.update_cell(path, "decision", self._status(path))
        self._refresh_titles()
        if (current := self.current()) is not None and current.path == path:
            self.on_data_table_row_highlighted(None)  # type: ignore[arg-type]

    def action_keep(self) -> None:
        self._decide("keep")

    def action_drop(self) -> None:
        self._decide("drop")

    def action_relabel(self) -> None:
        row = self.current()
        if row is None:
            return
        if not row.suggested or row.suggested == row.label:
            self.notify(
                "No suggestion for this image: press t to type a class.", severity="warning"
            )
            return
        self._decide("relabel", to=row.suggested)

    def action_type_class(self) -> None:
        box = self.query_one("#classbox", Input)
        box.value = ""
        box.add_class("visible")
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        box = self.query_one("#classbox", Input)
        value = event.value.strip().lower()
        row = self.current()
        if value not in CLASSES:
            self.notify(f"'{value}' is not a class ({' '.join(CLASSES)}).", severity="error")
            return
        box.remove_class("visible")
        self.query_one(DataTable).focus()
        if row is not None and value == row.label:
            self.notify(f"Already labelled '{value}': press k to keep it.", severity="warning")
            return
        self._decide("relabel", to=value)

    def on_key(self, event: object) -> None:
        key = getattr(event, "key", "")
        box = self.query_one("#classbox", Input)
        if key == "escape" and box.has_class("visible"):
            box.remove_class("visible")
            self.query_one(DataTable).focus()

    def action_undo(self) -> None:
        undone: Decision | None = self.journal.undo()
        if undone is None:
            self.notify("Nothing to undo.")
            return
        self._update_status(undone.path)
        if not self._goto_path(undone.path):
            self.notify(f"Undid {undone.action} of {undone.path} (hidden by the filter).")

    # ----------------------------------------------------------------- moving and views

    def action_skip(self) -> None:
        """Leave this image undecided and go to the next undecided one."""
        self._goto_pending(start=self.query_one(DataTable).cursor_row + 1)

    def action_next(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_prev(self) -> None:
        self.query_one(DataTable).action_cursor_up()

    def _cycle(self, values: list[str], current: str) -> str:
        options = ["", *values]
        return options[(options.index(current) + 1) % len(options)]

    def action_filter_issue(self) -> None:
        present = {issue for row in self.rows for issue in row.issues.split(";")}
        self.issue_filter = self._cycle(sorted(present), self.issue_filter)
        self._refilter()

    def action_filter_class(self) -> None:
        present = {row.label for row in self.rows}
        self.class_filter = self._cycle([c for c in CLASSES if c in present], self.class_filter)
        self._refilter()

    def action_sort(self) -> None:
        self.sort_key = SORT_KEYS[(SORT_KEYS.index(self.sort_key) + 1) % len(SORT_KEYS)]
        self._refilter()

    def _refilter(self) -> None:
        row = self.current()
        self._rebuild(focus_path=row.path if row else None)
        if row is None or not self._goto_path(row.path):
            self._goto_pending(start=0)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_quit_review(self) -> None:
        self.exit(self.progress)


def review_issues(
    issues_csv: Path,
    journal_path: Path,
    *,
    variant_dir: Path | None = None,
    label_book: Path | None = DEFAULT_LABEL_BOOK,
) -> ReviewProgress:
    """Run the review UI in this terminal until the user quits; return the progress.

    Example:
        >>> review_issues(Path("issues.csv"), Path("review.jsonl"))  # doctest: +SKIP
    """
    rows, variant = load_review(issues_csv, variant_dir=variant_dir)
    app = ReviewApp(rows, journal_path, variant_dir=variant, label_book=label_book)
    result = app.run()
    return result if result is not None else app.progress
