"""Piped output keeps tables readable: rich would otherwise assume 80 columns."""

from __future__ import annotations

import io

import pytest

from datacur.cli._common import _PIPED_WIDTH, _piped_width


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_piped_output_is_wide_unless_columns_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    assert _piped_width(io.StringIO()) == _PIPED_WIDTH
    assert _piped_width(_Tty()) is None  # a terminal reports its own width
    monkeypatch.setenv("COLUMNS", "100")
    assert _piped_width(io.StringIO()) is None  # rich reads $COLUMNS itself
