"""review.jsonl: append + fsync per decision, undo, replay, resume, torn last line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datacur.errors import DatacurError
from datacur.journal import Decision, Journal, read_journal, replay_decisions


def _clock() -> str:
    return "2026-01-01T00:00:00Z"


def test_each_decision_is_on_disk_at_once(tmp_path: Path) -> None:
    target = tmp_path / "review.jsonl"
    journal = Journal(target, clock=_clock)
    journal.record("keep", "train/i/a.png", label="i", issue="outlier")
    # Not closed: the line must already be readable by another reader.
    lines = target.read_text().splitlines()
    assert json.loads(lines[0]) == {
        "version": 1,
        "action": "keep",
        "path": "train/i/a.png",
        "label": "i",
        "issue": "outlier",
        "time": "2026-01-01T00:00:00Z",
    }
    journal.record("relabel", "val/iv/b.png", label="iv", to="vi")
    journal.record("drop", "train/x/c.png", label="x")
    assert len(target.read_text().splitlines()) == 3
    journal.close()


def test_undo_cancels_the_latest_decision_in_force(tmp_path: Path) -> None:
    with Journal(tmp_path / "r.jsonl", clock=_clock) as journal:
        journal.record("keep", "a", label="i")
        journal.record("drop", "b", label="i")
        journal.record("relabel", "a", label="i", to="ii")
        assert journal.undo() == Decision("relabel", "a", "i", "ii", "", _clock())
        assert journal.decisions["a"].action == "keep"
        assert journal.undo().path == "b"
        assert set(journal.decisions) == {"a"}
        journal.undo()
        assert journal.undo() is None
    assert read_journal(tmp_path / "r.jsonl") == {}


def test_resume_reads_what_an_earlier_session_wrote(tmp_path: Path) -> None:
    target = tmp_path / "r.jsonl"
    first = Journal(target, clock=_clock)
    first.record("drop", "a", label="v")
    first.record("keep", "b", label="v")
    # Simulate a crash: no close(), and a torn half line at the end.
    with open(target, "a", encoding="utf-8") as handle:
        handle.write('{"version": 1, "action": "dr')
    second = Journal(target, clock=_clock)
    assert set(second.decisions) == {"a", "b"}
    second.undo()
    second.record("relabel", "c", label="v", to="x")
    second.close()
    first.close()  # the "crashed" session never closed; close it only to free the handle
    assert {p: d.action for p, d in read_journal(target).items()} == {"a": "drop", "c": "relabel"}
    assert all(line.startswith("{") for line in target.read_text().splitlines())


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (("relabel", "a"), "not a class"),
        (("relabel", "a", "i", "i"), "already has"),
        (("undo", "a"), "cannot record"),
        (("keep", ""), "needs a 'path'"),
    ],
    ids=["relabel-no-class", "relabel-same", "undo-as-record", "no-path"],
)
def test_invalid_decisions_are_refused(tmp_path: Path, call: tuple, match: str) -> None:
    with Journal(tmp_path / "r.jsonl") as journal, pytest.raises(DatacurError, match=match):
        action, path, *rest = call
        journal.record(action, path, label=rest[0] if rest else "", to=rest[1] if rest else "")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("not json\n", "line 1: not JSON"),
        ('{"action": "keep"}\n', "missing key"),
        ('{"version": 2, "action": "keep", "path": "a"}\n', "version"),
        ('{"action": "explode", "path": "a"}\n', "unknown action"),
        ("[1]\n", "JSON object"),
    ],
    ids=["garbage", "no-path", "version", "action", "not-object"],
)
def test_bad_journal_lines_name_the_line(tmp_path: Path, text: str, match: str) -> None:
    target = tmp_path / "r.jsonl"
    target.write_text(text)
    with pytest.raises(DatacurError, match=match):
        read_journal(target)


def test_missing_journal(tmp_path: Path) -> None:
    with pytest.raises(DatacurError, match="journal not found"):
        read_journal(tmp_path / "absent.jsonl")


def test_replay_is_pure() -> None:
    entries = [Decision("keep", "a"), Decision("undo", "a"), Decision("undo", "x")]
    assert replay_decisions(entries) == []
