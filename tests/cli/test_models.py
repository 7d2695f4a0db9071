import numpy as np
import pytest

from jaxnn.cli.common import UserError
from jaxnn.cli.datasets import load_dataset
from jaxnn.cli.models import (
    adapt_targets,
    check_name,
    check_output,
    load_source,
    output_shape,
    predicted_classes,
    probabilities,
    trained_loss,
)
from jaxnn.cli.spec import build
from tests.cli.conftest import MODEL_FILE


def test_a_model_file_gives_model_loss_and_optimizer(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(MODEL_FILE)
    source = load_source(str(path))
    assert output_shape(source.model, (-1, 5)) == ((-1, 2), 5 * 8 + 8 + 8 * 2 + 2)
    assert (source.loss, source.optimizer) == ("softmax_cross_entropy", "sgd")


@pytest.mark.parametrize(
    "text, message",
    [
        ("x = 1\n", r"must define `model`, a jaxnn Layer .*; got nothing"),
        ("model = 3\n", "got int"),
        ("import math\n\nmath.sqrt(-1)\n", r"model\.py, line 3: ValueError: math domain error"),
        ("model = (\n", r"model\.py, line 1: SyntaxError"),
        (
            "import jaxnn\nfrom jaxnn.layers import Dense\n"
            "model = jaxnn.serial(Dense(2), lambda x: x * 2)\n",
            "the model cannot be saved to model.jaxnn",
        ),
    ],
)
def test_model_file_errors_name_the_file_and_line(tmp_path, text, message):
    path = tmp_path / "model.py"
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        load_source(str(path))


def test_missing_model_file():
    with pytest.raises(UserError, match="no such model file"):
        load_source("nowhere/model.py")


def test_check_output_wants_one_unit_per_class():
    xor = load_dataset("xor")
    check_output((-1, 2), xor)
    check_output((-1, 1), xor)  # one logit for two classes
    with pytest.raises(UserError, match=r"gives 3 outputs .* 'xor' has 2 classes .* dense\(2\)"):
        check_output((-1, 3), xor)
    with pytest.raises(UserError, match=r"add flatten .* before the last dense\(10\)"):
        check_output((-1, 4, 4, 10), load_dataset("digits"))
    with pytest.raises(UserError, match=r"have 1 column\(s\): end the model with dense\(1\)"):
        check_output((-1, 2), load_dataset("regression_plane"))


def test_model_that_does_not_fit_the_input_says_so():
    with pytest.raises(UserError, match=r"does not fit inputs of shape \(-1, 64\): .*conv2d"):
        output_shape(build("conv2d(4, 3) dense(10)"), (-1, 64))


def test_check_name_lowercases_known_names_and_rejects_others():
    assert check_name("optimizer", "SGD", ["adam", "sgd"]) == "sgd"
    with pytest.raises(UserError, match=r"unknown optimizer 'sgf'\. Did you mean 'sgd'"):
        check_name("optimizer", "sgf", ["adam", "sgd"])


def test_binary_targets_get_a_column_only_for_one_output_losses():
    y = np.array([0, 1, 1])
    assert adapt_targets(y, "binary_crossentropy").shape == (3, 1)
    assert adapt_targets(y, "softmax_cross_entropy").shape == (3,)


def test_classes_and_probabilities_from_outputs():
    logits = np.array([[1.0, 3.0], [2.0, 0.0]])
    assert predicted_classes(logits, "softmax_cross_entropy").tolist() == [1, 0]
    p = probabilities(logits, "softmax_cross_entropy")
    e = np.exp([[1.0, 3.0], [2.0, 0.0]])  # softmax by hand
    np.testing.assert_allclose(p, e / e.sum(axis=1, keepdims=True))
    probs = np.array([[0.3], [0.7]])  # binary_cross_entropy takes probabilities: threshold 0.5
    assert predicted_classes(probs, "binary_cross_entropy").tolist() == [0, 1]
    np.testing.assert_allclose(
        probabilities(probs, "binary_cross_entropy"), [[0.7, 0.3], [0.3, 0.7]]
    )
    assert probabilities(logits, "mse") is None


def test_trained_loss_prefers_the_config_then_the_saved_fit_arguments():
    xor = load_dataset("xor")
    assert trained_loss({"loss": "hinge"}, {"loss": "mse"}, (-1, 1), xor) == "hinge"
    assert trained_loss({}, {"loss": "mse"}, (-1, 1), xor) == "mse"
    assert trained_loss({}, {}, (-1, 1), xor) == "sigmoid_binary_cross_entropy"
