"""The review journal: ``review.jsonl``, one decision per line, appended, flushed and fsynced.

Each line is a JSON object ``{"version": 1, "time": ..., "action": ..., "path": ...}``;
``action`` is ``keep``, ``relabel`` (with ``label`` -> ``to``), ``drop`` or ``undo`` (which
cancels the latest decision still in force). Replaying the lines gives the decisions in
force, so a crash, Ctrl-C or quit loses nothing and the next session resumes from them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from datacur.errors import DatacurError
from datacur.io import read_text_utf8
from datacur.labels import CLASSES

__all__ = [
    "ACTIONS",
    "JOURNAL_VERSION",
    "Decision",
    "Journal",
    "read_journal",
    "replay_decisions",
]

JOURNAL_VERSION = 1
ACTIONS: tuple[str, ...] = ("keep", "relabel", "drop", "undo")
DECISIONS: tuple[str, ...] = ("keep", "relabel", "drop")


@dataclass(frozen=True)
class Decision:
    """One journal line.

    ``path`` is relative to the variant (``train/iv/x.png``); ``label`` the label it had;
    ``to`` the new label (``relabel`` only); ``issue`` why it was flagged, for the record.
    """

    action: str
    path: str
    label: str = ""
    to: str = ""
    issue: str = ""
    time: str = ""

    def check(self, where: str) -> Decision:
        """Return self, or raise DatacurError naming ``where`` when the line is invalid."""
        if self.action not in ACTIONS:
            raise DatacurError(
                f"{where}: unknown action {self.action!r}; expected one of {', '.join(ACTIONS)}."
            )
        if not self.path:
            raise DatacurError(f"{where}: a decision needs a 'path'.")
        if self.action == "relabel":
            if self.to not in CLASSES:
                raise DatacurError(
                    f"{where}: relabel to {self.to!r}, which is not a class ({' '.join(CLASSES)})."
                )
            if self.to == self.label:
                raise DatacurError(f"{where}: relabel to the label it already has ({self.to}).")
        elif self.to:
            raise DatacurError(f"{where}: only 'relabel' takes 'to' (action {self.action}).")
        return self


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse_lines(path: Path, text: str) -> tuple[list[Decision], int]:
    """Parse journal text; return decisions and the byte length of the complete lines.

    A last line without its newline is what a crash mid-write leaves: it is ignored (and
    cut off before the next append). A bad complete line is an error.
    """
    entries: list[Decision] = []
    lines = text.split("\n")
    complete, tail = lines[:-1], lines[-1]
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        where = f"{path}: line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DatacurError(
                f"{where}: not JSON ({err.msg}). The journal was edited by hand; fix or "
                "delete that line."
            ) from err
        if not isinstance(record, dict):
            raise DatacurError(f"{where}: expected a JSON object per line.")
        if record.get("version", JOURNAL_VERSION) != JOURNAL_VERSION:
            raise DatacurError(
                f"{where}: journal version {record.get('version')!r}; this datacur reads "
                f"version {JOURNAL_VERSION}."
            )
        try:
            entry = Decision(
                action=str(record["action"]),
                path=str(record["path"]),
                label=str(record.get("label", "")),
                to=str(record.get("to", "")),
                issue=str(record.get("issue", "")),
                time=str(record.get("time", "")),
            )
        except KeyError as err:
            raise DatacurError(f"{where}: missing key {err}.") from err
        entries.append(entry.check(where))
    kept = len(text.encode("utf-8")) - len(tail.encode("utf-8"))
    return entries, kept


def replay_decisions(entries: Iterable[Decision]) -> list[Decision]:
    """The decisions in force, oldest first: each undo cancels the latest one still in force.

    When one image was decided several times, all stay in the list; the last one wins
    (see :func:`read_journal`).
    """
    in_force: list[Decision] = []
    for entry in entries:
        if entry.action == "undo":
            if in_force:
                in_force.pop()
        else:
            in_force.append(entry)
    return in_force


def read_journal(path: Path) -> dict[str, Decision]:
    """Read ``review.jsonl``: the final decision per image path (replayed, undos applied).

    Raises:
        DatacurError: the file is missing or holds a bad line (naming the line).
    """
    path = Path(path)
    if not path.is_file():
        raise DatacurError(f"{path}: journal not found. Give the review.jsonl that review wrote.")
    entries, _ = _parse_lines(path, read_text_utf8(path))
    return {entry.path: entry for entry in replay_decisions(entries)}


class Journal:
    """An open ``review.jsonl``: record decisions (each flushed and fsynced), undo, resume.

    Example:
        >>> with Journal(tmp / "review.jsonl") as journal:  # doctest: +SKIP
        ...     journal.record("drop", "train/i/x.png", label="i", issue="blank")
    """

    def __init__(self, path: Path, *, clock: Callable[[], str] = _utc_now) -> None:
        self.path = Path(path)
        self._clock = clock
        self._entries: list[Decision] = []
        if self.path.exists():
            data = self.path.read_bytes()
            self._entries, kept = _parse_lines(self.path, data.decode("utf-8", errors="replace"))
            if kept < len(data):
                with open(self.path, "r+b") as handle:  # drop a torn last line
                    handle.truncate(kept)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: IO[str] | None = open(self.path, "a", encoding="utf-8")  # noqa: SIM115

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (every line is already on disk)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    @property
    def in_force(self) -> list[Decision]:
        """Decisions in force, oldest first (see :func:`replay_decisions`)."""
        return replay_decisions(self._entries)

    @property
    def decisions(self) -> dict[str, Decision]:
        """The final decision per path."""
        return {entry.path: entry for entry in self.in_force}

    def record(
        self, action: str, path: str, *, label: str = "", to: str = "", issue: str = ""
    ) -> Decision:
        """Append one decision (``keep``, ``relabel`` or ``drop``) and fsync it.

        Raises:
            DatacurError: an invalid decision (unknown action, relabel to a non-class).
        """
        if action not in DECISIONS:
            raise DatacurError(f"cannot record {action!r}; decisions are {', '.join(DECISIONS)}.")
        entry = Decision(action, path, label, to, issue, self._clock()).check(str(self.path))
        self._append(entry)
        return entry

    def undo(self) -> Decision | None:
        """Cancel the latest decision in force; return it (None when nothing to undo)."""
        in_force = self.in_force
        if not in_force:
            return None
        undone = in_force[-1]
        self._append(Decision("undo", undone.path, time=self._clock()))
        return undone

    def _append(self, entry: Decision) -> None:
        if self._handle is None:
            raise DatacurError(f"{self.path}: journal is closed.")
        record = {"version": JOURNAL_VERSION, **{k: v for k, v in asdict(entry).items() if v}}
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._entries.append(entry)
