from pathlib import Path

import pytest

from datacur.cap import MAX_IMAGES, CapResult, count_capped, measure_cap, require_under_cap
from datacur.errors import CapExceededError

COUNT_CASES = [
    # (train, val, counted) -- partial batches count as full batches of 8
    (2067, 813, 2888),
    (0, 0, 0),
    (8, 8, 16),
    (9, 1, 24),
    (1, 1, 16),
    (5000, 5000, 10000),
    (4999, 4999, 10000),
    (5001, 4999, 10008),
]


@pytest.mark.parametrize(("train", "val", "counted"), COUNT_CASES, ids=lambda v: str(v))
def test_count_capped_rounds_each_split_up_to_batches(train: int, val: int, counted: int) -> None:
    assert count_capped(train, val) == counted


def test_count_capped_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        count_capped(-1, 3)


def test_cap_result_at_limit_is_not_over_and_one_batch_more_is() -> None:
    at_limit = CapResult("v", 5000, 5000, count_capped(5000, 5000))
    assert not at_limit.over and at_limit.headroom == 0
    over = CapResult("v", 5001, 4999, count_capped(5001, 4999))
    assert over.over and over.headroom == -8
    assert "over by 8" in over.message() and "Remove at least 8" in over.message()


def test_measure_cap_counts_the_variant_on_disk(tmp_path: Path, make_variant) -> None:
    variant = make_variant(tmp_path / "v", n_train=1, n_val=1)
    result = measure_cap(variant)
    assert (result.train_images, result.val_images) == (10, 10)
    assert result.counted == 32  # ceil(10/8)=2 batches per split -> 4 * 8


def test_require_under_cap_raises_with_the_count_and_the_fix(tmp_path: Path, make_variant) -> None:
    variant = make_variant(tmp_path / "v", n_train=1, n_val=1)
    result = measure_cap(variant, limit=24)
    with pytest.raises(CapExceededError, match=r"32 counted .* over by 8"):
        require_under_cap(result)
    assert require_under_cap(measure_cap(variant)).counted == 32
    assert MAX_IMAGES == 10_000
