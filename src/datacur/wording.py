"""How counts are written in messages: "1 epoch", "2 epochs" (never "1 epochs")."""

from __future__ import annotations

__all__ = ["count_noun"]


def count_noun(count: int, noun: str, plural: str | None = None) -> str:
    """``count`` and ``noun``, the noun plural unless the count is exactly one.

    Example:
        >>> count_noun(1, "epoch"), count_noun(3, "epoch"), count_noun(2, "fold")
        ('1 epoch', '3 epochs', '2 folds')
    """
    return f"{count} {noun if count == 1 else (plural or noun + 's')}"
