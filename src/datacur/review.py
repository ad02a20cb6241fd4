"""``datacur review``: a Textual terminal UI over issues.csv (UI only).

Every decision goes straight to the append-only journal (:mod:`datacur.journal`), so the
UI holds no state worth losing: quitting, Ctrl-C or a crash loses nothing, and the next
start resumes at the first undecided image with progress shown (reviewed / total).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml
from PIL import Image, UnidentifiedImageError
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich_pixels import Pixels
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Header, Input, Static

from datacur.errors import DatacurError
from datacur.io import open_image
from datacur.journal import Decision, Journal
from datacur.labels import CLASSES
from datacur.noise import IssueRow, read_issues_csv
from datacur.variant import list_class_images

__all__ = [
    "DEFAULT_LABEL_BOOK",
    "ReviewApp",
    "ReviewProgress",
    "find_label_book",
    "find_twin",
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
  w  drop the twin the other copy of a duplicate, leak or two-label pair
                   (shown beside it); this one is kept
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

    Returns None when the file cannot be read, or is refused (a decompression bomb, a FIFO):
    the row is then shown as unreadable, and can still be dropped.
    """
    try:
        with open_image(path) as opened:
            opened.load()
            image: Image.Image = opened
            if image.mode in ("RGBA", "LA", "P"):
                rgba = image.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                image = Image.alpha_composite(background, rgba)
            rgb = image.convert("RGB")
    except (DatacurError, UnidentifiedImageError, OSError, ValueError):
        return None
    rgb.thumbnail(max_size, Image.Resampling.LANCZOS)
    return rgb


def _pixels(path: Path, cells: tuple[int, int]) -> RenderableType:
    """Half-block rendering: a cell is one pixel wide and two pixels high."""
    image = preview_image(path, max_size=(cells[0], cells[1] * 2))
    if image is None:
        return Text(f"(cannot read {path.name})", style="red")
    return Pixels.from_image(image)


_TWIN_PATH = re.compile(r"(?:^|\s)((?:train|val)/[^/\s]+/[^\s,;]+\.[A-Za-z0-9]+)")


def find_twin(row: IssueRow) -> str | None:
    """The other image of a duplicate, leakage or two-label pair, as its reason names it.

    ``issues.csv``'s ``partner`` column names it for a hygiene row (one row per pair); older
    files only have the reason, where the checks write the partner's variant path
    ("byte-identical to train/x/a.png in train"). None when neither names another image.
    """
    if row.partner and row.partner != row.path:
        return row.partner
    for match in _TWIN_PATH.finditer(row.reason):
        if match.group(1) != row.path:
            return match.group(1)
    return None


def find_label_book(variant_dir: Path) -> Path | None:
    """The label book that goes with a variant, or None when none can be found.

    Looked for, in order: an input of the variant's ``recipe.yaml`` whose name or folder
    says label book (paths there are relative to the variant); a ``label-book`` folder
    next to the variant (``datasets/label-book`` beside ``datasets/dcai-2021``); then
    ``datasets/label-book`` under the current folder.
    """
    variant_dir = Path(variant_dir)
    candidates: list[Path] = []
    recipe = variant_dir / "recipe.yaml"
    if recipe.is_file():
        try:
            data: Any = yaml.safe_load(recipe.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            data = None
        inputs = data.get("inputs") if isinstance(data, dict) else None
        for item in inputs if isinstance(inputs, list) else []:
            if not isinstance(item, dict) or not isinstance(item.get("path"), str):
                continue
            words = f"{item.get('name', '')} {Path(item['path']).name}".lower()
            if "label" in words and "book" in words:
                candidates.append(variant_dir / item["path"])
    candidates += [variant_dir.parent / "label-book", DEFAULT_LABEL_BOOK]
    for candidate in candidates:
        if candidate.is_dir() and any((candidate / label).is_dir() for label in CLASSES):
            return candidate
    return None


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


def require_terminal() -> None:
    """Refuse at once without an interactive terminal, before any file is opened.

    Raises:
        DatacurError: stdin or stdout is not a terminal.
    """
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise DatacurError(
            "datacur review needs an interactive terminal (stdin and stdout are not one). "
            "Run it in a terminal, not through a pipe, a redirect or a batch job."
        )


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
    ENABLE_COMMAND_PALETTE = False  # its footer key would push ours off an 80-column screen
    NARROW_BELOW = 120
    """Terminals narrower than this stack the table above the preview (80x24 must work)."""
    CSS = """
    #main { layout: horizontal; }
    #table { width: 3fr; }
    #side { width: 2fr; min-width: 40; padding: 0 1; }
    #main.narrow { layout: vertical; }
    #main.narrow #table { width: 100%; height: 8; }
    #main.narrow #side { width: 100%; height: 1fr; min-width: 0; }
    #classbox { dock: bottom; display: none; }
    #classbox.visible { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "keep", "Keep"),
        Binding("r", "relabel", "Relabel"),
        Binding("t", "type_class", "Type class", show=False),
        Binding("d", "drop", "Drop"),
        Binding("w", "drop_twin", "Drop twin"),
        Binding("u", "undo", "Undo"),
        Binding("s", "skip", "Skip"),
        Binding("n", "next", "Next", show=False),
        Binding("p", "prev", "Prev", show=False),
        # in the help (?): the footer shows only what fits 80 columns
        Binding("f", "filter_issue", "Issue filter", show=False),
        Binding("c", "filter_class", "Class filter", show=False),
        Binding("o", "sort", "Sort", show=False),
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
        narrow_preview_cells: tuple[int, int] = (18, 8),
    ) -> None:
        super().__init__()
        self.rows = list(rows)
        self.by_path = {row.path: row for row in self.rows}
        self.variant_dir = Path(variant_dir)
        self.label_book = Path(label_book) if label_book is not None else None
        self.wide_preview_cells = preview_cells
        self.narrow_preview_cells = narrow_preview_cells
        self.preview_cells = preview_cells
        self._twin_keeps: set[int] = set()  # journal lengths after a `w` (drop twin + keep)
        self.journal = Journal(journal_path)
        self.issue_filter = ""
        self.class_filter = ""
        self.sort_key = "rank"
        self.shown: list[IssueRow] = []
        self._book_cache: dict[str, list[Path]] = {}

    # ----------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield Header()
        with Container(id="main"):
            yield DataTable(id="table", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="side"):
                yield Static(id="preview")
                yield Static(id="details")
                yield Static(id="book")
        yield Input(placeholder=f"class ({' '.join(CLASSES)}), Enter to relabel", id="classbox")
        yield Footer()

    def on_resize(self, event: object) -> None:
        narrow = self.size.width < self.NARROW_BELOW
        self.query_one("#main").set_class(narrow, "narrow")
        self.preview_cells = self.narrow_preview_cells if narrow else self.wide_preview_cells
        if (row := self.current()) is not None:
            self._show(row)

    def run(self, *args: Any, **kwargs: Any) -> ReviewProgress | None:
        """Run in this terminal; refuse at once when there is none (no escape codes dumped
        into a pipe or a log, no wait for keys that cannot come)."""
        if not kwargs.get("headless"):
            try:
                require_terminal()
            except DatacurError:
                self.journal.close()
                raise
        return super().run(*args, **kwargs)

    def on_mount(self) -> None:
        self.query_one("#main").set_class(self.size.width < self.NARROW_BELOW, "narrow")
        if self.size.width < self.NARROW_BELOW:
            self.preview_cells = self.narrow_preview_cells
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
        if not rows:  # an empty view previews nothing (not the last image it showed)
            self.query_one("#preview", Static).update(
                Text("No image matches the filters: press f or c to change them.", style="dim")
            )
            self.query_one("#details", Static).update("")
            self.query_one("#book", Static).update("")
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
        self._show(row)

    def _preview(self, row: IssueRow) -> RenderableType:
        """The image, and its twin beside it (with both paths) when the row names one."""
        twin = find_twin(row)
        if twin is None:
            return _pixels(self.variant_dir / row.path, self.preview_cells)
        grid = Table.grid(padding=(0, 2))
        grid.add_column()
        grid.add_column()
        width, height = self.preview_cells
        cells = (max(8, min(width, (self.size.width - 8) // 2)), height)
        grid.add_row(
            Text(f"this (d): {row.label}", style="bold"),
            Text(f"twin (w): {_label_of(twin)}", style="bold"),
        )
        grid.add_row(
            _pixels(self.variant_dir / row.path, cells), _pixels(self.variant_dir / twin, cells)
        )
        grid.add_row(
            Text(_short_path(row.path), overflow="fold"),
            Text(_short_path(twin) + self._twin_status(twin), overflow="fold"),
        )
        return grid

    def _twin_status(self, twin: str) -> str:
        decision = self.journal.decisions.get(twin)
        return f" ({decision.action})" if decision is not None else ""

    def _show(self, row: IssueRow) -> None:
        self.query_one("#preview", Static).update(self._preview(row))
        details = Table.grid(padding=(0, 1))
        details.add_column(style="bold")
        details.add_column()
        details.add_row("path", row.path)
        if (twin := find_twin(row)) is not None:
            details.add_row("twin", twin)
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
            if self.label_book is None:
                parts.append(Text("  (no label book found: pass --label-book DIR)", style="dim"))
                continue
            if not examples:
                parts.append(Text(f"  (none in {self.label_book / label})", style="dim"))
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
        index = self.query_one(DataTable).cursor_row
        previous = self.journal.decisions.get(row.path)
        if previous is not None and (previous.action, previous.to) == (action, to):
            # the same decision again (k on the last image, twice): nothing changes, no line
            self._goto_pending(start=index + 1)
            return
        self.journal.record(action, row.path, label=row.label, to=to, issue=row.issue)
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

    def action_drop_twin(self) -> None:
        """Drop the other copy of the pair and keep this one: one key, two journal lines
        (undone together by one u)."""
        row = self.current()
        if row is None:
            return
        twin = find_twin(row)
        if twin is None:
            self.notify("This image has no twin: press d to drop it.", severity="warning")
            return
        decisions = self.journal.decisions
        twin_done = decisions.get(twin) is not None and decisions[twin].action == "drop"
        mine = decisions.get(row.path)
        if twin_done and mine is not None and mine.action == "keep":
            self._goto_pending(start=self.query_one(DataTable).cursor_row + 1)
            return
        index = self.query_one(DataTable).cursor_row
        if not twin_done:
            self.journal.record("drop", twin, label=_label_of(twin), issue=row.issue)
        self.journal.record("keep", row.path, label=row.label, issue=row.issue)
        if not twin_done:
            self._twin_keeps.add(len(self.journal.in_force))
        self._update_status(twin)
        self._update_status(row.path)
        self._goto_pending(start=index + 1)

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
        paired = len(self.journal.in_force) in self._twin_keeps
        undone: Decision | None = self.journal.undo()
        if undone is None:
            self.notify("Nothing to undo.")
            return
        if paired:  # a `w`: its twin's drop goes with it
            self._twin_keeps.discard(len(self.journal.in_force) + 1)
            if (twin := self.journal.undo()) is not None:
                self._update_status(twin.path)
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


def _label_of(path: str) -> str:
    """The class of a variant path ``split/label/name``."""
    parts = path.split("/")
    return parts[1] if len(parts) >= 3 and parts[1] in CLASSES else ""


def review_issues(
    issues_csv: Path,
    journal_path: Path,
    *,
    variant_dir: Path | None = None,
    label_book: Path | None = None,
) -> ReviewProgress:
    """Run the review UI in this terminal until the user quits; return the progress.

    ``label_book`` None finds the variant's own (see :func:`find_label_book`).

    Example:
        >>> review_issues(Path("issues.csv"), Path("review.jsonl"))  # doctest: +SKIP
    """
    rows, variant = load_review(issues_csv, variant_dir=variant_dir)
    if label_book is None:
        label_book = find_label_book(variant)
    app = ReviewApp(rows, journal_path, variant_dir=variant, label_book=label_book)
    result = app.run()
    return result if result is not None else app.progress
