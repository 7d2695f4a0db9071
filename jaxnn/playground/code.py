"""The "code" panel: the jaxnn Python program that trains the network on the page.

The program draws the same data, starts from the same weights, shuffles with the same seeded
generator and takes the same SGD steps, so after the same number of epochs it prints the loss the
page shows (to float rounding: the page runs an epoch as one compiled ``lax.scan``).
"""

from __future__ import annotations

from jaxnn.playground.settings import ACTIVATIONS, DATASETS, FEATURES, Settings

__all__ = ["generate_code"]


def _features_function(names: tuple[str, ...]) -> str:
    columns = ", ".join(FEATURES[n] for n in names)
    return (
        "def features(points):\n"
        '    """The input features of 2-D points, as on the page."""\n'
        "    x1, x2 = points[:, 0], points[:, 1]\n"
        f"    return np.stack([{columns}], axis=1).astype(np.float32)\n"
    )


def _model(settings: Settings) -> str:
    activation = ACTIVATIONS[settings.activation]
    layers = [f'Dense({n}, activation="{activation}")' for n in settings.hidden] + ["Dense(1)"]
    return "model = jaxnn.serial(" + ", ".join(layers) + ")\n"


def _regularizer(settings: Settings) -> str:
    if settings.regularization == "none" or settings.regularization_rate == 0:
        return "None"
    return f"jaxnn.regularizers.{settings.regularization}({settings.regularization_rate:g})"


def generate_code(settings: Settings, *, epochs: int = 100) -> str:
    """The Python program that trains the page's network for ``epochs`` epochs.

    Args:
        settings: The page's controls.
        epochs: How many epochs to train (default 100; the page passes its epoch counter).

    Returns:
        The program's text; run it with ``python`` (it needs jaxnn, numpy and optax).

    Example:
        >>> code = generate_code(Settings(hidden=(3,), activation="relu"))
        >>> print(next(line for line in code.splitlines() if line.startswith("model")))
        model = jaxnn.serial(Dense(3, activation="relu"), Dense(1))
    """
    classification = settings.problem == "classification"
    loss = '"sigmoid_binary_cross_entropy"' if classification else '"mse"'
    generator = DATASETS[settings.problem][settings.dataset]
    size = settings.batch_size
    test_fraction = settings.test_fraction()
    return f'''"""The jaxnn Playground's network: {settings.dataset}, {settings.layer_sizes()}."""

import jax
import numpy as np
import optax

import jaxnn
from jaxnn.layers import Dense


{_features_function(settings.features)}

(x, y), (x_test, y_test) = jaxnn.data.{generator}(
    {settings.points}, noise={settings.noise / 100:g}, seed={settings.seed},
    test_fraction={test_fraction:g})
{_model(settings)}x, x_test = features(x), features(x_test)
y, y_test = (np.asarray(t, np.float32).reshape(-1, 1) for t in (y, y_test))
optimizer = optax.sgd({settings.learning_rate:g})
loss = {loss}
step = jax.jit(jaxnn.make_train_step(model, loss, optimizer, regularizer={_regularizer(settings)}))
train_state = jaxnn.TrainState.create(model, jax.random.key({settings.seed}), (-1, x.shape[1]),
                                      optimizer)
rng = np.random.default_rng({settings.seed})  # shuffles each epoch, as the page does
for epoch in range({epochs}):
    order = rng.permutation(len(x))
    for start in range(0, len(x), {size}):
        batch = order[start:start + {size}]
        train_state, logs = step(train_state, (x[batch], y[batch]))

loss_fn = jaxnn.losses.get(loss)  # the loss without the regularizer, as the page shows it
train_loss = loss_fn(jaxnn.predict(model, train_state, x), y)
test_loss = loss_fn(jaxnn.predict(model, train_state, x_test), y_test)
print(f"epoch {epochs}: training loss {{float(train_loss):.4f}}, "
      f"test loss {{float(test_loss):.4f}}")
jaxnn.save_model("playground.jaxnn", model, train_state, input_shape=(-1, x.shape[1]))
'''
