"""Decode image files exactly as ``keras.utils.image_dataset_from_directory`` does.

Same TensorFlow ops in the same order (``read_file`` -> ``decode_image(channels=3,
expand_animations=False)`` -> bilinear ``resize`` to 32x32 without keeping aspect), so the
arrays equal what the fixed script feeds its model, bit for bit. Decoding once and keeping
the arrays is the evaluator's biggest saving on CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from datacur.errors import VariantError
from datacur.io import refuse_hostile_image
from datacur.model import IMAGE_SIZE

__all__ = ["decode_images"]


def decode_images(
    paths: Sequence[Path | str], *, image_size: tuple[int, int] = IMAGE_SIZE
) -> np.ndarray:
    """Decode and resize images like the Keras loader.

    Args:
        paths: image files (PNG, JPEG, BMP, GIF).
        image_size: (height, width) to resize to; the fixed model uses (32, 32).

    Returns:
        float32 array of shape (N, height, width, 3), values in [0, 255].

    Raises:
        VariantError: a file cannot be decoded (naming it and what to do).
    """
    import tensorflow as tf

    out = np.empty((len(paths), *image_size, 3), dtype=np.float32)
    for index, path in enumerate(paths):
        refuse_hostile_image(Path(path))  # before TensorFlow allocates a bomb's pixels
        try:
            raw = tf.io.read_file(str(path))
            image = tf.image.decode_image(raw, channels=3, expand_animations=False)
        except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError) as err:
            raise VariantError(
                f"{path}: TensorFlow cannot decode this image ({err.message.splitlines()[0]}). "
                "Run `datacur check` on the variant and remove or re-save the file."
            ) from err
        out[index] = tf.image.resize(image, image_size, method="bilinear").numpy()
    return out
