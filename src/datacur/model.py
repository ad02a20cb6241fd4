"""The competition's fixed model, ported to Keras 3, and nothing else.

ResNet50 (``weights=None``) cut at ``conv2_block3_out``, fed through
``resnet.preprocess_input``, then ``GlobalAveragePooling2D`` and ``Dense(10)`` logits;
Adam(1e-4), ``CategoricalCrossentropy(from_logits=True)``, accuracy. Keras 3 differences from
the 2021 script: ``learning_rate=`` instead of ``lr=``, and ``outputs=`` a tensor rather than
a one-item list. TensorFlow is imported inside the functions so importing datacur is cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BATCH_SIZE",
    "IMAGE_SIZE",
    "LEARNING_RATE",
    "build_fixed_model",
    "compile_fixed_model",
    "embedding_model",
]

IMAGE_SIZE: tuple[int, int] = (32, 32)
BATCH_SIZE = 8
LEARNING_RATE = 1e-4
CUT_LAYER = "conv2_block3_out"


def build_fixed_model() -> Any:
    """Build (uncompiled) the fixed model; weights come from Keras's global RNG state.

    Call ``keras.utils.set_random_seed(seed)`` first to make the initialisation reproducible.

    Returns:
        A ``keras.Model`` mapping float32 (N, 32, 32, 3) images in [0, 255] to (N, 10) logits.
    """
    import keras

    base_model = keras.applications.ResNet50(
        input_shape=(*IMAGE_SIZE, 3), include_top=False, weights=None
    )
    base_model = keras.Model(base_model.inputs, outputs=base_model.get_layer(CUT_LAYER).output)
    inputs = keras.Input(shape=(*IMAGE_SIZE, 3))
    x = keras.applications.resnet.preprocess_input(inputs)
    x = base_model(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(10)(x)
    return keras.Model(inputs, x)


def compile_fixed_model(model: Any, **compile_options: Any) -> Any:
    """Compile ``model`` with the fixed optimiser, loss and metric; return it.

    ``compile_options`` (``jit_compile``, ``steps_per_execution``) change speed, not maths.
    """
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        **compile_options,
    )
    return model


def embedding_model(model: Any) -> Any:
    """A model sharing ``model``'s weights that outputs the pooled penultimate features.

    Returns:
        ``keras.Model`` mapping (N, 32, 32, 3) images to (N, 256) float32 embeddings.
    """
    import keras

    pooled = model.layers[-2].output
    return keras.Model(model.inputs, pooled)
