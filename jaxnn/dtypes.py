r"""A layer's two dtypes: the one its parameters are kept in and the one it computes in.

As Flax's ``dtype`` / ``param_dtype``, every jaxnn layer with parameters takes

- ``param_dtype`` (default float32): the dtype ``init`` creates the parameters (and state such
  as BatchNorm's running statistics) in, so the optimizer updates them in it;
- ``dtype`` (default ``None``): the dtype ``apply`` computes in. Floating parameters and floating
  inputs are cast to it at the start of ``apply`` (integer inputs such as token ids are left
  alone), so the output is in ``dtype``. ``None`` computes in the dtype the inputs and
  parameters promote to, as ``jnp`` does (float32 for float32 parameters).

``Dense(64, dtype=jnp.bfloat16)`` keeps float32 parameters and multiplies in bfloat16; the
gradient of the cast is the cast back, so its parameters' gradients are float32. A whole model
is usually given a precision policy instead (:mod:`jaxnn.precision`), which sets both for every
layer; a layer's own dtype that disagrees with the policy is refused, naming the layer.

Normalisation layers compute their statistics in float32 whatever ``dtype`` is, and cast only
their output to it.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["FLOATING", "cast_floating", "compute_in", "dtype_name", "layer_dtypes"]

# The floating dtypes a layer may keep parameters in or compute in (NumPy's float128 and the
# float8 formats are floating too, but JAX's layers do not compute in them).
FLOATING = ("float32", "bfloat16", "float16", "float64")


def dtype_name(value: Any, *, where: str, arg: str, optional: bool = False) -> str | None:
    """The name of a floating dtype given as a dtype, a scalar type or a string.

    Args:
        value: ``jnp.bfloat16``, ``"float16"``, ``np.dtype("float32")``, ... (or ``None`` when
            ``optional``).
        where: The layer, for the error.
        arg: The argument's name, for the error.
        optional: Whether ``None`` is allowed (it is returned as ``None``).

    Raises:
        ValueError: For something that is not a floating dtype.

    Example:
        >>> import jax.numpy as jnp
        >>> dtype_name(jnp.bfloat16, where="Dense 'd'", arg="dtype")
        'bfloat16'
        >>> dtype_name("int32", where="Dense 'd'", arg="param_dtype")
        Traceback (most recent call last):
        ...
        ValueError: Dense 'd': param_dtype must be a floating dtype (float32, bfloat16, float16, float64); got 'int32'.
    """  # noqa: E501
    return None if value is None and optional else _name(value, where, arg, optional)


def _name(value: Any, where: str, arg: str, optional: bool) -> str:
    """:func:`dtype_name` of a value that is not an allowed ``None``."""
    try:
        dtype = jnp.dtype(value) if value is not None else None
    except TypeError:
        dtype = None
    if dtype is None or dtype.name not in FLOATING:
        got = value if isinstance(value, str) else getattr(value, "__name__", value)
        allowed = ", ".join(FLOATING) + (" or None" if optional else "")
        raise ValueError(f"{where}: {arg} must be a floating dtype ({allowed}); got {got!r}.")
    return dtype.name


def layer_dtypes(dtype: Any, param_dtype: Any, *, where: str) -> tuple[str | None, str]:
    """A layer's ``(dtype, param_dtype)`` arguments as names, checked by :func:`dtype_name`.

    Example:
        >>> import jax.numpy as jnp
        >>> layer_dtypes(None, jnp.float32, where="Dense 'd'")
        (None, 'float32')
    """
    return (
        dtype_name(dtype, where=where, arg="dtype", optional=True),
        _name(param_dtype, where, "param_dtype", False),
    )


def cast_floating(tree: Any, dtype: Any) -> Any:
    """Casts the floating-point leaves of a pytree to ``dtype``; other leaves are returned as is.

    Leaves may be arrays or :class:`jax.ShapeDtypeStruct` specs.

    Example:
        >>> import jax.numpy as jnp
        >>> cast_floating({"w": jnp.ones(2), "ids": jnp.arange(2)}, jnp.bfloat16)["w"].dtype
        dtype(bfloat16)
    """
    dtype = jnp.dtype(dtype)

    def cast(a: Any) -> Any:
        if hasattr(a, "dtype") and jnp.issubdtype(a.dtype, jnp.floating) and a.dtype != dtype:
            if isinstance(a, jax.ShapeDtypeStruct):  # a spec, as jax.eval_shape returns
                return jax.ShapeDtypeStruct(a.shape, dtype, sharding=a.sharding)
            return a.astype(dtype)
        return a

    return jax.tree.map(cast, tree)


def compute_in(dtype: str | None, *trees: Any) -> Any:
    """``trees`` with their floating leaves cast to a layer's compute ``dtype`` (as is for None).

    Returns one tree for one argument, else a tuple.

    Example:
        >>> import jax.numpy as jnp
        >>> params, x = compute_in("bfloat16", {"w": jnp.ones(2)}, jnp.ones(2))
        >>> params["w"].dtype, x.dtype
        (dtype(bfloat16), dtype(bfloat16))
        >>> compute_in(None, jnp.ones(2)).dtype
        dtype('float32')
    """
    cast = trees if dtype is None else tuple(cast_floating(t, dtype) for t in trees)
    return cast[0] if len(cast) == 1 else cast
