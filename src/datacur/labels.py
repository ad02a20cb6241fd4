"""The competition's class names: the only place they are spelled out."""

from __future__ import annotations

CLASSES: tuple[str, ...] = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x")
"""Class names in the order the competition script passed as ``class_names``."""

CLASS_INDEX: dict[str, int] = {name: index for index, name in enumerate(CLASSES)}

SPLITS: tuple[str, ...] = ("train", "val")
"""The two folders of a variant that the fixed script trains and validates on."""

__all__ = ["CLASSES", "CLASS_INDEX", "SPLITS", "check_label"]


def check_label(label: str) -> str:
    """Return ``label`` if it is a class name, else raise ``ValueError`` naming the classes."""
    if label not in CLASS_INDEX:
        raise ValueError(f"unknown class {label!r}; expected one of {', '.join(CLASSES)}")
    return label
