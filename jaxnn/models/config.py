"""Layer configs as JSON: describing a model, rebuilding it, and registering a user's own layers.

A layer's ``config`` (its type and constructor arguments) becomes JSON with :func:`to_config`,
and :func:`from_config` calls the constructors again. Values that JSON cannot hold are encoded
as small tagged objects:

=====================================  ==================================================
value                                  JSON
=====================================  ==================================================
a function of the table (``jnp.tanh``)  ``{"__function__": "jax.numpy:tanh"}``
a registered function or type          ``{"__registered__": "my_act"}``
``functools.partial(f, a=1)``          ``{"__function__": "...", "args": [], "kwargs": {...}}``
a layer argument (a wrapped layer)     ``{"__layer__": {...its config...}}``
a tuple                                ``{"__tuple__": [...]}``
a dtype                                ``{"__dtype__": "float32"}``
=====================================  ==================================================

Only functions that :func:`jaxnn.load_model` may call in safe mode are written: those of the
table in :mod:`jaxnn.models.functions` and those registered with
:func:`~jaxnn.models.functions.register_function`; ``partial`` arguments must be JSON values.
Anything else (a lambda, a closure, an unregistered function, a hand-built
:class:`~jaxnn.Layer` without a config) is refused by :func:`to_config`, which names it, so
that every file jaxnn writes loads safely. A user's own layer type is made describable with
:func:`register_layer`.

Reading is the reverse, and a file is untrusted: a function is looked up in the table or the
registry, never imported (unless ``safe_mode=False``); a tag the table above does not list, a
function where data belongs, or a dtype that is not numeric is refused with the entry's path.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from jaxnn.core import Layer, lift
from jaxnn.models import functions
from jaxnn.models.functions import (
    function_name,
    registered_types,
    resolve_function,
    resolve_registered,
)

__all__ = ["from_config", "to_config"]

_COMBINATORS = ("serial", "parallel", "residual")
# dtypes a file may name (``{"__dtype__": ...}``, a layer's ``dtype``): numeric ones only.
DTYPES = (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "bfloat16", "float32", "float64", "complex64", "complex128",
)  # fmt: skip
_TAGS = {
    "__function__": {"args", "kwargs"},
    "__registered__": {"args", "kwargs"},
    "__layer__": set(),
    "__tuple__": set(),
    "__dtype__": set(),
}

_FIX = (
    "Build it from jaxnn's layers and the functions of jaxnn.models.serializable_functions(), "
    "decorate your function with @jaxnn.register_function (a layer constructor with "
    "@jaxnn.register_layer), or save it anyway and load the weights into the model you build in "
    "code with load_model(path, model=...)"
)


def _builtin_types() -> dict[str, Callable[..., Layer]]:
    from jaxnn import layers  # the layers import this package's users, not the other way

    return {name: getattr(layers, name) for name in layers.__all__}


def _describe_function(fn: Any) -> str:
    code = getattr(fn, "__code__", None)
    if code is None:
        return f"{fn!r}"
    return f"{fn!r} (defined at {code.co_filename}:{code.co_firstlineno})"


def _encode_data(value: Any, where: str) -> Any:
    """A partial's argument: JSON values, tuples and dtypes only (never a function)."""
    encoded = _encode(value, where)
    if _holds_function(encoded):
        raise ValueError(
            f"save_model: {where} passes the function {value!r} as an argument of a partial; a "
            f"model file keeps only JSON values there (numbers, strings, booleans, lists), so "
            f"that loading it never calls a function the file chose. Register a function that "
            f"takes no function argument with @jaxnn.register_function."
        )
    return encoded


def _holds_function(value: Any) -> bool:
    if isinstance(value, list):
        return any(_holds_function(v) for v in value)
    if isinstance(value, dict):
        tagged = "__function__" in value or "__registered__" in value or "__layer__" in value
        return tagged or any(_holds_function(v) for v in value.values())
    return False


def _encode_function(fn: Any, where: str) -> dict[str, Any]:
    if isinstance(fn, functools.partial):
        return {
            **_encode_function(fn.func, where),
            "args": [_encode_data(v, f"{where} partial argument {i}") for i, v in
                     enumerate(fn.args)],
            "kwargs": {k: _encode_data(v, f"{where} partial argument {k!r}") for k, v in
                       fn.keywords.items()},
        }  # fmt: skip
    ref = function_name(fn)
    if ref is None:
        raise ValueError(
            f"save_model: {where} is the function {_describe_function(fn)}, which a model file "
            f"may not name: safe loading calls only the functions of a fixed table and those "
            f"registered by the program. {_FIX}."
        )
    return ref


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
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return {"__dtype__": np.dtype(value).name}
    if callable(value):
        return _encode_function(value, where)
    raise ValueError(
        f"save_model: {where} holds {type(value).__name__} {value!r}, which a model file cannot "
        f"describe. {_FIX}."
    )


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


def _tag(value: dict, where: str) -> str | None:
    """The tag of a tagged object (``__function__`` ...), checked; ``None`` for a plain dict."""
    tags = [k for k in value if isinstance(k, str) and k.startswith("__") and k.endswith("__")]
    if not tags:
        return None
    if len(tags) > 1 or tags[0] not in _TAGS or set(value) - {tags[0]} - _TAGS[tags[0]]:
        raise ValueError(
            f"{where} is {_short(value)}, which is not a value a model file may hold: tagged "
            f"objects are {', '.join(sorted(_TAGS))}, each alone (a function with args and "
            f"kwargs)."
        )
    return tags[0]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _decode_function(value: dict, tag: str, safe_mode: bool, where: str) -> Any:
    if tag == "__registered__":
        fn = resolve_registered(value[tag], where=where)
    else:
        fn = resolve_function(value[tag], safe_mode=safe_mode, where=where)
    if "args" not in value and "kwargs" not in value:
        return fn
    args, kwargs = value.get("args", []), value.get("kwargs", {})
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise ValueError(f"{where}: a partial's args must be a list and kwargs an object.")
    if safe_mode and (_holds_function(args) or _holds_function(kwargs)):
        raise ValueError(
            f"{where}: the arguments of the partial of {value[tag]!r} hold a function or a "
            f"layer; a model file may pass only JSON values (numbers, strings, booleans, lists) "
            f"to a function. Nothing was called. If you trust the file, load it with "
            f"safe_mode=False (the command: --unsafe)."
        )
    args = _decode(args, safe_mode, f"{where} args")
    kwargs = {k: _decode(v, safe_mode, f"{where} kwargs[{k!r}]") for k, v in kwargs.items()}
    return functools.partial(fn, *args, **kwargs)


def _decode(value: Any, safe_mode: bool, where: str = "load_model: config") -> Any:
    """Undoes :func:`_encode`, calling and importing nothing a file chose (see the module)."""
    if isinstance(value, list):
        return [_decode(v, safe_mode, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    tag = _tag(value, where)
    if tag in ("__function__", "__registered__"):
        return _decode_function(value, tag, safe_mode, where)
    if tag == "__layer__":
        return from_config(value[tag], safe_mode=safe_mode, where=where)
    if tag == "__tuple__":
        if not isinstance(value[tag], list):
            raise ValueError(f"{where}: __tuple__ must hold a list; got {_short(value[tag])}.")
        return tuple(_decode(value[tag], safe_mode, where))
    if tag == "__dtype__":
        if value[tag] not in DTYPES:
            raise ValueError(
                f"{where}: the dtype {_short(value[tag])} is not one of {', '.join(DTYPES)}."
            )
        return np.dtype(value[tag])
    return {k: _decode(v, safe_mode, f"{where}[{k!r}]") for k, v in value.items()}


def _call_registered(fn: Callable, where: str, arguments: dict[str, Any]) -> Any:
    """Calls a registered constructor with the arguments its config recorded."""
    args, kwargs = [], {}
    for param in inspect.signature(fn).parameters.values():
        if param.name not in arguments:
            continue
        value = arguments.pop(param.name)
        if param.kind is param.POSITIONAL_ONLY:
            args.append(value)
        elif param.kind is param.VAR_POSITIONAL and isinstance(value, (list, tuple)):
            args.extend(value)
        elif param.kind is param.VAR_KEYWORD and isinstance(value, dict):
            kwargs.update(value)
        else:
            kwargs[param.name] = value
    if arguments:
        raise ValueError(
            f"{where}: the config has arguments {sorted(arguments)} that its registered "
            f"constructor does not take."
        )
    return fn(*args, **kwargs)


def _constructor(type_name: Any, where: str) -> Callable[..., Any]:
    builtins = _builtin_types()
    if type_name in builtins:
        return builtins[type_name]
    registered = functions.registered()
    if isinstance(type_name, str) and type_name in registered:
        return registered[type_name]
    known = sorted(builtins) + list(_COMBINATORS) + ["function"]
    raise ValueError(
        f"{where}: unknown layer type {_short(type_name)}. Built-in types: {', '.join(known)}; "
        f"registered: {', '.join(registered_types()) or 'none'}. If it is your own layer, "
        f"decorate its constructor with @jaxnn.register_layer and import that code before "
        f"loading, or build the model in code and pass load_model(path, model=...)."
    )


def _dtype_arguments(type_name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A built-in layer's arguments, with a file's single ``dtype`` read as ``param_dtype``.

    Files written before layers had a separate compute dtype stored the parameters' dtype as
    ``dtype`` (the layer computed as its input and parameters promote); they load as that.
    """
    if "dtype" not in arguments or "param_dtype" in arguments or type_name not in _builtin_types():
        return arguments
    return {**arguments, "dtype": None, "param_dtype": arguments["dtype"]}


def _build(type_name: str, arguments: dict[str, Any], safe_mode: bool, where: str) -> Layer:
    """Calls the constructor of one (non-combinator, non-function) layer type."""
    constructor = _constructor(type_name, where)
    decoded = _decode(_dtype_arguments(type_name, arguments), safe_mode, where)
    if type_name == "Bidirectional":
        inner = decoded.pop("layer", None)
        if not isinstance(inner, str) or (
            inner not in ("SimpleRNN", "LSTM", "GRU") and inner not in functions.registered()
        ):
            raise ValueError(
                f"{where}: Bidirectional wraps SimpleRNN, LSTM, GRU or a registered recurrent "
                f"layer; got {_short(inner)}."
            )
        decoded["layer_fn"] = _constructor(inner, where)
    if type_name in functions.registered() and type_name not in _builtin_types():
        return _call_registered(constructor, where, decoded)
    try:
        return constructor(**decoded)
    except ValueError as error:  # the layer's own check, e.g. units=-5: add the file's name
        raise ValueError(f"{where}: {error}") from error


def from_config(config: Any, *, safe_mode: bool = True, where: str = "load_model") -> Layer:
    """Rebuilds a layer (and everything inside it) from :func:`to_config`'s dict.

    The config is untrusted input: it may name only jaxnn's layer types and registered ones,
    and functions only from the table of :mod:`jaxnn.models.functions` or the registry.

    Args:
        config: A dict with a ``"type"`` and the constructor's arguments.
        safe_mode: If True (default), refuse a function outside the table and the registry,
            and a function passed as an argument of a partial, before anything is imported or
            called. False trusts the config: any ``module:name`` is imported.
        where: How to name the config in an error (the file, for :func:`jaxnn.load_model`).

    Returns:
        The layer, with the same names, so params saved with the original fit it.

    Raises:
        ValueError: For an unknown or unregistered type (the message lists the known ones and
            how to register), a function that safe mode refuses or that cannot be found, or
            arguments the constructor rejects; each names the entry.

    Example:
        >>> import jax, jaxnn
        >>> from jaxnn.layers import Dense
        >>> model = jaxnn.serial(Dense(3, activation="relu"), Dense(1), name="net")
        >>> rebuilt = from_config(to_config(model))
        >>> rebuilt.config == model.config, rebuilt.init(jax.random.key(0), (-1, 2))[0]
        (True, (-1, 1))
        >>> from_config({"type": "function", "function": {"__function__": "builtins:exec"}})
        Traceback (most recent call last):
        ValueError: load_model: model (function) function names the function 'builtins:exec', ...
    """
    return _from_config(config, safe_mode, f"{where}: model")


def _from_config(config: Any, safe_mode: bool, where: str) -> Layer:
    if not isinstance(config, Mapping) or not isinstance(config.get("type"), str):
        raise ValueError(
            f"{where}: a layer config must be a dict with a 'type' string; got {_short(config)}."
        )
    type_name = config["type"]
    where = f"{where} ({type_name})"
    arguments = {k: v for k, v in config.items() if k != "type"}
    try:
        if type_name in _COMBINATORS:
            from jaxnn import combinators

            layers = arguments.pop("layers", [])
            if not isinstance(layers, list):
                raise ValueError(f"{where}: 'layers' must be a list; got {_short(layers)}.")
            children = [
                _from_config(c, safe_mode, f"{where} -> layer {i}") for i, c in enumerate(layers)
            ]
            combinator = getattr(combinators, type_name)
            return combinator(*children, **_decode(arguments, safe_mode, where))
        if type_name == "function":
            fn = _decode(arguments.pop("function", None), safe_mode, f"{where} function")
            name = arguments.pop("name", None)
            if not callable(fn) or arguments or not (name is None or isinstance(name, str)):
                raise ValueError(
                    f"{where}: a function layer holds a 'function' reference and a 'name' "
                    f"string only; got {_short(config)}."
                )
            return lift(fn, name=name)
        return _build(type_name, arguments, safe_mode, where)
    except (TypeError, OverflowError) as error:
        raise ValueError(
            f"{where}: the saved arguments do not fit the layer's constructor: {error}"
        ) from error
