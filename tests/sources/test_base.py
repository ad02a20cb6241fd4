"""The glyph record and the explicit source registry."""

from __future__ import annotations

import numpy as np
import pytest

from datacur.errors import SourceError
from datacur.sources import base
from datacur.sources.base import Glyph, Source, open_source, register_source, registered_sources
from datacur.sources.strokes import StrokesSource


def test_builtins_are_registered_by_name() -> None:
    assert set(registered_sources()) >= {"strokes", "emnist", "chars74k", "folder"}


def test_duplicate_name_is_an_error() -> None:
    registered_sources()
    with pytest.raises(ValueError, match="already registered"):
        register_source("strokes", StrokesSource, description="again", needs_path=False)


def test_a_new_source_can_be_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base, "_REGISTRY", dict(base._REGISTRY))
    register_source(
        "mine", lambda path, **kw: StrokesSource(writers=1), description="x", needs_path=False
    )
    assert isinstance(open_source("mine"), Source)


def test_unknown_source_names_the_choices() -> None:
    with pytest.raises(SourceError, match=r"unknown glyph source 'nope'.*strokes"):
        open_source("nope")


@pytest.mark.parametrize("name", ["emnist", "chars74k", "folder"])
def test_sources_with_data_need_a_path(name: str) -> None:
    with pytest.raises(SourceError, match="--path"):
        open_source(name)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"letter": "A"}, "letter"),
        ({"case": "title"}, "case"),
        ({"image": np.zeros((4, 4), np.float32)}, "uint8"),
    ],
    ids=["bad-letter", "bad-case", "bad-dtype"],
)
def test_glyph_checks_its_fields(kwargs: dict[str, object], match: str) -> None:
    fields: dict[str, object] = {
        "image": np.zeros((4, 4), np.uint8),
        "letter": "I",
        "case": "upper",
        "writer": None,
        "origin": "test",
    }
    fields.update(kwargs)
    with pytest.raises(ValueError, match=match):
        Glyph(**fields)  # type: ignore[arg-type]
