"""Integer class labels: range checks and one-hot encoding.

Keras' ``to_categorical`` silently maps ``-1`` to the last class (NumPy's negative indexing).
jaxnn never does: labels outside ``[0, num_classes)`` raise an error that lists them.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn.types import Array

__all__ = ["check_labels", "is_traced", "one_hot", "to_categorical"]


def is_traced(x: Any) -> bool:
    """Whether ``x`` is an abstract value inside ``jit``/``grad`` (its values are unknown).

    Example:
        >>> is_traced(jnp.ones(2)), jax.jit(lambda x: is_traced(x) * x)(1.0)
        (False, Array(1., dtype=float32, weak_type=True))
    """
    return isinstance(x, jax.core.Tracer)


def _integer_labels(labels: Any, where: str, arg: str) -> np.ndarray:
    values = np.asarray(labels)
    if values.dtype.kind in "iu":
        return values
    if values.dtype.kind in "fb" and values.size and np.all(np.isfinite(values)):
        if np.all(values == np.round(values)):
            return values.astype(np.int64)
    if values.dtype.kind == "f" and values.size == 0:
        return values.astype(np.int64)
    bad = values.ravel()[:5].tolist()
    raise TypeError(
        f"{where}: {arg} must be integer class ids; got dtype {values.dtype} with values such as "
        f"{bad}."
    )


def check_labels(labels: Any, num_classes: int, *, where: str, arg: str = "labels") -> None:
    """Raises unless every label is an integer in ``[0, num_classes)``.

    Does nothing for traced values inside ``jit`` (their values are unknown at trace time).

    Args:
        labels: Integer class ids, any shape.
        num_classes: :math:`K`.
        where: The function or layer asking, for the message.
        arg: The argument's name, for the message.

    Raises:
        TypeError: If the labels are not integers (floats with integral values are accepted).
        ValueError: If some label is outside ``[0, num_classes)``; the message lists the values.

    Example:
        >>> check_labels([0, 2, -1, 5], 3, where="demo")
        Traceback (most recent call last):
        ...
        ValueError: demo: labels must be class ids in [0, 3); 2 of 4 are not: values [-1, 5], \
first at index 2. (Keras maps -1 to the last class; jaxnn does not.)
    """
    if is_traced(labels):
        return
    values = _integer_labels(labels, where, arg)
    bad = (values < 0) | (values >= num_classes)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        at = first[0] if len(first) == 1 else first
        shown = np.unique(values[bad])[:10].tolist()
        raise ValueError(
            f"{where}: {arg} must be class ids in [0, {num_classes}); {int(bad.sum())} of "
            f"{values.size} are not: values {shown}, first at index {at}. (Keras maps -1 to the "
            f"last class; jaxnn does not.)"
        )


def one_hot(labels: Any, num_classes: int, *, dtype: Any = jnp.float32) -> Array:
    r"""One-hot encodes integer labels on the device (jit-compatible).

    .. math:: y_{n,k} = [\text{labels}_n = k]

    Args:
        labels: Integer class ids of any shape.
        num_classes: :math:`K`, the length of the new last axis.
        dtype: The output dtype (default float32).

    Returns:
        An array of shape ``labels.shape + (K,)``.

    Raises:
        ValueError: Outside ``jit``, for labels outside ``[0, K)`` (listed in the message).
            Inside ``jit`` values cannot be checked; an out-of-range label gives a row of zeros.
        TypeError: For non-integer labels or ``num_classes``.

    Example:
        >>> one_hot(jnp.array([0, 2]), 3)
        Array([[1., 0., 0.],
               [0., 0., 1.]], dtype=float32)
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"one_hot: num_classes must be an int; got {num_classes!r}.")
    check_labels(labels, int(num_classes), where="one_hot")
    labels = jnp.asarray(labels)
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        labels = labels.astype(jnp.int32)
    return jax.nn.one_hot(labels, int(num_classes), dtype=dtype)


def to_categorical(
    labels: Any, num_classes: int | None = None, *, dtype: Any = "float32"
) -> np.ndarray:
    """One-hot encodes labels on the host, as Keras' ``to_categorical`` but without wrapping.

    Args:
        labels: Integer class ids, shape ``(N,)`` or ``(N, 1)`` (the trailing 1 is dropped, as
            Keras does).
        num_classes: :math:`K`; default ``max(labels) + 1``.
        dtype: The NumPy dtype of the result (default ``"float32"``).

    Returns:
        A NumPy array of shape ``(N, K)``.

    Raises:
        ValueError: For labels outside ``[0, K)`` (listed), or empty labels without
            ``num_classes``.
        TypeError: For non-integer labels.

    Example:
        >>> to_categorical([1, 0, 2])
        array([[0., 1., 0.],
               [1., 0., 0.],
               [0., 0., 1.]], dtype=float32)
        >>> to_categorical([0, -1], 3)
        Traceback (most recent call last):
        ...
        ValueError: to_categorical: labels must be class ids in [0, 3); 1 of 2 are not: \
values [-1], first at index 1. (Keras maps -1 to the last class; jaxnn does not.)
    """
    values = _integer_labels(labels, "to_categorical", "labels")
    if values.ndim > 1 and values.shape[-1] == 1:
        values = values[..., 0]
    if num_classes is None:
        if values.size == 0:
            raise ValueError("to_categorical: cannot infer num_classes from empty labels; pass it.")
        num_classes = int(values.max()) + 1
    check_labels(values, num_classes, where="to_categorical")
    return np.eye(num_classes, dtype=dtype)[values]
