"""Diagrams of a model's layer graph with Graphviz: :func:`model_to_dot` and :func:`plot_model`.

The graph has an ``input`` node, one box per leaf layer (its name, type and, with
``show_shapes``, its output shape), and an ``output`` node. A ``serial`` is a chain; a
``parallel`` fans out from its input to each branch and joins them in a merge node (``concat``
on its axis, or ``sum``); a ``residual`` is its body's chain plus a dashed ``skip`` edge from the
block's input to an ``add`` node. Every nested combinator is a cluster labelled with its name.

Node ids are the layers' paths (``encoder/dense_1``, as in :func:`~jaxnn.models.summary` and
parameter paths); merge nodes are ``<path>#concat``, ``<path>#sum`` and ``<path>#add``
(``#add`` alone at the root), and the ends are ``#input`` and ``#output``.

This needs the ``graphviz`` Python package (``pip install "jaxnn[plot]"``); rendering an image
also needs Graphviz's ``dot`` program (``apt-get install graphviz``, ``brew install graphviz``
or ``conda install graphviz``). Without ``dot``, :func:`plot_model` writes the DOT source and
says how to render it.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

from jaxnn.checkpoint import write_atomic
from jaxnn.core import Layer
from jaxnn.models._walk import (
    ModelShapes,
    children_paths,
    count,
    format_shape,
    layer_type,
    model_shapes,
    subtree,
)
from jaxnn.types import PRNGKey

__all__ = ["model_to_dot", "plot_model"]

logger = logging.getLogger(__name__)

_IMAGE_FORMATS = ("pdf", "png", "svg")
_SOURCE_FORMATS = ("dot", "gv")
_RANKDIRS = ("BT", "LR", "RL", "TB")
_DRAWN = ("serial", "parallel", "residual")


def _graphviz(where: str) -> Any:
    try:
        import graphviz
    except ImportError as error:
        raise ImportError(
            f'{where} needs the graphviz Python package: pip install "jaxnn[plot]" (and, to '
            f"render images, the Graphviz programs: apt-get install graphviz)."
        ) from error
    return graphviz


class _Drawer:
    """Adds nodes to (nested) graphs as it walks the model; edges are kept and added last."""

    def __init__(self, walk: ModelShapes, show_shapes: bool, show_params: bool) -> None:
        self.shapes = {r.path: r.outputs for r in walk.records}
        self.kids = children_paths(walk.records)
        self.layers = {r.path: r.layer for r in walk.records}
        self.walk, self.show_shapes, self.show_params = walk, show_shapes, show_params
        self.edges: list[tuple[str, str, dict[str, str]]] = []

    def label(self, title: str, kind: str, path: tuple[str, ...], shape: Any) -> str:
        lines = [title, kind] if kind else [title]
        if self.show_shapes:
            lines.append(format_shape(shape))
        if self.show_params and kind:
            lines.append(f"params: {count(subtree(self.walk.params, path))[0]:,}")
        return r"\n".join(lines)

    def layer(self, g: Any, layer: Layer, path: tuple[str, ...], source: str) -> str:
        """Draws ``layer`` fed by node ``source``; returns the node holding its output."""
        kind = layer_type(layer)
        if kind in _DRAWN and path in self.kids:
            if not path:
                return self.combinator(g, layer, path, source)
            with g.subgraph(name="cluster_" + "/".join(path)) as cluster:
                title = path[-1] if path[-1] == kind else f"{path[-1]} ({kind})"
                cluster.attr(label=title, style="rounded", color="gray50")
                return self.combinator(cluster, layer, path, source)
        node = "/".join(path) or layer.name
        shape = self.shapes.get(path, self.walk.output_shape)
        g.node(node, label=self.label(path[-1] if path else layer.name, kind, path, shape))
        self.edges.append((source, node, {}))
        return node

    def combinator(self, g: Any, layer: Layer, path: tuple[str, ...], source: str) -> str:
        config, kind = layer.config or {}, layer_type(layer)
        kids = [(self.layers[k], k) for k in self.kids[path]]
        if kind == "parallel":
            outs = [self.layer(g, child, k, source) for child, k in kids]
            combine = config.get("combine", "concat")
            merge = f"{'/'.join(path)}#{combine}"
            text = f"concat\\naxis={config.get('axis', -1)}" if combine == "concat" else "sum"
            g.node(merge, label=text, shape="ellipse")
            self.edges += [(out, merge, {}) for out in outs]
            return merge
        out = source
        for child, k in kids:
            out = self.layer(g, child, k, out)
        if kind == "residual":
            add = f"{'/'.join(path)}#add"
            g.node(add, label="add", shape="ellipse")
            self.edges += [(out, add, {}), (source, add, {"style": "dashed", "label": "skip"})]
            return add
        return out


def model_to_dot(
    model: Layer,
    input_shape: Any,
    *,
    show_shapes: bool = True,
    show_params: bool = False,
    rankdir: str = "TB",
    key: PRNGKey | None = None,
) -> Any:
    r"""The layer graph of ``model`` as a ``graphviz.Digraph`` (``.source`` is the DOT text).

    Nothing is allocated or run: shapes come from ``jax.eval_shape`` of ``model.init``.

    Args:
        model: A :class:`~jaxnn.Layer`, e.g. a :func:`~jaxnn.serial` model.
        input_shape: The input shape with the batch axis first (``-1`` for any batch size), or
            an example array.
        show_shapes: Write each layer's output shape in its box (default ``True``); ``-1`` is
            shown as ``None``.
        show_params: Write each layer's parameter count (default ``False``).
        rankdir: The direction of the flow: ``"TB"`` (top to bottom, default), ``"LR"``,
            ``"BT"`` or ``"RL"``.
        key: The key for ``model.init`` (default ``jax.random.key(0)``).

    Returns:
        A ``graphviz.Digraph``; node ids are the layers' paths (see the module docstring).

    Raises:
        ImportError: If the ``graphviz`` package is missing (install ``jaxnn[plot]``).
        ValueError: For an unknown ``rankdir``, or an ``input_shape`` the model rejects.

    Example:
        >>> import jax.numpy as jnp, jaxnn
        >>> from jaxnn.layers import Dense
        >>> model = jaxnn.residual(Dense(4), jnp.tanh, name="block")
        >>> dot = model_to_dot(model, (-1, 4))
        >>> print("\n".join(line.strip() for line in dot.source.splitlines()[-6:]))
        "#input" -> dense
        dense -> tanh
        tanh -> "#add"
        "#input" -> "#add" [label=skip style=dashed]
        "#add" -> "#output"
        }
    """
    graphviz = _graphviz("model_to_dot")
    if rankdir not in _RANKDIRS:
        raise ValueError(
            f"model_to_dot: rankdir must be one of {', '.join(_RANKDIRS)}; got {rankdir!r}."
        )
    walk = model_shapes(model, input_shape, key=key, where="model_to_dot")
    g = graphviz.Digraph(
        name=model.name,
        graph_attr={
            "rankdir": rankdir,
            "label": model.name,
            "labelloc": "t",
            "fontname": "Helvetica",
        },
        node_attr={"shape": "box", "style": "rounded", "fontname": "Helvetica"},
        edge_attr={"fontname": "Helvetica", "fontsize": "10"},
    )
    drawer = _Drawer(walk, show_shapes, show_params)
    g.node("#input", label=drawer.label("input", "", (), walk.input_shape), shape="oval")
    out = drawer.layer(g, model, (), "#input")
    g.node("#output", label=drawer.label("output", "", (), walk.output_shape), shape="oval")
    for tail, head, attrs in [*drawer.edges, (out, "#output", {})]:
        g.edge(tail, head, **attrs)
    return g


def _format(path: Path) -> str:
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in _IMAGE_FORMATS + _SOURCE_FORMATS:
        known = ", ".join(f".{f}" for f in sorted(_IMAGE_FORMATS + _SOURCE_FORMATS))
        raise ValueError(
            f"plot_model: path must end in one of {known} (the file format); got {str(path)!r}."
        )
    return fmt


def _source_only(source: str, path: Path, fmt: str, reason: str) -> Path:
    """Writes the DOT source next to ``path`` and logs how to render it; returns its path."""
    dot_path = path.with_suffix(".dot")
    write_atomic(dot_path, source.encode())
    logger.warning(
        "plot_model: %s, so %s was not drawn; wrote the Graphviz source to %s instead. Install "
        "Graphviz (apt-get install graphviz, brew install graphviz or conda install graphviz) "
        "and render it with: dot -T%s %s -o %s",
        reason, path, dot_path, fmt, dot_path, path,
    )  # fmt: skip
    return dot_path


def plot_model(
    model: Layer,
    input_shape: Any,
    path: str | os.PathLike,
    *,
    show_shapes: bool = True,
    show_params: bool = False,
    rankdir: str = "TB",
    key: PRNGKey | None = None,
) -> Path:
    """Draws the layer graph of ``model`` into a file (Keras' ``plot_model``).

    The format is the suffix of ``path``: ``.svg``, ``.png`` or ``.pdf`` render with Graphviz's
    ``dot`` program; ``.dot`` or ``.gv`` write the DOT source only. Without ``dot`` on the
    ``PATH``, the source is written to ``path`` with the suffix ``.dot``, that path is returned,
    and the log (a ``logging`` warning) says how to render it:
    ``dot -Tsvg model.dot -o model.svg`` once Graphviz is installed (``apt-get install graphviz``).
    Files are written atomically (temp file and rename).

    Args:
        model: A :class:`~jaxnn.Layer`.
        input_shape: The input shape (``-1`` for any batch size) or an example array.
        path: Where to write; its suffix picks the format.
        show_shapes: Write each layer's output shape in its box (default ``True``).
        show_params: Write each layer's parameter count (default ``False``).
        rankdir: ``"TB"`` (top to bottom, default), ``"LR"``, ``"BT"`` or ``"RL"``.
        key: The key for ``model.init`` (default ``jax.random.key(0)``).

    Returns:
        The path written: ``path``, or the ``.dot`` file beside it when ``dot`` is missing.

    Raises:
        ImportError: If the ``graphviz`` package is missing (install ``jaxnn[plot]``).
        ValueError: For an unknown suffix or ``rankdir``, or an ``input_shape`` the model rejects.
        OSError: If the file cannot be written.

    Example:
        >>> import tempfile, pathlib, jax.numpy as jnp, jaxnn
        >>> from jaxnn.layers import Dense
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> written = plot_model(jaxnn.serial(Dense(3), jnp.tanh), (-1, 4), folder / "mlp.dot")
        >>> written.name, "dense -> tanh" in written.read_text()
        ('mlp.dot', True)
    """
    graphviz = _graphviz("plot_model")
    path = Path(path)
    fmt = _format(path)
    graph = model_to_dot(
        model, input_shape, show_shapes=show_shapes, show_params=show_params, rankdir=rankdir,
        key=key,
    )  # fmt: skip
    if fmt in _SOURCE_FORMATS:
        write_atomic(path, graph.source.encode())
        return path
    if shutil.which("dot") is None:
        return _source_only(graph.source, path, fmt, "the Graphviz program `dot` is not on PATH")
    try:
        data = graph.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        return _source_only(graph.source, path, fmt, "the Graphviz program `dot` cannot be run")
    write_atomic(path, data)
    return path
