"""Dropout rates as continuous hyperparameters: models that differ only in them train together.

A model's architecture, for grouping, is its config (:func:`jaxnn.models.to_config`) with the
rate of every :func:`~jaxnn.layers.Dropout` blanked; configurations whose models have the same
architecture go in one group, whatever their dropout rates. Each member then carries its rates
(``dropout[0]``, ``dropout[1]`` ... in the config's order) beside its learning rate, they are
stacked like it, and inside the vmapped training function the model is rebuilt from the config
(:func:`jaxnn.models.from_config`) with that member's traced rates, so one compiled program
trains every rate. The models a search returns are built with the Python floats, as ``fit``
would be given them, and save with their rates.

A model that has no config (a hand-built :class:`~jaxnn.Layer`, a lambda inside it) cannot be
rebuilt: its configurations are grouped by their values, one group per dropout rate.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NamedTuple

from jaxnn.core import Layer
from jaxnn.models.config import from_config, to_config

__all__ = ["Architecture", "architecture", "member_rates", "rebuilder"]

_TYPE = "Dropout"
_RATE = "drop_rate"


class Architecture(NamedTuple):
    """A model's config with its Dropout rates taken out.

    Attributes:
        key: The blanked config as JSON text (equal for models that differ only in dropout).
        config: The blanked config (each Dropout's ``drop_rate`` is ``None``).
        rates: The Dropout rates, in the order of the config.
    """

    key: str
    config: dict[str, Any]
    rates: tuple[float, ...]


def _map_rates(value: Any, replace: Callable[[Any], Any]) -> Any:
    """A copy of a config with every Dropout's rate ``r`` replaced by ``replace(r)``, in order."""
    if isinstance(value, list):
        return [_map_rates(v, replace) for v in value]
    if not isinstance(value, dict):
        return value
    if value.get("type") == _TYPE and _RATE in value:
        return {**value, _RATE: replace(value[_RATE])}
    return {k: _map_rates(v, replace) for k, v in value.items()}


def _blank(value: Any, rates: list[float]) -> Any:
    """A copy of a config with every Dropout's rate replaced by None; the rates go to ``rates``."""
    return _map_rates(value, lambda rate: rates.append(float(rate)))  # append returns None


def _fill(value: Any, rates: list[Any]) -> Any:
    """Undoes :func:`_blank`, taking the rates from the front of ``rates`` (which may be traced)."""
    return _map_rates(value, lambda _: rates.pop(0))


def architecture(model: Layer) -> Architecture | None:
    """The :class:`Architecture` of ``model``; ``None`` without Dropout or a config to rebuild.

    ``None`` also when rebuilding the model from its config would not give the same config
    back, so that a model is only ever rebuilt into itself.

    Example:
        >>> import jax.numpy as jnp, jaxnn
        >>> from jaxnn.layers import Dense, Dropout
        >>> a = architecture(jaxnn.serial(Dense(4), Dropout(0.1), jnp.tanh, Dropout(0.3)))
        >>> b = architecture(jaxnn.serial(Dense(4), Dropout(0.2), jnp.tanh, Dropout(0.0)))
        >>> a.rates, b.rates, a.key == b.key
        ((0.1, 0.3), (0.2, 0.0), True)
        >>> architecture(jaxnn.serial(Dense(4), lambda x: 2 * x, Dropout(0.1))) is None
        True
    """
    try:
        config = to_config(model)
        if to_config(from_config(config, where="search")) != config:
            return None
    except (ValueError, TypeError):  # no config (a lambda, a hand-built layer): not rebuilt
        return None
    rates: list[float] = []
    blanked = _blank(config, rates)
    if not rates:
        return None
    return Architecture(json.dumps(blanked, sort_keys=True), blanked, tuple(rates))


def member_rates(arch: Architecture) -> dict[str, float]:
    """A member's dropout rates as continuous values: ``{"dropout[i]": rate}``.

    Example:
        >>> member_rates(Architecture("", {}, (0.1, 0.3)))
        {'dropout[0]': 0.1, 'dropout[1]': 0.3}
    """
    return {f"dropout[{i}]": rate for i, rate in enumerate(arch.rates)}


def rebuilder(arch: Architecture) -> Callable[[dict[str, Any]], Layer]:
    """``rebuild(rates) -> Layer``: the model with the Dropout rates ``rates["dropout[i]"]``.

    The rates may be traced (one member's rates under ``jax.vmap``); the layers' other
    arguments come from the config.

    Example:
        >>> import jax, jax.numpy as jnp, jaxnn
        >>> from jaxnn.layers import Dense, Dropout
        >>> arch = architecture(jaxnn.serial(Dense(3), Dropout(0.1)))
        >>> rebuild = rebuilder(arch)
        >>> rebuild({"dropout[0]": 0.5}).config["layers"][1]
        {'type': 'Dropout', 'drop_rate': 0.5, 'name': 'dropout'}
    """
    count = len(arch.rates)

    def rebuild(rates: dict[str, Any]) -> Layer:
        values = [rates[f"dropout[{i}]"] for i in range(count)]
        return from_config(_fill(arch.config, values), where="search")

    return rebuild
