"""One page's training: the data, the network, its compiled epoch and what the page draws.

A :class:`Session` belongs to one browser connection. It trains with jaxnn's own compiled step
(:func:`jaxnn.make_train_step`): one *update* is one epoch, every batch of a shuffled pass over
the training points, run as one ``lax.scan`` under ``jit``. The page then gets a *frame*: the
epoch, the training and test loss, the output over the plane, every neuron's output and the
weights.

The network takes the chosen features of a point (``x1``, ``x1^2``, ``sin_x1`` ...) as its input,
as on the TensorFlow Playground; :func:`features` computes them, and the code panel shows the
same function.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxnn import activations, data, regularizers
from jaxnn.combinators import serial
from jaxnn.core import Layer
from jaxnn.layers import Dense
from jaxnn.models import save_model
from jaxnn.playground.settings import ACTIVATIONS, DATASETS, Settings
from jaxnn.train.state import TrainState
from jaxnn.train.step import make_train_step

__all__ = [
    "GRID",
    "NEURON_GRID",
    "Session",
    "build_model",
    "features",
    "load_data",
    "regularizer",
]

GRID = 48  # the output's heat map is GRID x GRID cells over [-6, 6]^2
NEURON_GRID = 20  # each neuron's small heat map
EXTENT = 6.0
# Controls that change the training without starting again (the TF Playground's behaviour).
_LIVE = {"learning_rate", "regularization", "regularization_rate", "batch_size"}
# Controls that shape the compiled functions; the others are data.
_COMPILED = ("problem", "hidden", "activation", "learning_rate", "regularization",
             "regularization_rate")  # fmt: skip

_FEATURE_FUNCTIONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "x1": lambda x1, x2: x1,
    "x2": lambda x1, x2: x2,
    "x1^2": lambda x1, x2: x1**2,
    "x2^2": lambda x1, x2: x2**2,
    "x1x2": lambda x1, x2: x1 * x2,
    "sin_x1": lambda x1, x2: np.sin(x1),
    "sin_x2": lambda x1, x2: np.sin(x2),
}


def features(points: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """The chosen input features of 2-D points, as float32 columns in the order of ``names``.

    Example:
        >>> features(np.array([[2.0, 3.0]]), ("x1", "x1x2", "x2^2"))
        array([[2., 6., 9.]], dtype=float32)
    """
    x1, x2 = points[:, 0], points[:, 1]
    return np.stack([_FEATURE_FUNCTIONS[n](x1, x2) for n in names], axis=1).astype(np.float32)


def load_data(settings: Settings) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """The settings' data set from :mod:`jaxnn.data`, split into training and test points.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: points ``(N, 2)`` and float32 targets
        ``(N, 1)`` (labels 0 and 1 for classification).

    Example:
        >>> (x, y), (xt, yt) = load_data(Settings(points=100, train_percent=70))
        >>> x.shape, y.shape, xt.shape
        ((70, 2), (70, 1), (30, 2))
    """
    make = getattr(data, DATASETS[settings.problem][settings.dataset])
    (x, y), (xt, yt) = make(
        settings.points,
        noise=settings.noise / 100,
        seed=settings.seed,
        test_fraction=settings.test_fraction(),
    )
    y, yt = (np.asarray(v, np.float32).reshape(-1, 1) for v in (y, yt))
    return (np.asarray(x), y), (np.asarray(xt), yt)


def build_model(settings: Settings) -> Layer:
    """The network: one ``Dense`` per hidden layer with the activation, then ``Dense(1)``.

    Example:
        >>> model = build_model(Settings(hidden=(3,), activation="relu"))
        >>> out_shape, params, _ = model.init(jax.random.key(0), (-1, 2))
        >>> out_shape, jax.tree.map(jnp.shape, params)["dense_1"]
        ((-1, 1), {'b': (1,), 'w': (3, 1)})
    """
    name = ACTIVATIONS[settings.activation]
    return serial(*(Dense(n, activation=name) for n in settings.hidden), Dense(1))


def regularizer(settings: Settings) -> Callable | None:
    """The L1 or L2 penalty on the weights (not the biases), or ``None``."""
    if settings.regularization == "none" or settings.regularization_rate == 0:
        return None
    if settings.regularization == "l1":
        return regularizers.l1(settings.regularization_rate)
    return regularizers.l2(settings.regularization_rate)


def loss_name(settings: Settings) -> str:
    """Binary cross-entropy on the output logit for classification, squared error otherwise."""
    return "sigmoid_binary_cross_entropy" if settings.problem == "classification" else "mse"


def _grid(size: int) -> np.ndarray:
    # Cell centres, row 0 at the top (x2 = +6), as the page draws them.
    centres = (np.arange(size) + 0.5) / size * 2 * EXTENT - EXTENT
    x1, x2 = np.meshgrid(centres, centres[::-1])
    return np.stack([x1.ravel(), x2.ravel()], axis=1)


def _encode(values: Any) -> str:
    """Values in [-1, 1] as base64 bytes 0..255 (what the page's heat maps read)."""
    scaled = np.round((np.clip(np.asarray(values), -1, 1) + 1) * 127.5).astype(np.uint8)
    return base64.b64encode(scaled.tobytes()).decode("ascii")


def layer_outputs(settings: Settings, params: Any, x: Any) -> list[Any]:
    """Every layer's output, from the first hidden layer to the output logit, for inputs ``x``.

    A second path through the network (the page draws each neuron), written from the
    parameters; it equals ``model.apply`` on the last layer.
    """
    phi = activations.get(ACTIVATIONS[settings.activation])
    outputs, h = [], x
    for i in range(len(settings.hidden) + 1):
        layer = params["dense" if i == 0 else f"dense_{i}"]
        h = h @ layer["w"] + layer["b"][None, :]
        if i < len(settings.hidden):
            h = phi(h)
        outputs.append(h)
    return outputs


class Session:
    """The training of one page: settings, data, train state and the compiled functions.

    Args:
        settings: The controls (default: the defaults of :class:`Settings`).

    Example:
        >>> s = Session(Settings(dataset="gaussian", points=100, hidden=(2,)))
        >>> first = s.train(1)["train_loss"]
        >>> later = s.train(20)
        >>> later["epoch"], later["train_loss"] < first
        (21, True)
    """

    def __init__(self, settings: Settings | None = None) -> None:
        """Generates the data and a fresh network for ``settings``."""
        self.settings = settings or Settings()
        self._configure(self.settings, new_data=True)

    def _configure(self, settings: Settings, *, new_data: bool) -> None:
        self.settings = settings
        if new_data:
            self.data = load_data(settings)
        (x, y), (xt, yt) = self.data
        self._x, self._y = features(x, settings.features), y
        self._xt, self._yt = features(xt, settings.features), yt
        self._grid = features(_grid(GRID), settings.features)
        self._small = features(_grid(NEURON_GRID), settings.features)
        self.model = build_model(settings)
        self.optimizer = optax.sgd(settings.learning_rate)
        key = {k: getattr(settings, k) for k in _COMPILED}
        self._epoch_fn, self._frame_fn = _compiled(Settings(**key))
        self.reset()

    def reset(self) -> None:
        """New initial weights (from the seed) and epoch 0; the data stays."""
        self.train_state = TrainState.create(
            self.model, jax.random.key(self.settings.seed), (-1, len(self.settings.features)),
            self.optimizer,
        )  # fmt: skip
        self.epoch = 0
        self._rng = np.random.default_rng(self.settings.seed)
        self.history: list[tuple[int, float, float]] = []

    def update(self, settings: Settings) -> None:
        """Applies new settings, as the TF Playground does.

        The learning rate, the regularisation and the batch size change the training from the
        next step on and keep the weights; any other control starts again from new weights
        (and new data when a data control changed).
        """
        changed = {
            f.name
            for f in dataclasses.fields(Settings)
            if getattr(settings, f.name) != getattr(self.settings, f.name)
        }
        if changed <= _LIVE:
            kept = (self.train_state, self.epoch, self.history, self._rng)
            self._configure(settings, new_data=False)
            self.train_state, self.epoch, self.history, self._rng = kept
            return
        data_keys = {"problem", "dataset", "noise", "train_percent", "points", "seed"}
        self._configure(settings, new_data=bool(changed & data_keys))

    def regenerate(self, seed: int) -> None:
        """A new draw of the data set (and of the initial weights) with ``seed``."""
        self._configure(dataclasses.replace(self.settings, seed=seed), new_data=True)

    def _batches(self) -> tuple[np.ndarray, np.ndarray]:
        """One epoch's batch indices ``(steps, batch)`` and weights (0 on the padding)."""
        n, size = len(self._x), self.settings.batch_size
        order = self._rng.permutation(n)
        steps = -(-n // size)
        index = np.zeros(steps * size, np.int32)
        weight = np.zeros(steps * size, np.float32)
        index[:n], weight[:n] = order, 1.0
        return index.reshape(steps, size), weight.reshape(steps, size)

    def train(self, epochs: int = 1) -> dict[str, Any]:
        """Trains ``epochs`` epochs and returns the frame the page draws (see :meth:`frame`)."""
        ts = self.train_state
        for _ in range(epochs):
            index, weight = self._batches()
            ts = self._epoch_fn(ts, self._x, self._y, index, weight)
            self.epoch += 1
        self.train_state = ts
        return self.frame()

    def frame(self) -> dict[str, Any]:
        """What the page draws: epoch, losses, the loss history, heat maps and weights.

        Returns:
            A JSON-ready dict: ``epoch``, ``train_loss``, ``test_loss``, ``history`` (a list of
            ``[epoch, train_loss, test_loss]``), ``output`` (GRID x GRID values in [-1, 1],
            base64 bytes, row 0 at the top), ``neurons`` (per hidden layer, per neuron, a
            NEURON_GRID x NEURON_GRID map the same way), ``weights`` (per layer, ``w`` as
            nested lists ``[in][out]`` and ``b``).
        """
        out = self._frame_fn(
            self.train_state.params, self._x, self._y, self._xt, self._yt, self._grid, self._small
        )
        train_loss, test_loss, output, neurons = jax.device_get(out)
        entry = (self.epoch, float(train_loss), float(test_loss))
        if not self.history or self.history[-1][0] != self.epoch:
            self.history.append(entry)
        params = jax.device_get(self.train_state.params)
        layers = [params["dense" if i == 0 else f"dense_{i}"] for i in range(len(params))]
        return {
            "epoch": self.epoch,
            "train_loss": entry[1],
            "test_loss": entry[2],
            "history": [list(h) for h in self.history[-500:]],
            "output": _encode(output),
            "neurons": [[_encode(m[:, j]) for j in range(m.shape[1])] for m in neurons],
            "weights": [
                {"w": np.round(p["w"], 4).tolist(), "b": np.round(p["b"], 4).tolist()}
                for p in layers
            ],
        }

    def points(self) -> dict[str, Any]:
        """The training and test points with their targets, for the page to draw."""
        (x, y), (xt, yt) = self.data
        return {
            "train": np.round(np.concatenate([x, y], axis=1), 4).tolist(),
            "test": np.round(np.concatenate([xt, yt], axis=1), 4).tolist(),
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Writes the trained network with :func:`jaxnn.save_model` (input: the features)."""
        return save_model(
            path, self.model, self.train_state, input_shape=(-1, len(self.settings.features))
        )


@functools.lru_cache(maxsize=64)
def _compiled(settings: Settings) -> tuple[Callable, Callable]:
    """The jitted epoch and frame functions, shared by every session with these settings.

    ``settings`` holds only the controls in ``_COMPILED`` (the rest at their defaults), so that
    a new seed or noise level reuses the compiled code; ``jit`` specialises on the shapes.
    """
    model = build_model(settings)
    loss = loss_name(settings)
    step = make_train_step(
        model, loss, optax.sgd(settings.learning_rate), regularizer=regularizer(settings)
    )

    @jax.jit
    def epoch(ts: TrainState, x: Any, y: Any, index: Any, weight: Any) -> TrainState:
        def body(ts: TrainState, batch: Any) -> tuple[TrainState, None]:
            i, w = batch
            ts, _ = step(ts, (x[i], y[i], w))
            return ts, None

        ts, _ = jax.lax.scan(body, ts, (index, weight))
        return ts

    loss_fn = (
        (lambda z, t: optax.sigmoid_binary_cross_entropy(z, t).mean())
        if loss != "mse"
        else (lambda z, t: jnp.mean((z - t) ** 2))
    )
    classification = settings.problem == "classification"

    @jax.jit
    def frame(params: Any, x: Any, y: Any, xt: Any, yt: Any, grid: Any, small: Any) -> Any:
        def out(z: Any) -> Any:
            return 2 * jax.nn.sigmoid(z) - 1 if classification else z

        z_train = layer_outputs(settings, params, x)[-1]
        z_test = layer_outputs(settings, params, xt)[-1]
        output = out(layer_outputs(settings, params, grid)[-1][:, 0])
        neurons = layer_outputs(settings, params, small)[:-1]
        return loss_fn(z_train, y), loss_fn(z_test, yt), output, neurons

    return epoch, frame
