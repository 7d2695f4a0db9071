"""The functions a model file may name: an explicit table, plus what the program registers.

A model file is untrusted input, so :func:`jaxnn.load_model` never imports or calls a function
because the file names it. A ``{"__function__": "jax.nn:relu"}`` entry is looked up in
:data:`the table <serializable_functions>` of pure array functions below, and a
``{"__registered__": "name"}`` entry among the functions and layer types the running program
registered with :func:`register_function` or :func:`jaxnn.register_layer`. Anything else is
refused before anything runs. A trusted module is not enough: jax, numpy and jaxnn all hold
functions that write or read files (``jnp.save``, ``numpy.load``, a checkpoint writer), which
is how Keras' safe mode was bypassed three times (CVE-2025-1550, CVE-2025-8747, CVE-2025-9906).

The table holds jaxnn's activations, losses and metric functions, and the element-wise,
reduction and shape functions of ``jax.numpy``, ``jax.nn``, ``jax.lax`` and
``jax.scipy.special`` that layers use; none of them touches a file, the network or the
interpreter. ``safe_mode=False`` is the explicit way to trust a file: then a name outside the
table is imported by its path as before.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from typing import Any

from jaxnn.core import Layer

__all__ = [
    "function_name",
    "register_function",
    "register_layer",
    "registered",
    "registered_types",
    "resolve_function",
    "serializable_functions",
]

# Names per module; a name missing from the installed version is skipped.
_JNP = """
abs absolute add arccos arccosh arcsin arcsinh arctan arctan2 arctanh cbrt ceil clip cos cosh
deg2rad divide exp exp2 expm1 fabs floor floor_divide fmax fmin fmod heaviside hypot log log10
log1p log2 logaddexp maximum minimum mod multiply nan_to_num negative positive power rad2deg
reciprocal remainder rint round sign sin sinc sinh sqrt square subtract tan tanh true_divide trunc
all amax amin any argmax argmin count_nonzero cumprod cumsum max mean median min nanmax nanmean
nanmin nansum prod ptp std sum var
concatenate diagonal dot einsum expand_dims flip fliplr flipud hstack matmul moveaxis outer pad
ravel repeat reshape roll sort squeeze stack swapaxes tile trace transpose tril triu vstack where
zeros_like ones_like
""".split()
_JAX_NN = """
celu elu gelu glu hard_sigmoid hard_silu hard_swish hard_tanh identity leaky_relu log_sigmoid
log_softmax logsumexp mish one_hot relu relu6 selu sigmoid silu soft_sign softmax softplus
sparse_plus sparse_sigmoid squareplus standardize swish tanh
""".split()
_LAX = """
abs cos cosh erf erfc exp expm1 integer_pow log log1p logistic max min neg rsqrt sign sin sinh
sqrt square stop_gradient tan tanh
""".split()
_SCIPY_SPECIAL = "erf erfc erfinv expit gammaln log_ndtr logit logsumexp ndtr ndtri xlogy".split()
_METRICS = "accuracy confusion_matrix f1_score precision recall roc_auc top_k_accuracy".split()

# Registered functions and layer constructors by their registered name (one namespace: a file's
# {"__registered__": name} and a layer's {"type": name} both look here).
_REGISTERED: dict[str, Callable[..., Any]] = {}


@functools.lru_cache(maxsize=1)
def _table() -> dict[str, Callable[..., Any]]:
    import jax
    import jax.numpy as jnp
    import jax.scipy.special

    from jaxnn import activations, losses, metrics

    sources: list[tuple[str, Any, list[str]]] = [
        (
            "jaxnn.activations",
            activations,
            sorted(set(activations.names()) & set(dir(activations))),
        ),
        ("jaxnn.losses", losses, [n for n in losses.__all__ if n not in ("get", "names")]),
        ("jaxnn.metrics", metrics, _METRICS),
        ("jax.numpy", jnp, _JNP),
        ("jax.numpy.linalg", jnp.linalg, ["norm"]),
        ("jax.nn", jax.nn, _JAX_NN),
        ("jax.nn.initializers", jax.nn.initializers, ["zeros", "ones"]),
        ("jax.lax", jax.lax, _LAX),
        ("jax.scipy.special", jax.scipy.special, _SCIPY_SPECIAL),
    ]
    table = {}
    for module_name, module, names in sources:
        for name in names:
            fn = getattr(module, name, None)
            if callable(fn):
                table[f"{module_name}:{name}"] = fn
    # The path a function's own module gives (older files, jaxnn.activations' jax aliases).
    for fn in list(table.values()):
        module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
        if isinstance(module, str) and isinstance(qualname, str) and "<" not in qualname:
            table.setdefault(f"{module}:{qualname}", fn)
    return table


def _reserved_names() -> set[str]:
    from jaxnn import layers  # the layers import this package's users, not the other way

    return {*layers.__all__, "serial", "parallel", "residual", "function"}


def registered_types() -> list[str]:
    """The names of the layer types and functions registered with :func:`register_layer`.

    Example:
        >>> isinstance(registered_types(), list)
        True
    """
    return sorted(_REGISTERED)


def register_layer(constructor: Callable | None = None, *, name: str | None = None) -> Any:
    """Registers a user's layer constructor (or function) so that models using it can be saved.

    Like Keras' ``register_keras_serializable``. A decorated constructor records the arguments
    of each call as the returned layer's config (when the layer has none), so
    :func:`jaxnn.load_model` can call it again; a decorated plain function (an activation used
    as a layer) is stored by its registered name. The code that registers must run before
    ``load_model`` reads a file that uses it. Arguments must be JSON values, functions, tuples,
    dtypes or layers.

    Args:
        constructor: The function to register (when used as ``@register_layer``).
        name: The type name in saved files (default: the function's ``__name__``).

    Returns:
        The wrapped constructor (or, called with only ``name``, a decorator).

    Raises:
        ValueError: If ``name`` is a built-in layer type.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from jaxnn import Layer
        >>> @register_layer
        ... def Times(factor, *, name="times"):
        ...     def init(key, input_shape):
        ...         return input_shape, {}, {}
        ...     def apply(params, state, x, *, key=None, train=False):
        ...         return factor * x, state
        ...     return Layer(init, apply, name)
        >>> Times(3.0).config
        {'type': 'Times', 'factor': 3.0, 'name': 'times'}
        >>> from jaxnn.models import from_config, to_config
        >>> from_config(to_config(Times(2.0))).apply({}, {}, jnp.ones(2))[0]
        Array([2., 2.], dtype=float32)
    """

    def register(fn: Callable) -> Callable:
        type_name = name or fn.__name__
        if type_name in _reserved_names():
            raise ValueError(
                f"register_layer: {type_name!r} is a built-in layer type; pass another "
                f"name=... for {fn!r}."
            )
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def build(*args: Any, **kwargs: Any) -> Any:
            out = fn(*args, **kwargs)
            if isinstance(out, Layer) and out.config is None:
                bound = signature.bind(*args, **kwargs)
                bound.apply_defaults()
                out = out._replace(config={"type": type_name, **bound.arguments})
            return out

        add(type_name, build, where="register_layer")
        return build

    return register if constructor is None else register(constructor)


def serializable_functions() -> list[str]:
    """The ``"module:name"`` of every function a model file may name, sorted.

    Example:
        >>> names = serializable_functions()
        >>> "jax.nn:relu" in names, "jax.numpy:save" in names, "builtins:exec" in names
        (True, False, False)
    """
    return sorted(_table())


def register_function(fn: Callable | None = None, *, name: str | None = None) -> Any:
    """Registers a function so that model files may use it (an activation, a loss, a layer).

    A registered function is saved by its name, ``{"__registered__": "squash"}``, and a file
    that names it loads only in a program that registered it again (import the module that
    holds the decorator before :func:`jaxnn.load_model`). The function itself is returned
    unchanged.

    Args:
        fn: The function (when used as ``@register_function``).
        name: The name in saved files (default: the function's ``__name__``).

    Returns:
        ``fn``, or, called with only ``name``, a decorator.

    Raises:
        TypeError: If ``fn`` is not callable.
        ValueError: If the name is not an identifier.

    Example:
        >>> import jax.numpy as jnp, jaxnn
        >>> @register_function
        ... def squash(x):
        ...     return x / (1 + jnp.abs(x))
        >>> jaxnn.models.to_config(jaxnn.lift(squash))["function"]
        {'__registered__': 'squash'}
    """

    def register(f: Callable) -> Callable:
        if not callable(f):
            raise TypeError(f"register_function: expected a function; got {type(f).__name__}.")
        add(name or f.__name__, f, where="register_function")
        return f

    return register if fn is None else register(fn)


def add(name: str, fn: Callable, *, where: str) -> None:
    """Puts ``fn`` in the registry under ``name`` (a later registration replaces an earlier)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"{where}: the name must be an identifier; got {name!r}.")
    _REGISTERED[name] = fn


def registered() -> dict[str, Callable[..., Any]]:
    """The registered functions and layer constructors by name (a copy)."""
    return dict(_REGISTERED)


def function_name(fn: Any) -> dict[str, str] | None:
    """The JSON reference a file stores for ``fn``, or ``None`` when a file may not name it.

    Example:
        >>> import jax
        >>> function_name(jax.nn.relu), function_name(print)
        ({'__function__': 'jax.nn:relu'}, None)
    """
    for reg_name, reg in _REGISTERED.items():
        if reg is fn:
            return {"__registered__": reg_name}
    for path, value in _table().items():
        if value is fn:
            return {"__function__": path}
    return None


def resolve_function(ref: Any, *, safe_mode: bool, where: str) -> Callable[..., Any]:
    """The function a file's reference names, looked up without importing anything.

    Args:
        ref: The reference's value: ``"module:name"`` for ``__function__``.
        safe_mode: If False, a path outside the table is imported (the file is trusted).
        where: The file and entry, for the error.

    Raises:
        ValueError: If the path is not a string ``module:name``, or it is outside the table
            under ``safe_mode``, or it cannot be imported.
    """
    if not isinstance(ref, str) or ref.count(":") != 1:
        raise ValueError(f"{where}: a function reference must be 'module:name'; got {ref!r}.")
    fn = _table().get(ref)
    if fn is not None:
        return fn
    if safe_mode:
        raise ValueError(
            f"{where} names the function {ref!r}, which is not one a model file may name: safe "
            f"loading calls only jaxnn's activations, losses and metrics, the jax.numpy, "
            f"jax.nn, jax.lax and jax.scipy.special array functions (see "
            f"jaxnn.models.serializable_functions()) and functions this program registered "
            f"with @jaxnn.register_function. Nothing was imported. If you trust the file, load "
            f"it with safe_mode=False (the command: --unsafe)."
        )
    module, qualname = ref.split(":")
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(
            f"{where} names the function {ref!r}, which cannot be imported here "
            f"({type(error).__name__}: {error}). Install or import the code that defines it."
        ) from error
    return obj


def resolve_registered(name: Any, *, where: str) -> Callable[..., Any]:
    """The function or layer constructor registered as ``name`` in this program."""
    if not isinstance(name, str) or name not in _REGISTERED:
        known = ", ".join(sorted(_REGISTERED)) or "none"
        raise ValueError(
            f"{where} uses {name!r}, registered with @jaxnn.register_function or "
            f"@jaxnn.register_layer when it was saved, but it is not registered in this "
            f"program; import the module that registers it first. Registered now: {known}."
        )
    return _REGISTERED[name]
