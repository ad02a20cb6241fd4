from pathlib import Path

import numpy as np
import pytest

from datacur.errors import EvaluationError
from datacur.evaluate import evaluate_variant
from datacur.model import (
    MODELS,
    ModelSpec,
    build_fixed_model,
    build_model,
    count_parameters,
    embedding_model,
    register_model,
)

# Parameter counts pin the architectures: a silent change to a model changes these.
EXPECTED_PARAMETERS = {"fixed": 232_330, "resnet50": 23_608_202, "small-cnn": 289_642}


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMETERS), ids=str)
def test_registered_models_have_their_documented_size(name: str) -> None:
    assert count_parameters(name) == EXPECTED_PARAMETERS[name]
    # `datacur models` shows the stated figure without building the model: it must be true
    assert MODELS[name].parameters == EXPECTED_PARAMETERS[name]


def test_fixed_model_is_cut_at_conv2_block3_out_with_logits_head() -> None:
    model = build_fixed_model()
    backbone = model.layers[1]
    assert backbone.output.shape[1:] == (8, 8, 256)  # conv2_block3_out at 32x32 input
    assert model.output.shape[1:] == (10,)
    features = embedding_model(model)(np.zeros((2, 32, 32, 3), dtype="float32"))
    assert features.shape == (2, 256)


def test_registry_rejects_duplicates_and_unknown_names() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_model(ModelSpec("fixed", "again", build_fixed_model))
    with pytest.raises(EvaluationError, match=r"unknown model 'vgg'.*fixed, resnet50, small-cnn"):
        build_model("vgg")
    assert next(iter(MODELS)) == "fixed"


def test_evaluate_refuses_an_unknown_model_before_training(tmp_path: Path, make_variant) -> None:
    variant = make_variant(tmp_path / "v", n_train=1, n_val=1)
    with pytest.raises(EvaluationError, match="unknown model"):
        evaluate_variant(variant, epochs=1, model="vgg")


@pytest.mark.slow
def test_small_cnn_trains_through_the_same_evaluator(tmp_path: Path, make_variant) -> None:
    variant = make_variant(tmp_path / "v", n_train=2, n_val=1)
    result = evaluate_variant(variant, epochs=1, model="small-cnn", jit_compile=False)
    assert result.model == "small-cnn" and result.epochs == 1
    assert len(result.curves["val_accuracy"]) == 1
