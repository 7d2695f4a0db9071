"""The model of ``--model``: a spec (``"dense(64,relu) dense(10)"``) or a Python file, and checks.

A model file is run as a script and must define ``model`` (a :class:`~jaxnn.Layer`); it may
define ``loss`` and ``optimizer`` (names, a loss function, an Optax transformation), which the
command-line options override.
"""

from __future__ import annotations

import runpy
import traceback
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxnn import losses, optimizers
from jaxnn.cli.common import UserError, unknown_name
from jaxnn.cli.datasets import Dataset
from jaxnn.cli.spec import build
from jaxnn.core import Layer
from jaxnn.models import to_config

__all__ = [
    "BINARY_LOSSES",
    "CLASSIFICATION_LOSSES",
    "LOGIT_LOSSES",
    "ModelSource",
    "adapt_targets",
    "check_name",
    "check_output",
    "default_loss",
    "is_model_file",
    "load_source",
    "loss_name",
    "output_shape",
    "predicted_classes",
    "probabilities",
    "trained_loss",
]

# Losses that take one score per sample: targets (N,) become (N, 1) to match a dense(1) output.
BINARY_LOSSES = frozenset(
    {"sigmoid_binary_cross_entropy", "binary_cross_entropy", "binary_crossentropy", "hinge"}
)

# One-output losses that take a logit (class 1 when the output is above 0, not 0.5).
LOGIT_LOSSES = frozenset({"sigmoid_binary_cross_entropy", "hinge"})

# Losses of classifiers: their outputs become class ids (and probabilities).
CLASSIFICATION_LOSSES = BINARY_LOSSES | {
    "softmax_cross_entropy",
    "categorical_cross_entropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
}


def loss_name(loss: Any) -> str:
    """A loss's name: the name given, or a function's ``__name__``.

    Example:
        >>> loss_name("MSE"), loss_name(losses.mse)
        ('mse', 'mse')
    """
    return loss.lower() if isinstance(loss, str) else getattr(loss, "__name__", "")


class ModelSource(NamedTuple):
    """A model with what its file says about training it.

    Attributes:
        model: The model.
        loss: The file's ``loss`` (a name or a function), or ``None``.
        optimizer: The file's ``optimizer`` (a name or an Optax transformation), or ``None``.
    """

    model: Layer
    loss: Any
    optimizer: Any


def is_model_file(text: str) -> bool:
    """Whether ``--model`` names a Python file rather than a spec.

    Example:
        >>> is_model_file("models/cnn.py"), is_model_file("dense(10)")
        (True, False)
    """
    return text.strip().lower().endswith(".py")


def load_source(text: str) -> ModelSource:
    """Builds the model of ``--model``: a spec, or a file that defines ``model``.

    Raises:
        SpecError: For a spec that does not parse or names unknown things (a ValueError).
        UserError: For a file that is missing, fails to run, defines no ``model``, or defines
            one that :func:`jaxnn.save_model` cannot describe.
    """
    if not is_model_file(text):
        return ModelSource(build(text), None, None)
    path = Path(text.strip())
    if not path.is_file():
        raise UserError(f"--model {text!r}: no such model file.")
    try:
        namespace = runpy.run_path(str(path), run_name="jaxnn_model_file")
    except Exception as error:  # the user's code may raise anything: report where
        raise UserError(f"{path}{_line(error, path)}: {type(error).__name__}: {error}") from error
    model = namespace.get("model")
    if not isinstance(model, Layer):
        got = "nothing" if model is None else type(model).__name__
        raise UserError(
            f"{path} must define `model`, a jaxnn Layer (e.g. model = jaxnn.serial(Dense(64), "
            f"jax.nn.relu, Dense(10))); got {got}."
        )
    try:
        to_config(model)
    except ValueError as error:
        raise UserError(f"{path}: the model cannot be saved to model.jaxnn: {error}") from None
    return ModelSource(model, namespace.get("loss"), namespace.get("optimizer"))


def _line(error: BaseException, path: Path) -> str:
    """``, line N`` of the deepest frame in ``path``, or ``""``."""
    if isinstance(error, SyntaxError) and error.lineno:
        return f", line {error.lineno}"
    frames = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename) == path]
    return f", line {frames[-1].lineno}" if frames else ""


def check_name(kind: str, value: Any, known: list[str], *, plural: str = "") -> Any:
    """Checks a loss or optimizer name against the known ones; other values pass through.

    Example:
        >>> check_name("optimizer", "Adam", ["adam", "sgd"])
        'adam'
    """
    if isinstance(value, str):
        if value.lower() not in known:
            raise UserError(unknown_name(kind, value, known, plural=plural))
        return value.lower()
    return value


def check_names(loss: Any, optimizer: Any) -> tuple[Any, Any]:
    """:func:`check_name` for a loss and an optimizer."""
    return (
        check_name("loss", loss, losses.names(), plural="losses"),
        check_name("optimizer", optimizer, optimizers.names()),
    )


def output_shape(model: Layer, input_shape: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    """The model's output shape and parameter count for ``input_shape``, without running it.

    Example:
        >>> output_shape(build("dense(4) dense(2)"), (-1, 3))  # 3*4+4 + 4*2+2 params
        ((-1, 2), 26)

    Raises:
        UserError: When the model rejects the input (the layer's message, with the shape).
    """
    shapes: list[Any] = []

    def init() -> Any:
        out, params, state = model.init(jax.random.key(0), input_shape)
        shapes.append(out)
        return params, state

    try:
        params, _ = jax.eval_shape(init)
    except (ValueError, TypeError) as error:
        raise UserError(f"the model does not fit inputs of shape {input_shape}: {error}") from error
    out = shapes[0]
    if not isinstance(out, tuple) or not all(isinstance(d, int) for d in out):
        raise UserError(f"the model must return one array; its output shapes are {out}.")
    return out, sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params))


def check_output(out_shape: tuple[int, ...], dataset: Dataset) -> None:
    """Checks that the last layer's size fits the classes (or targets) of the data.

    Sequence labels ``(N, T)`` (a text corpus) need logits ``(N, T, K)``, one row per position.

    Raises:
        UserError: Saying what the last layer gives, what the data needs, and the fix.
    """
    width = out_shape[-1]
    if dataset.num_classes is None:
        want = dataset.y_train.shape[-1]
        if len(out_shape) != 2 or width != want:
            raise UserError(
                f"the model's output has shape {out_shape}, but the targets of {dataset.name!r} "
                f"have {want} column(s): end the model with dense({want})."
            )
        return
    classes = dataset.num_classes
    if dataset.sequences:  # one class id per position: logits (N, T, K)
        want = (-1, dataset.x_train.shape[1], classes)
        if (-1, *out_shape[1:]) != want:
            raise UserError(
                f"the model's output has shape {out_shape}, but {dataset.name!r} has one label "
                f"per position: the model must give logits of shape {want}, e.g. "
                f"char_transformer({classes}, max_length={want[1]})."
            )
        return
    if len(out_shape) != 2:
        raise UserError(
            f"the model's output has shape {out_shape}; a classifier needs (-1, {classes}): add "
            f"flatten (or global_avg_pool) before the last dense({classes})."
        )
    if width != classes and not (width == 1 and classes <= 2):
        raise UserError(
            f"the model's last layer gives {width} outputs per sample, but {dataset.name!r} has "
            f"{classes} classes (labels 0-{classes - 1}): end the model with dense({classes})."
        )


def default_loss(out_shape: tuple[int, ...], dataset: Dataset) -> str:
    """Softmax cross-entropy for classes (sigmoid for one output), MSE for regression.

    Example:
        >>> from jaxnn.cli.datasets import load_dataset
        >>> default_loss((-1, 2), load_dataset("xor")), default_loss((-1, 1), load_dataset("xor"))
        ('softmax_cross_entropy', 'sigmoid_binary_cross_entropy')
    """
    if dataset.num_classes is None:
        return "mse"
    return "sigmoid_binary_cross_entropy" if out_shape[-1] == 1 else "softmax_cross_entropy"


def adapt_targets(y: np.ndarray, loss: Any) -> np.ndarray:
    """Class ids ``(N,)`` as ``(N, 1)`` for a loss that takes one score per sample.

    Example:
        >>> adapt_targets(np.array([0, 1]), "sigmoid_binary_cross_entropy").shape
        (2, 1)
    """
    if y.ndim == 1 and loss_name(loss) in BINARY_LOSSES:
        return y[:, None]
    return y


def predicted_classes(outputs: Any, loss: Any) -> np.ndarray:
    """Class ids from a classifier's outputs: argmax, or a threshold for one output.

    One output is a logit (threshold 0) for ``sigmoid_binary_cross_entropy`` and ``hinge``, a
    probability (threshold 0.5) otherwise.

    Example:
        >>> predicted_classes(np.array([[0.2, 0.9], [0.8, 0.1]]), "softmax_cross_entropy")
        array([1, 0])
        >>> predicted_classes(np.array([[-0.3], [0.4]]), "sigmoid_binary_cross_entropy")
        array([0, 1])
    """
    outputs = np.asarray(outputs)
    if outputs.shape[-1] != 1:
        return outputs.argmax(axis=-1)
    threshold = 0.0 if loss_name(loss) in LOGIT_LOSSES else 0.5
    return (outputs[..., 0] > threshold).astype(np.int64)


def trained_loss(
    config: dict[str, Any], fit_kwargs: dict[str, Any], out_shape: tuple, dataset: Dataset
) -> Any:
    """The loss a run trained with: its config's, the model file's, or the default."""
    for value in (config.get("loss"), fit_kwargs.get("loss")):
        if isinstance(value, str):
            return value
    if is_model_file(str(config.get("model", ""))):
        loss = load_source(config["model"]).loss
        if loss is not None:
            return loss
    return default_loss(out_shape, dataset)


def probabilities(outputs: Any, loss: Any) -> np.ndarray | None:
    """Class probabilities from a classifier's outputs, or ``None`` when the loss has none.

    Softmax of logits for ``softmax_cross_entropy``; for one logit (sigmoid loss) the
    probabilities of classes 0 and 1; outputs of the probability losses as they are.

    Example:
        >>> probabilities(np.array([[0.0]]), "sigmoid_binary_cross_entropy").tolist()
        [[0.5, 0.5]]
    """
    name, outputs = loss_name(loss), np.asarray(outputs, np.float64)
    if name == "softmax_cross_entropy":
        shifted = np.exp(outputs - outputs.max(axis=-1, keepdims=True))
        return shifted / shifted.sum(axis=-1, keepdims=True)
    if name == "hinge" or name not in CLASSIFICATION_LOSSES:
        return None
    if outputs.shape[-1] == 1:
        p = 1.0 / (1.0 + np.exp(-outputs)) if name in LOGIT_LOSSES else outputs
        return np.concatenate([1.0 - p, p], axis=-1)
    return outputs
