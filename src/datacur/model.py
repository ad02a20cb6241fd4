"""The models datacur trains: the competition's fixed model and a registry of second opinions.

The fixed model (registry name ``fixed``): ResNet50 (``weights=None``) cut at
``conv2_block3_out``, fed through ``resnet.preprocess_input``, then
``GlobalAveragePooling2D`` and ``Dense(10)`` logits;
Adam(1e-4), ``CategoricalCrossentropy(from_logits=True)``, accuracy. Keras 3 differences from
the 2021 script: ``learning_rate=`` instead of ``lr=``, and ``outputs=`` a tensor rather than
a one-item list. TensorFlow is imported inside the functions so importing datacur is cheap.

Other models (``resnet50``, ``small-cnn``) answer "does a better dataset help other models
too?" (issue 10). They share the head, optimiser, loss, batch size, epochs and checkpoint
rule; only the feature extractor differs. Each is one entry in ``MODELS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from datacur.errors import EvaluationError

__all__ = [
    "BATCH_SIZE",
    "DEFAULT_MODEL",
    "IMAGE_SIZE",
    "LEARNING_RATE",
    "MODELS",
    "ModelSpec",
    "build_fixed_model",
    "build_model",
    "build_resnet50_model",
    "build_small_cnn_model",
    "compile_fixed_model",
    "count_parameters",
    "embedding_model",
    "register_model",
    "stated_parameters",
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
    return keras.Model(model.input, pooled)


def _head(inputs: Any, features: Any) -> Any:
    """The fixed model's head on any feature map: global average pooling, Dense(10) logits."""
    import keras

    x = keras.layers.GlobalAveragePooling2D()(features)
    x = keras.layers.Dense(10)(x)
    return keras.Model(inputs, x)


def build_resnet50_model() -> Any:
    """The full ResNet50 (``weights=None``, no top) at 32x32 with the fixed model's head."""
    import keras

    backbone = keras.applications.ResNet50(
        input_shape=(*IMAGE_SIZE, 3), include_top=False, weights=None
    )
    inputs = keras.Input(shape=(*IMAGE_SIZE, 3))
    x = keras.applications.resnet.preprocess_input(inputs)
    return _head(inputs, backbone(x))


SMALL_CNN_FILTERS: tuple[int, ...] = (32, 64, 128)
SMALL_CNN_DROPOUT = 0.3


def build_small_cnn_model() -> Any:
    """A compact CNN trained from scratch: three conv-BN-ReLU x2 + max-pool blocks, dropout.

    Inputs are scaled to [0, 1]; filters double per block (32, 64, 128); 290 k
    parameters, about as many as the cut ResNet50's 232 k (see ``datacur models``).
    """
    import keras

    inputs = keras.Input(shape=(*IMAGE_SIZE, 3))
    x = keras.layers.Rescaling(1.0 / 255)(inputs)
    for filters in SMALL_CNN_FILTERS:
        for _ in range(2):
            x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = keras.layers.BatchNormalization()(x)
            x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Dropout(SMALL_CNN_DROPOUT)(x)
    return _head(inputs, x)


@dataclass(frozen=True)
class ModelSpec:
    """A named model: how to build it (uncompiled), one line on what it is and its size.

    ``parameters`` is stated, not computed, so ``datacur models`` lists the registry without
    importing TensorFlow (seconds); a test builds each model and checks the figure.
    """

    name: str
    description: str
    build: Callable[[], Any]
    parameters: int | None = None


MODELS: dict[str, ModelSpec] = {}
"""The model registry; ``fixed`` is the competition's model and the default everywhere."""

DEFAULT_MODEL = "fixed"


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add a model to the registry; a duplicate name is an error (no silent override)."""
    if spec.name in MODELS:
        raise ValueError(f"model {spec.name!r} is already registered")
    MODELS[spec.name] = spec
    return spec


register_model(
    ModelSpec(
        "fixed",
        "the competition's model: ResNet50 cut at conv2_block3_out, GAP, Dense(10)",
        build_fixed_model,
        parameters=232_330,
    )
)
register_model(
    ModelSpec(
        "resnet50",
        "the full ResNet50 (no weights) at 32x32, same head",
        build_resnet50_model,
        parameters=23_608_202,
    )
)
register_model(
    ModelSpec(
        "small-cnn",
        "a compact CNN from scratch: 3 conv/BN/pool blocks, dropout, same head",
        build_small_cnn_model,
        parameters=289_642,
    )
)


def build_model(name: str = DEFAULT_MODEL) -> Any:
    """Build a registered model by name (uncompiled).

    Raises:
        EvaluationError: unknown name, listing the registered ones.
    """
    if name not in MODELS:
        raise EvaluationError(
            f"unknown model {name!r}; choose one of {', '.join(MODELS)} (see `datacur models`)."
        )
    return MODELS[name].build()


def count_parameters(name: str) -> int:
    """Number of parameters (trainable and not) of a registered model; builds it."""
    return int(build_model(name).count_params())


def stated_parameters(name: str) -> int:
    """The parameter count a registered model states, building it only when it states none."""
    spec = MODELS.get(name)
    if spec is not None and spec.parameters is not None:
        return spec.parameters
    return count_parameters(name)
