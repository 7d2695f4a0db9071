r"""Optimizers by name, gradient clipping, and freezing parameters for transfer learning.

jaxnn's optimizers are Optax's. :func:`get` turns a name and a learning rate (a number or an
Optax schedule) into an ``optax.GradientTransformation``, optionally with gradient clipping in
front; any ``GradientTransformation`` passes through unchanged. :func:`freeze` wraps one so that
the parameters matched by path patterns (:mod:`jaxnn.paths`) get zero updates.

==============  ====================================  ========================
name            Optax                                 default learning rate
==============  ====================================  ========================
``sgd``         ``optax.sgd``                         0.01
``momentum``    ``optax.sgd(momentum=0.9)``           0.01
``nesterov``    ``optax.sgd(momentum=0.9, nesterov)`` 0.01
``adam``        ``optax.adam``                        0.001
``adamw``       ``optax.adamw`` (weight decay 1e-4)   0.001
``adamax``      ``optax.adamax``                      0.001
``nadam``       ``optax.nadam``                       0.001
``rmsprop``     ``optax.rmsprop``                     0.001
``adagrad``     ``optax.adagrad``                     0.001
``adadelta``    ``optax.adadelta``                    1.0
``lamb``        ``optax.lamb``                        0.001
``lion``        ``optax.lion``                        0.0001
==============  ====================================  ========================

The defaults are Keras' where Keras has the optimizer. Extra keyword options go to the Optax
constructor (``get("adam", 1e-3, b1=0.8)``); Optax rejects unknown ones.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import optax

from jaxnn.core import lookup
from jaxnn.paths import Pattern, leaves_with_paths, matches
from jaxnn.types import Params

__all__ = ["freeze", "frozen_mask", "get", "names"]

_BY_NAME: dict[str, tuple[Callable[..., optax.GradientTransformation], float]] = {
    "sgd": (optax.sgd, 0.01),
    "momentum": (functools.partial(optax.sgd, momentum=0.9), 0.01),
    "nesterov": (functools.partial(optax.sgd, momentum=0.9, nesterov=True), 0.01),
    "adam": (optax.adam, 1e-3),
    "adamw": (functools.partial(optax.adamw, weight_decay=1e-4), 1e-3),
    "adamax": (optax.adamax, 1e-3),
    "nadam": (optax.nadam, 1e-3),
    "rmsprop": (optax.rmsprop, 1e-3),
    "adagrad": (optax.adagrad, 1e-3),
    "adadelta": (optax.adadelta, 1.0),
    "lamb": (optax.lamb, 1e-3),
    "lion": (optax.lion, 1e-4),
}


def names() -> list[str]:
    """All optimizer names :func:`get` knows, sorted.

    Example:
        >>> names()[:3]
        ['adadelta', 'adagrad', 'adam']
    """
    return sorted(_BY_NAME)


def get(
    optimizer: str | optax.GradientTransformation,
    learning_rate: float | optax.Schedule | None = None,
    *,
    clip_norm: float | None = None,
    clip_value: float | None = None,
    **options: Any,
) -> optax.GradientTransformation:
    """Builds an Optax optimizer from a name, or passes a ``GradientTransformation`` through.

    Args:
        optimizer: A name from the table above (case-insensitive) or an
            ``optax.GradientTransformation``.
        learning_rate: A number or an Optax schedule ``step -> rate``; default from the table.
            Must be ``None`` when ``optimizer`` is already a transformation.
        clip_norm: If given, clip gradients to this global L2 norm first
            (``optax.clip_by_global_norm``).
        clip_value: If given, clip each gradient element to ``[-clip_value, clip_value]`` first.
        **options: Further arguments of the Optax constructor (``b1``, ``momentum``, ...).

    Returns:
        An ``optax.GradientTransformation``.

    Raises:
        ValueError: For an unknown name (the message lists the known ones), a non-positive
            learning rate or clip, or a learning rate given with a transformation.

    Example:
        >>> import jax.numpy as jnp
        >>> opt = get("sgd", 0.1)
        >>> params = {"w": jnp.array([1.0])}
        >>> updates, _ = opt.update({"w": jnp.array([2.0])}, opt.init(params))
        >>> updates
        {'w': Array([-0.2], dtype=float32)}
    """
    if isinstance(optimizer, optax.GradientTransformation):
        if learning_rate is not None or options:
            raise ValueError(
                "optimizer is already an optax.GradientTransformation; set its learning rate "
                "and options when you build it, not through learning_rate= or keywords."
            )
        transform = optimizer
    else:
        factory, default_rate = lookup(
            _BY_NAME, optimizer, kind="optimizer", example="adam", alternative="an optax optimizer"
        )
        rate = default_rate if learning_rate is None else learning_rate
        if not callable(rate) and _bad_rate(rate):
            raise ValueError(
                f"learning_rate must be a finite number > 0 or an Optax schedule; got {rate!r}."
            )
        if callable(rate) and not _finite_or_traced(first := rate(0)):
            raise ValueError(
                f"learning_rate: the schedule {rate!r} gives {first!r} at step 0; "
                "expected a finite number (a warm-up may start at 0)."
            )
        transform = factory(rate, **options)
    clips = []
    for arg, value, clip in (
        ("clip_value", clip_value, optax.clip),
        ("clip_norm", clip_norm, optax.clip_by_global_norm),
    ):
        if value is not None:
            if _bad_rate(value):
                raise ValueError(f"{arg} must be a finite number > 0; got {value!r}.")
            clips.append(clip(value))
    return optax.chain(*clips, transform) if clips else transform


def _finite_or_traced(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError, jax.errors.ConcretizationTypeError):
        return True  # not a number known here: Optax reports it when it is used


def _bad_rate(value: Any) -> bool:
    """True for a rate that is known here and is not a finite number > 0 (NaN, inf, 0, "a")."""
    if isinstance(value, (bool, str)) or value is None:
        return True
    try:
        number = float(value)
    except (TypeError, jax.errors.ConcretizationTypeError):
        return not hasattr(value, "dtype")  # a traced or batched rate is checked by its user
    return not 0 < number < math.inf


def frozen_mask(params: Params, patterns: Sequence[Pattern]) -> Params:
    """A tree of bools like ``params``: ``True`` where a path matches one of ``patterns``.

    Args:
        params: A params tree.
        patterns: Path patterns (:mod:`jaxnn.paths`), e.g. ``["encoder/*"]``.

    Returns:
        A tree of Python bools with the structure of ``params``.

    Raises:
        ValueError: If a pattern matches no parameter (the message lists the paths).

    Example:
        >>> import jax.numpy as jnp
        >>> frozen_mask({"body": {"w": jnp.ones(1)}, "head": {"w": jnp.ones(1)}}, ["body/*"])
        {'body': {'w': True}, 'head': {'w': False}}
    """
    paths = [path for path, _ in leaves_with_paths(params)]
    for pattern in patterns:
        if not any(matches(pattern, path) for path in paths):
            raise ValueError(
                f"freeze: pattern {pattern!r} matches no parameter; the parameter paths are "
                f"{paths}."
            )
    flags = [any(matches(p, path) for p in patterns) for path in paths]
    return jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(params), flags)


def freeze(
    optimizer: optax.GradientTransformation, patterns: Sequence[Pattern]
) -> optax.GradientTransformation:
    """Gives zero updates to the parameters matched by ``patterns`` (transfer learning).

    The frozen parameters get no optimizer state either (``optax.multi_transform`` with
    ``optax.set_to_zero``). jaxnn's training step applies a zero update by keeping the old array,
    so frozen parameters do not change by a single bit (plain ``optax.apply_updates`` computes
    ``p + 0``, which turns ``-0.0`` into ``0.0``).

    Args:
        optimizer: The optimizer of the trainable parameters.
        patterns: Path patterns of the parameters to freeze, e.g. ``["encoder/*"]`` or
            ``[("dense", "w")]``.

    Returns:
        An ``optax.GradientTransformation``; its ``init`` raises ``ValueError`` if a pattern
        matches nothing.

    Example:
        >>> import jax.numpy as jnp
        >>> params = {"body": {"w": jnp.ones(2)}, "head": {"w": jnp.ones(2)}}
        >>> opt = freeze(get("sgd", 1.0), ["body/*"])
        >>> grads = {"body": {"w": jnp.ones(2)}, "head": {"w": jnp.ones(2)}}
        >>> updates, _ = opt.update(grads, opt.init(params), params)
        >>> updates["body"]["w"], updates["head"]["w"]
        (Array([0., 0.], dtype=float32), Array([-1., -1.], dtype=float32))
    """
    patterns = list(patterns)
    if not patterns:
        return optimizer

    def labels(params: Params) -> Params:

        return jax.tree.map(
            lambda frozen: "frozen" if frozen else "trainable", frozen_mask(params, patterns)
        )

    return optax.multi_transform({"trainable": optimizer, "frozen": optax.set_to_zero()}, labels)
