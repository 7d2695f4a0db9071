"""Keras 3 ``.keras`` files as jaxnn models, read without Keras.

A ``.keras`` file is a zip archive holding ``config.json`` (the architecture) and
``model.weights.h5`` (the weights, in HDF5). :func:`from_keras` parses the first, reads the second
with ``h5py`` (the optional dependency ``pip install "jaxnn[keras]"``) and rebuilds the model
from jaxnn's own layers (:mod:`jaxnn.interop.keras_layers`), so the result has configs and can
be saved, trained and exported like any jaxnn model.

Keras stores each layer's weights under a path made from its class name, not its name:
``layers/dense``, ``layers/dense_1``, ``layers/lstm/cell`` ..., numbered in the order of the
model's layers (a functional model counts its ``InputLayer``; a ``Sequential`` does not).
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn.combinators import serial
from jaxnn.core import Layer
from jaxnn.interop.keras_layers import convert_layer
from jaxnn.types import Params, Shape, State

__all__ = ["KerasModel", "from_keras"]

_RECURRENT = ("SimpleRNN", "LSTM", "GRU")


class KerasModel(NamedTuple):
    """What :func:`from_keras` returns: a jaxnn model, its weights and its input shape.

    Attributes:
        model: A :func:`~jaxnn.serial` of jaxnn layers, named as the Keras model and its layers.
        params: The trained weights, keyed by the Keras layer names (``params["dense"]["w"]``).
        state: BatchNormalization moving statistics (``state["batch_normalization"]["mean"]``);
            ``{}`` for every other layer.
        input_shape: The model's input shape, ``-1`` where Keras has ``None`` (the batch).
    """

    model: Layer
    params: Params
    state: State
    input_shape: Shape


def _import_h5py() -> Any:
    try:
        import h5py
    except ImportError as error:
        raise ImportError(
            "from_keras reads the weights of a .keras file with h5py, which is not installed. "
            'Install it with: pip install "jaxnn[keras]"'
        ) from error
    return h5py


def _read_archive(path: str) -> tuple[dict[str, Any], bytes]:
    """The parsed ``config.json`` and the bytes of ``model.weights.h5``."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"from_keras: no such file {path!r}.")
    hint = "Save the model with model.save('model.keras') in Keras 3."
    if not zipfile.is_zipfile(path):
        raise ValueError(f"from_keras: {path!r} is not a .keras file (not a zip archive). {hint}")
    try:
        with zipfile.ZipFile(path) as archive:
            names = sorted(archive.namelist())
            missing = [n for n in ("config.json", "model.weights.h5") if n not in names]
            if missing:
                raise ValueError(
                    f"from_keras: {path!r} has no {' and no '.join(missing)}; it holds {names}. "
                    f"It is not a Keras 3 .keras file, or it is damaged. {hint}"
                )
            config = json.loads(archive.read("config.json"))
            weights = archive.read("model.weights.h5")
    except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError, OSError) as error:
        raise ValueError(f"from_keras: {path!r} is damaged: {error}.") from error
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ValueError(f"from_keras: {path!r}: config.json does not describe a Keras model.")
    return config, weights


def _snake_case(name: str) -> str:
    """Keras' ``to_snake_case``: ``BatchNormalization`` -> ``batch_normalization``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _weight_paths(layers: list[dict[str, Any]]) -> dict[str, str]:
    """Each layer's name -> its path in ``model.weights.h5``, numbered as Keras numbers them."""
    used: dict[str, int] = {}
    paths = {}
    for entry in layers:
        base = _snake_case(entry["class_name"])
        used[base] = used.get(base, -1) + 1
        unique = base if used[base] == 0 else f"{base}_{used[base]}"
        paths[entry["config"]["name"]] = f"layers/{unique}"
    return paths


def _keras_shape(shape: Any, where: str) -> Shape:
    if not isinstance(shape, (list, tuple)) or not shape:
        raise ValueError(f"{where}: the model has no input shape (it was never built).")
    return tuple(-1 if d is None else int(d) for d in shape)


def _sequential(config: dict[str, Any], where: str) -> tuple[list[dict], dict[str, str], Shape]:
    """The layers of a ``Sequential`` in order, their weight paths and the input shape."""
    layers = list(config["config"].get("layers", []))
    first = layers[0] if layers and layers[0].get("class_name") == "InputLayer" else None
    body = layers[1:] if first is not None else layers
    if first is not None:
        shape = first["config"].get("batch_shape", first["config"].get("batch_input_shape"))
    else:
        shape = config["config"].get("build_input_shape") or (config.get("build_config") or {}).get(
            "input_shape"
        )
    return body, _weight_paths(body), _keras_shape(shape, where)


def _tensor_refs(value: Any) -> Iterator[str]:
    """Names of the layers whose outputs a node reads (Keras 3 and Keras 2 node formats)."""
    if isinstance(value, Mapping):
        if value.get("class_name") == "__keras_tensor__":
            yield value["config"]["keras_history"][0]
        else:
            for item in value.values():
                yield from _tensor_refs(item)
    elif isinstance(value, list):
        if len(value) >= 3 and isinstance(value[0], str) and isinstance(value[1], int):
            yield value[0]  # Keras 2: [layer_name, node_index, tensor_index, kwargs]
        else:
            for item in value:
                yield from _tensor_refs(item)


def _endpoints(refs: Any) -> list[str]:
    """``input_layers`` / ``output_layers``: one ``[name, 0, 0]`` or a list of them."""
    return [refs[0]] if refs and isinstance(refs[0], str) else [r[0] for r in refs]


def _functional(config: dict[str, Any], where: str) -> tuple[list[dict], dict[str, str], Shape]:
    """The layers of a functional model whose graph is one chain, in order."""
    cfg = config["config"]
    by_name = {entry["config"]["name"]: entry for entry in cfg["layers"]}
    inputs, outputs = _endpoints(cfg["input_layers"]), _endpoints(cfg["output_layers"])
    if len(inputs) != 1 or len(outputs) != 1:
        raise NotImplementedError(
            f"{where}: the model has {len(inputs)} inputs and {len(outputs)} outputs; from_keras "
            f"reads models whose layers form one chain from one input to one output."
        )
    children: dict[str, list[str]] = {name: [] for name in by_name}
    for name, entry in by_name.items():
        nodes = entry.get("inbound_nodes", [])
        parents = list(_tensor_refs(nodes))
        if len(nodes) > 1 or len(parents) > 1:
            raise NotImplementedError(
                f"{where}: layer '{name}' ({entry['class_name']}) takes inputs from "
                f"{parents}; from_keras reads models whose layers form one chain (no branches, "
                f"merges or shared layers)."
            )
        for parent in parents:
            children[parent].append(name)
    chain, current = [], inputs[0]
    while current != outputs[0]:
        if len(children[current]) != 1:
            raise NotImplementedError(
                f"{where}: layer '{current}' feeds {len(children[current])} layers "
                f"{children[current]}; from_keras reads models whose layers form one chain "
                f"(no branches)."
            )
        current = children[current][0]
        chain.append(by_name[current])
    if len(chain) + 1 != len(by_name):
        unused = sorted(set(by_name) - {inputs[0]} - {e["config"]["name"] for e in chain})
        raise NotImplementedError(f"{where}: layers {unused} are not on the input-output chain.")
    first = by_name[inputs[0]]["config"]
    shape = first.get("batch_shape", first.get("batch_input_shape"))
    return chain, _weight_paths(cfg["layers"]), _keras_shape(shape, where)


def _layer_weights(h5: Any, path: str) -> list[np.ndarray]:
    """A layer's weight arrays in saving order: its own ``vars``, then its ``cell``'s."""
    arrays: list[np.ndarray] = []
    for group_path in (f"{path}/vars", f"{path}/cell/vars"):
        if group_path in h5:
            group = h5[group_path]
            arrays += [np.asarray(group[k]) for k in sorted(group, key=int)]
    return arrays


def _check_masks(chain: list[dict[str, Any]], where: str) -> None:
    """A masked sequence (``Embedding(mask_zero=True)``) may only flow into recurrent layers."""
    masked = ""
    for entry in chain:
        kind, cfg = entry["class_name"], entry["config"]
        if masked and kind not in _RECURRENT:
            raise NotImplementedError(
                f"{where}: layer '{cfg['name']}' ({kind}) receives the masked sequence of "
                f"'{masked}' (mask_zero=True); jaxnn passes masks to recurrent layers only."
            )
        if masked and not cfg.get("return_sequences"):
            masked = ""
        if kind == "Embedding" and cfg.get("mask_zero"):
            masked = cfg["name"]
    if masked:
        raise NotImplementedError(
            f"{where}: the model's output is the masked sequence of '{masked}' (mask_zero=True); "
            f"from_keras needs a recurrent layer with return_sequences=False to consume the mask."
        )


def _check_shapes(model: Layer, params: Params, state: State, shape: Shape, where: str) -> None:
    """Checks that each layer's weights have the shapes its input gives it in jaxnn."""
    specs = jax.eval_shape(lambda key: model.init(key, shape)[1:], jax.random.key(0))
    for name in params:
        expected = jax.tree.map(lambda s: s.shape, (specs[0][name], specs[1][name]))
        got = jax.tree.map(jnp.shape, (params[name], state[name]))
        if expected != got:
            raise ValueError(
                f"{where}: layer '{name}' has weights {got} (params, state), but its input needs "
                f"{expected}. The file is damaged or was written by an incompatible Keras version."
            )


def _model_layers(config: dict[str, Any], where: str) -> tuple[list[dict], dict[str, str], Shape]:
    kind = config.get("class_name")
    if kind == "Sequential":
        return _sequential(config, where)
    if kind in ("Functional", "Model") and "input_layers" in config["config"]:
        return _functional(config, where)
    raise NotImplementedError(
        f"{where}: the model is a {kind!r}; from_keras reads Sequential and functional models "
        f"(a subclassed model's file does not describe its layers)."
    )


def from_keras(path: str | os.PathLike[str]) -> KerasModel:
    """Reads a Keras 3 ``.keras`` file into a jaxnn model built from jaxnn's own layers.

    Keras is not needed (nor imported): the architecture comes from the archive's
    ``config.json`` and the weights from ``model.weights.h5``, read with ``h5py``. Each Keras layer
    becomes the jaxnn layer of the same name (``Dense`` -> :func:`~jaxnn.layers.Dense`,
    ``BatchNormalization`` -> :func:`~jaxnn.layers.BatchNorm` with the moving statistics in
    ``state``, ...), with its weights converted to jaxnn's layout; see
    :mod:`jaxnn.interop.keras_layers`. ``model.apply(params, state, x)`` then equals Keras'
    ``model.predict(x)`` to float rounding.

    Supported: ``Sequential`` models, and functional models whose layers form one chain (one
    input, one output, no branches), built from InputLayer, Dense, Conv1D, Conv2D, Conv3D,
    MaxPooling1D/2D, AveragePooling1D/2D, GlobalAveragePooling1D/2D, GlobalMaxPooling1D/2D,
    Flatten, Reshape, Dropout, BatchNormalization, LayerNormalization, Embedding (also with
    ``mask_zero=True`` before recurrent layers), SimpleRNN, LSTM, GRU, Activation, ReLU,
    LeakyReLU, ELU and Softmax, with the activations relu, relu6, sigmoid, hard_sigmoid, tanh,
    softmax, log_softmax, linear, elu, selu, gelu, softplus, softsign, silu/swish,
    hard_silu/hard_swish, mish and leaky_relu. Options that act only in training (initializers,
    regularizers, constraints, a recurrent layer's ``dropout``, which is logged) are not
    converted.

    Args:
        path: The ``.keras`` file.

    Returns:
        A :class:`KerasModel` ``(model, params, state, input_shape)``; unpack it or use its
        fields.

    Raises:
        ImportError: If ``h5py`` is not installed (``pip install "jaxnn[keras]"``).
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file is not a zip archive, lacks ``config.json`` or
            ``model.weights.h5``, is damaged, or holds weights that do not fit the architecture.
        NotImplementedError: For a layer type or option jaxnn cannot express (the message names
            the layer and lists the supported types), a model whose graph is not one chain, or a
            subclassed model.

    Example:
        Save a model in Keras 3, then load it into jaxnn (no Keras needed for this step)::

            keras_model.save("model.keras")

            model, params, state, input_shape = jaxnn.interop.from_keras("model.keras")
            y, _ = model.apply(params, state, x)  # == keras_model.predict(x)

        To fine-tune, start a TrainState from the Keras weights::

            ts = jaxnn.TrainState.create(model, jax.random.key(0), input_shape, optax.adam(1e-4))
            ts = ts._replace(params=params, state=state)
            ts, history = jaxnn.fit(model, (x, y), loss="softmax_cross_entropy",
                                    optimizer=optax.adam(1e-4), initial_state=ts)
    """
    path = os.fspath(path)
    h5py = _import_h5py()
    config, weights = _read_archive(path)
    where = f"from_keras {path!r}"
    chain, paths, shape = _model_layers(config, where)
    _check_masks(chain, where)
    try:
        with h5py.File(io.BytesIO(weights), "r") as h5:
            converted = [
                convert_layer(entry["class_name"], entry["config"],
                              _layer_weights(h5, paths[entry["config"]["name"]]))
                for entry in chain
            ]  # fmt: skip
    except OSError as error:
        raise ValueError(f"{where}: model.weights.h5 is damaged: {error}.") from error
    model = serial(
        *(layer for layer, _, _ in converted), name=config["config"].get("name", "keras")
    )
    params = {layer.name: p for layer, p, _ in converted}
    state = {layer.name: s for layer, _, s in converted}
    _check_shapes(model, params, state, shape, where)
    return KerasModel(model, params, state, shape)
