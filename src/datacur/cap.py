"""The 10,000-image cap, counted exactly as the competition's fixed script counts it.

The script computes ``(train.cardinality() + valid.cardinality()) * batch_size`` on batched
datasets, i.e. ``(ceil(train / 8) + ceil(val / 8)) * 8``: a partial last batch counts as a
full one, so the 2,880 starter images count as 2,888.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from datacur.errors import CapExceededError
from datacur.variant import list_variant_images

__all__ = [
    "BATCH_SIZE",
    "MAX_IMAGES",
    "CapResult",
    "count_capped",
    "measure_cap",
    "require_under_cap",
]

MAX_IMAGES = 10_000
"""The competition's limit; the script aborts when the count is greater than this."""

BATCH_SIZE = 8
"""The fixed script's batch size, which the count rounds up to."""


def count_capped(train_images: int, val_images: int, *, batch_size: int = BATCH_SIZE) -> int:
    """Return the competition's count for ``train_images`` + ``val_images``.

    Example:
        >>> count_capped(2067, 813)
        2888
    """
    if train_images < 0 or val_images < 0:
        raise ValueError("image counts must be >= 0")
    return (math.ceil(train_images / batch_size) + math.ceil(val_images / batch_size)) * batch_size


@dataclass(frozen=True)
class CapResult:
    """A variant's count against the cap."""

    variant: str
    train_images: int
    val_images: int
    counted: int
    limit: int = MAX_IMAGES

    @property
    def images(self) -> int:
        """Images on disk (train + val), before the script's rounding up."""
        return self.train_images + self.val_images

    @property
    def over(self) -> bool:
        """True when the fixed script would refuse the variant (count > limit)."""
        return self.counted > self.limit

    @property
    def headroom(self) -> int:
        """How many counted images are left under the cap (negative when over)."""
        return self.limit - self.counted

    def message(self) -> str:
        """One line saying the count and, when over, what to remove."""
        text = (
            f"{self.variant}: {self.counted:,} counted "
            f"({self.train_images:,} train + {self.val_images:,} val, rounded up to batches of "
            f"{BATCH_SIZE}) against a cap of {self.limit:,}"
        )
        if self.over:
            text += (
                f": over by {-self.headroom:,}. Remove at least {-self.headroom:,} images "
                "(or run `datacur mix` with a lower target) before scoring."
            )
        return text


def measure_cap(variant_dir: Path, *, limit: int = MAX_IMAGES) -> CapResult:
    """Count a variant's train and val images as the fixed script does."""
    images = list_variant_images(variant_dir, allow_empty_class=True)
    train = sum(1 for image in images if image.split == "train")
    val = sum(1 for image in images if image.split == "val")
    return CapResult(str(variant_dir), train, val, count_capped(train, val), limit)


def require_under_cap(result: CapResult) -> CapResult:
    """Return ``result`` unchanged, or raise CapExceededError when it is over the cap."""
    if result.over:
        raise CapExceededError(result.message())
    return result
