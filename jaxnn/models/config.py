"""Layer configs as JSON: describing a model, rebuilding it, and registering a user's own layers.

A layer's ``config`` (its type and constructor arguments) becomes JSON with :func:`to_config`,
and :func:`from_config` calls the constructors again. Values that JSON cannot hold are encoded
as small tagged objects:

=====================================  ==================================================
value                                  JSON
=====================================  ==================================================
a function (``jnp.tanh``, ``my.f``)    ``{"__function__": "jax.numpy:tanh"}`` (import path)
``functools.partial(f, a=1)``          ``{"__function__": "...", "args": [], "kwargs": {...}}``
a registered function or type          ``{"__registered__": "my_act"}``
a layer argument (a wrapped layer)     ``{"__layer__": {...its config...}}``
a tuple                                ``{"__tuple__": [...]}``
a dtype                                ``{"__dtype__": "float32"}``
=====================================  ==================================================

A lambda, a closure, a function defined in ``__main__`` or a hand-built :class:`~jaxnn.Layer`
without a config cannot be described; :func:`to_config` refuses it and names it. A user's own
layer type is made describable with :func:`register_layer`.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from jaxnn.core import Layer, lift

__all__ = [
    "from_config",
    "function_path",
    "register_layer",
    "registered_types",
    "to_config",
]

# Modules whose public functions are stored by their public name (jax.nn:relu, not the private
# module that defines it).
_PUBLIC_MODULES = (
    "jaxnn.activations",
    "jaxnn.losses",
    "jaxnn.initializers",
    "jax.numpy",
    "jax.nn",
    "jax.lax",
    "jax.scipy.special",
    "numpy",
)
# Packages from which load_model imports a function without safe_mode=False.
_TRUSTED = ("jax", "jaxnn", "numpy", "optax", "flax")
_COMBINATORS = ("serial", "parallel", "residual")
_REGISTERED: dict[str, Callable[..., Any]] = {}

_FIX = (
    "Build it from jaxnn's layers, decorate its constructor with @jaxnn.register_layer, define "
    "the function at module level in an importable module, or save it anyway and load the "
    "weights into the model you build in code with load_model(path, model=...)"
)


def _builtin_types() -> dict[str, Callable[..., Layer]]:
    from jaxnn import layers  # the layers import this package's users, not the other way

    return {name: getattr(layers, name) for name in layers.__all__}


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
        >>> from_config(to_config(Times(2.0))).apply({}, {}, jnp.ones(2))[0]
        Array([2., 2.], dtype=float32)
    """

    def register(fn: Callable) -> Callable:
        type_name = name or fn.__name__
        if type_name in _builtin_types() or type_name in (*_COMBINATORS, "function"):
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

        _REGISTERED[type_name] = build
        return build

    return register if constructor is None else register(constructor)


def _resolve(module: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def function_path(fn: Any) -> str | None:
    """The ``"module:name"`` that imports back to ``fn`` itself, or ``None`` if there is none.

    Public jax and jaxnn names come first (``jax.nn:relu``, not jax's private module); a
    lambda, a closure or a function of ``__main__`` has none.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> function_path(jnp.tanh), function_path(jax.nn.relu), function_path(lambda x: x)
        ('jax.numpy:tanh', 'jax.nn:relu', None)
    """
    for public_name in _PUBLIC_MODULES:
        public = sys.modules.get(public_name)
        if public is None:
            continue
        for attr, value in vars(public).items():
            if value is fn and not attr.startswith("_"):
                return f"{public_name}:{attr}"
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
    if not module or not qualname or "<" in qualname or module == "__main__":
        return None
    try:
        return f"{module}:{qualname}" if _resolve(module, qualname) is fn else None
    except (ImportError, AttributeError):
        return None


def _describe_function(fn: Any) -> str:
    where = getattr(getattr(fn, "__code__", None), "co_filename", None)
    line = getattr(getattr(fn, "__code__", None), "co_firstlineno", None)
    return f"{fn!r}" + (f" (defined at {where}:{line})" if where else "")


def _encode(value: Any, where: str) -> Any:
    """The JSON form of one config value (see the module's table)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, Layer):
        return {"__layer__": to_config(value, where=where)}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, where) for v in value]}
    if isinstance(value, list):
        return [_encode(v, where) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _encode(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, np.dtype):
        return {"__dtype__": value.name}
    if isinstance(value, functools.partial):
        return {
            "__function__": _encode_function(value.func, where),
            "args": [_encode(v, where) for v in value.args],
            "kwargs": {k: _encode(v, where) for k, v in value.keywords.items()},
        }
    if callable(value):
        for registered, fn in _REGISTERED.items():
            if fn is value:
                return {"__registered__": registered}
        return {"__function__": _encode_function(value, where)}
    raise ValueError(
        f"save_model: {where} holds {type(value).__name__} {value!r}, which a model file cannot "
        f"describe. {_FIX}."
    )


def _encode_function(fn: Any, where: str) -> str:
    path = function_path(fn)
    if path is None:
        raise ValueError(
            f"save_model: {where} is the function {_describe_function(fn)}, which cannot be "
            f"imported by name (a lambda, a closure, or a function of __main__). {_FIX}."
        )
    return path


def to_config(layer: Layer, *, where: str | None = None) -> dict[str, Any]:
    """The JSON-ready config of ``layer`` and everything inside it.

    Args:
        layer: A layer built from jaxnn's layers, combinators, importable functions and
            registered types.
        where: How to name the layer in an error (default: its name).

    Returns:
        A dict of JSON values, ``{"type": ..., ...arguments}``.

    Raises:
        ValueError: If some layer inside cannot be described; the message names its path and
            says how to fix it.

    Example:
        >>> import jax.numpy as jnp, jaxnn
        >>> from jaxnn.layers import Dense
        >>> to_config(jaxnn.serial(Dense(2), jnp.tanh))["layers"][1]
        {'type': 'function', 'function': {'__function__': 'jax.numpy:tanh'}, 'name': 'tanh'}
    """
    where = where or f"layer '{layer.name}'"
    if layer.config is None:
        raise ValueError(
            f"save_model: {where} was built by hand as Layer(init, apply, ...) and has no "
            f"config. {_FIX}."
        )
    config = dict(layer.config)
    if config.get("type") in _COMBINATORS and layer.children:
        from jaxnn.combinators import _unique_names

        names = _unique_names([child.name for child in layer.children])
        config["layers"] = [
            to_config(child, where=f"{where} -> '{n}'")
            for n, child in zip(names, layer.children, strict=True)
        ]
        rest = {k: v for k, v in config.items() if k != "layers"}
        return {**_encode(rest, where), "layers": config["layers"]}
    return {k: _encode(v, f"{where} argument {k!r}") for k, v in config.items()}


def _import_function(path: Any, safe_mode: bool) -> Any:
    if not isinstance(path, str) or ":" not in path:
        raise ValueError(f"load_model: a function reference must be 'module:name'; got {path!r}.")
    module, qualname = path.split(":", 1)
    trusted = module.split(".")[0] in _TRUSTED or module in sys.modules
    if safe_mode and not trusted:
        raise ValueError(
            f"load_model: the file asks to import {path!r}; module {module!r} is not jax, jaxnn, "
            f"numpy or optax and is not imported yet, and importing it runs its code. Import it "
            f"yourself first, or pass safe_mode=False if you trust the file."
        )
    try:
        return _resolve(module, qualname)
    except (ImportError, AttributeError) as error:
        raise ValueError(
            f"load_model: the file names the function {path!r}, which cannot be imported here "
            f"({type(error).__name__}: {error}). Install or import the code that defines it."
        ) from error


def _registered(name: Any) -> Any:
    if name not in _REGISTERED:
        raise ValueError(
            f"load_model: the file uses {name!r}, registered with @jaxnn.register_layer when it "
            f"was saved, but it is not registered in this program; import the module that "
            f"registers it first. Registered now: {', '.join(registered_types()) or 'none'}."
        )
    return _REGISTERED[name]


def _decode(value: Any, safe_mode: bool) -> Any:
    """Undoes :func:`_encode`."""
    if isinstance(value, list):
        return [_decode(v, safe_mode) for v in value]
    if not isinstance(value, dict):
        return value
    if "__function__" in value:
        fn = _import_function(value["__function__"], safe_mode)
        if "args" in value or "kwargs" in value:
            args = _decode(value.get("args", []), safe_mode)
            return functools.partial(fn, *args, **_decode(value.get("kwargs", {}), safe_mode))
        return fn
    if "__registered__" in value:
        return _registered(value["__registered__"])
    if "__layer__" in value:
        return from_config(value["__layer__"], safe_mode=safe_mode)
    if "__tuple__" in value:
        return tuple(_decode(v, safe_mode) for v in value["__tuple__"])
    if "__dtype__" in value:
        return np.dtype(value["__dtype__"])
    return {k: _decode(v, safe_mode) for k, v in value.items()}


def _call_registered(fn: Callable, type_name: str, arguments: dict[str, Any]) -> Any:
    """Calls a registered constructor with the arguments its config recorded."""
    args, kwargs = [], {}
    for param in inspect.signature(fn).parameters.values():
        if param.name not in arguments:
            continue
        value = arguments.pop(param.name)
        if param.kind is param.POSITIONAL_ONLY:
            args.append(value)
        elif param.kind is param.VAR_POSITIONAL:
            args.extend(value)
        elif param.kind is param.VAR_KEYWORD:
            kwargs.update(value)
        else:
            kwargs[param.name] = value
    if arguments:
        raise ValueError(
            f"load_model: the config of {type_name!r} has arguments {sorted(arguments)} that its "
            f"registered constructor does not take."
        )
    return fn(*args, **kwargs)


def _constructor(type_name: Any) -> Callable[..., Any]:
    builtins = _builtin_types()
    if type_name in builtins:
        return builtins[type_name]
    if type_name in _REGISTERED:
        return _REGISTERED[type_name]
    known = sorted(builtins) + list(_COMBINATORS) + ["function"]
    raise ValueError(
        f"load_model: unknown layer type {type_name!r}. Built-in types: {', '.join(known)}; "
        f"registered: {', '.join(registered_types()) or 'none'}. If it is your own layer, "
        f"decorate its constructor with @jaxnn.register_layer and import that code before "
        f"loading, or build the model in code and pass load_model(path, model=...)."
    )


def from_config(config: Any, *, safe_mode: bool = True) -> Layer:
    """Rebuilds a layer (and everything inside it) from :func:`to_config`'s dict.

    Args:
        config: A dict with a ``"type"`` and the constructor's arguments.
        safe_mode: If True (default), import functions only from jax, jaxnn, numpy, optax and
            modules this program has already imported.

    Returns:
        The layer, with the same names, so params saved with the original fit it.

    Raises:
        ValueError: For an unknown or unregistered type (the message lists the known ones and
            how to register), a function that cannot be imported, or arguments the constructor
            rejects.

    Example:
        >>> import jax, jaxnn
        >>> from jaxnn.layers import Dense
        >>> model = jaxnn.serial(Dense(3, activation="relu"), Dense(1), name="net")
        >>> rebuilt = from_config(to_config(model))
        >>> rebuilt.config == model.config, rebuilt.init(jax.random.key(0), (-1, 2))[0]
        (True, (-1, 1))
    """
    if not isinstance(config, Mapping) or not isinstance(config.get("type"), str):
        raise ValueError(
            f"load_model: a layer config must be a dict with a 'type' string; got {config!r}."
        )
    type_name = config["type"]
    arguments = {k: v for k, v in config.items() if k != "type"}
    if type_name in _COMBINATORS:
        from jaxnn import combinators

        children = [from_config(c, safe_mode=safe_mode) for c in arguments.pop("layers", [])]
        combinator = getattr(combinators, type_name)
        return combinator(*children, **_decode(arguments, safe_mode))
    if type_name == "function":
        fn = _decode(arguments.get("function"), safe_mode)
        return lift(fn, name=arguments.get("name"))
    constructor = _constructor(type_name)
    decoded = _decode(arguments, safe_mode)
    if type_name == "Bidirectional":
        decoded["layer_fn"] = _constructor(decoded.pop("layer"))
    try:
        if type_name in _REGISTERED:
            return _call_registered(constructor, type_name, decoded)
        return constructor(**decoded)
    except TypeError as error:
        raise ValueError(
            f"load_model: the saved arguments of layer type {type_name!r} do not fit its "
            f"constructor: {error}."
        ) from error
