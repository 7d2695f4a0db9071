"""The summary's rows and totals (:class:`Row`, :class:`Summary`) and their outputs.

:func:`jaxnn.models.summary` returns a :class:`Summary`; it prints as a terminal table and
gives Markdown and JSON data.

Sizes and counts use decimal (SI) prefixes: ``1.2 KB`` is 1,200 bytes, ``3.4 MFLOP`` is
3,400,000 FLOPs. Shapes show an unknown (``-1``) batch size as ``None``, as Keras does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from jaxnn import _html
from jaxnn.models._walk import format_shape

__all__ = ["Row", "Summary", "html_table", "human", "json_data", "markdown_table", "text_table"]


class Row(NamedTuple):
    """One layer of a :class:`Summary`.

    Attributes:
        path: The layer's path, ``"encoder/dense_1"`` (the root's name for a single-layer model).
        depth: How deep it is nested (0 for the model's direct children).
        type: ``config["type"]``: ``"Dense"``, ``"serial"``, ``"function"`` (a lifted function),
            or ``"Layer"`` for a hand-written layer without a config.
        output_shape: The output shape (tree) from ``init``; ``-1`` for an unknown batch size.
        params: The number of parameters (all of a combinator's children).
        state: The number of state entries (e.g. BatchNorm's running mean and variance).
        bytes: The bytes of those params and state.
        flops: XLA's FLOPs of the forward pass on ``batch_size`` rows (see the module docstring).
        transcendentals: XLA's count of transcendental operations (``exp``, ``tanh``, ...).
        param_dtype: The dtype its params are kept in (``"float32"``, ...; ``"-"`` for none,
            ``"mixed"`` for several).
        compute_dtype: The dtype it computes in: that of its floating output under the
            summary's precision policy (``"-"`` for an output without floats).
    """

    path: str
    depth: int
    type: str
    output_shape: Any
    params: int
    state: int
    bytes: int
    flops: int
    transcendentals: int
    param_dtype: str = "float32"
    compute_dtype: str = "float32"


@dataclasses.dataclass(frozen=True)
class Summary:
    """What :func:`summary` returns: the rows and the totals of one model.

    ``str(s)`` is the terminal table; :meth:`to_dict` and :meth:`to_markdown` give the same
    numbers as JSON-ready data and as a Markdown table. Bytes and FLOPs are shown in decimal
    (SI) units: ``1.2 KB`` is 1,200 bytes, ``3.4 MFLOP`` is 3,400,000 FLOPs.

    Attributes:
        name: The model's name.
        input_shape: The input shape given to :func:`summary` (``-1`` for any batch size).
        output_shape: The model's output shape.
        batch_size: The batch size that replaced ``-1`` to count FLOPs.
        rows: One :class:`Row` per nested layer, parents before children.
        params: All parameters.
        trainable_params: Those not matched by ``frozen``.
        frozen_params: Those matched by ``frozen``.
        param_bytes: Bytes of all params.
        state: All state entries.
        state_bytes: Bytes of all state.
        flops: XLA's FLOPs of one forward pass (``train=False``) on ``batch_size`` rows.
        transcendentals: XLA's count of transcendental operations in that pass.
        precision: The precision policy the rows' dtypes are under (:mod:`jaxnn.precision`).
    """

    name: str
    input_shape: Any
    output_shape: Any
    batch_size: int
    rows: tuple[Row, ...]
    params: int
    trainable_params: int
    frozen_params: int
    param_bytes: int
    state: int
    state_bytes: int
    flops: int
    transcendentals: int
    precision: str = "float32"

    @property
    def bytes(self) -> int:
        """Bytes of all params and state."""
        return self.param_bytes + self.state_bytes

    def __str__(self) -> str:
        """The table, fixed-width columns, names indented by depth, totals underneath."""
        return text_table(self)

    def __repr__(self) -> str:
        """One line; ``print(s)`` shows the table."""
        return (
            f"Summary(name={self.name!r}, params={self.params:,}, state={self.state:,}, "
            f"flops={self.flops:,})"
        )

    def to_dict(self) -> dict[str, Any]:
        """The summary as plain JSON-serialisable data (shapes as lists, ``None`` for ``-1``).

        Example:
            >>> import json, jaxnn
            >>> from jaxnn.layers import Dense
            >>> from jaxnn.models import summary
            >>> d = summary(jaxnn.serial(Dense(2)), (-1, 3), print_fn=None).to_dict()
            >>> d["rows"][0]["path"], d["rows"][0]["output_shape"], d["totals"]["params"]
            ('dense', [None, 2], 8)
            >>> json.loads(json.dumps(d)) == d
            True
        """
        return json_data(self)

    def to_markdown(self) -> str:
        """The table in Markdown (paths in code spans), then the totals as a list.

        Example:
            >>> import jaxnn
            >>> from jaxnn.layers import Dense
            >>> from jaxnn.models import summary
            >>> print(summary(jaxnn.serial(Dense(2)), (-1, 3), print_fn=None).to_markdown())
            | Layer | Type | Output shape | Params | State | Bytes | FLOPs |
            | --- | --- | --- | ---: | ---: | ---: | ---: |
            | `dense` | Dense | (None, 2) | 8 | 0 | 32 B | 14 FLOP |
            <BLANKLINE>
            - Total params: 8 (32 B)
            ...
        """
        return markdown_table(self)

    def _repr_html_(self) -> str:
        """The table as HTML, for a notebook; see :func:`html_table`."""
        return html_table(self)


_HEADER = ("Layer", "Type", "Output shape", "Params", "State", "Bytes", "FLOPs")


def human(value: float, unit: str) -> str:
    """``1234`` -> ``1.2 K{unit}``, in decimal (SI) prefixes; values under 1000 in full.

    Example:
        >>> human(999, "B"), human(1234, "B"), human(3_400_000, "FLOP")
        ('999 B', '1.2 KB', '3.4 MFLOP')
    """
    if value < 1000:
        return f"{value:,.0f} {unit}"
    for prefix in "KMGTPE":
        value /= 1000
        if round(value, 1) < 1000 or prefix == "E":
            break
    return f"{value:.1f} {prefix}{unit}"


def _json_shape(shape: Any) -> Any:
    """Shape tree for JSON: tuples become lists and ``-1`` becomes ``None``."""
    if isinstance(shape, Mapping):
        return {str(k): _json_shape(v) for k, v in shape.items()}
    if isinstance(shape, (tuple, list)):
        return [None if d == -1 else _json_shape(d) for d in shape]
    return shape


def json_data(s: Summary) -> dict[str, Any]:
    """``s`` as plain JSON-serialisable data (shapes as lists, ``None`` for ``-1``).

    Example:
        >>> import json, jaxnn
        >>> from jaxnn.layers import Dense
        >>> from jaxnn.models.summary import summary
        >>> d = json_data(summary(jaxnn.serial(Dense(2)), (-1, 3), print_fn=None))
        >>> json.dumps(d["rows"][0]["output_shape"]), d["input_shape"], d["totals"]["bytes"]
        ('[null, 2]', [None, 3], 32)
    """
    rows = [{**r._asdict(), "output_shape": _json_shape(r.output_shape)} for r in s.rows]
    totals = {
        f.name: getattr(s, f.name)
        for f in dataclasses.fields(s)
        if f.name not in ("name", "input_shape", "output_shape", "batch_size", "rows", "precision")
    } | {"bytes": s.bytes}
    return {
        "name": s.name,
        "input_shape": _json_shape(s.input_shape),
        "output_shape": _json_shape(s.output_shape),
        "batch_size": s.batch_size,
        "precision": s.precision,
        "rows": rows,
        "totals": totals,
    }


def _dtyped(s: Summary) -> bool:
    """Whether the table shows a Dtype column: a policy, or a dtype other than float32."""
    names = {"float32", "-"}
    return s.precision != "float32" or any(
        r.param_dtype not in names or r.compute_dtype not in names for r in s.rows
    )


def _dtype_cell(row: Row) -> str:
    """``params/compute``, one name when they agree or the layer has no params."""
    if row.param_dtype in ("-", row.compute_dtype) or row.compute_dtype == "-":
        return row.compute_dtype if row.compute_dtype != "-" else row.param_dtype
    return f"{row.param_dtype}/{row.compute_dtype}"


def _header(s: Summary) -> list[str]:
    head = list(_HEADER)
    return head[:3] + ["Dtype"] + head[3:] if _dtyped(s) else head


def _left(s: Summary, row: Row, name: str) -> list[str]:
    """The text cells of a row: name, type, shape (and dtype)."""
    cells = [name, row.type, format_shape(row.output_shape)]
    return cells + [_dtype_cell(row)] if _dtyped(s) else cells


def _cells(row: Row) -> list[str]:
    """The numeric cells of ``row``: params, state, bytes and FLOPs."""
    return [
        f"{row.params:,}",
        f"{row.state:,}",
        human(row.bytes, "B"),
        human(row.flops, "FLOP"),
    ]


def _totals(s: Summary) -> list[tuple[str, str]]:
    """The (label, value) lines under the table."""
    policy = [] if s.precision == "float32" else [("Precision", s.precision)]
    return policy + [
        ("Total params", f"{s.params:,} ({human(s.param_bytes, 'B')})"),
        ("Trainable params", f"{s.trainable_params:,}"),
        ("Frozen params", f"{s.frozen_params:,}"),
        ("State", f"{s.state:,} ({human(s.state_bytes, 'B')})"),
        (
            f"FLOPs (forward, batch {s.batch_size})",
            human(s.flops, "FLOP")
            + (f" ({s.flops:,})" if s.flops >= 1000 else "")
            + f", transcendentals {s.transcendentals:,}",
        ),
    ]


def text_table(s: Summary) -> str:
    """The terminal table: fixed-width columns, names indented by depth, totals underneath.

    Example:
        >>> import jaxnn
        >>> from jaxnn.layers import Dense
        >>> from jaxnn.models.summary import summary
        >>> print(text_table(summary(jaxnn.serial(Dense(2)), (-1, 3), print_fn=None)))
        Model 'serial': input (None, 3) -> output (None, 2)
        ---------------------------------------------------------
        Layer  Type   Output shape  Params  State  Bytes    FLOPs
        ---------------------------------------------------------
        dense  Dense  (None, 2)          8      0   32 B  14 FLOP
        ---------------------------------------------------------
        Total params: 8 (32 B)
        ...
    """
    header = _header(s)
    body = [[*_left(s, r, "  " * r.depth + r.path), *_cells(r)] for r in s.rows]
    k = len(header) - 4  # the left-aligned text columns
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        left = [c.ljust(w) for c, w in zip(cells[:k], widths[:k], strict=True)]
        right = [c.rjust(w) for c, w in zip(cells[k:], widths[k:], strict=True)]
        return "  ".join(left + right).rstrip()

    rule = "-" * len(line(["x" * w for w in widths]))
    title = (
        f"Model '{s.name}': input {format_shape(s.input_shape)} -> "
        f"output {format_shape(s.output_shape)}"
    )
    totals = [f"{label}: {value}" for label, value in _totals(s)]
    return "\n".join([title, rule, line(header), rule, *map(line, body), rule, *totals])


def markdown_table(s: Summary) -> str:
    """The table in Markdown (paths in code spans), then the totals as a list.

    Example:
        >>> import jaxnn
        >>> from jaxnn.layers import Dense
        >>> from jaxnn.models.summary import summary
        >>> print(markdown_table(summary(jaxnn.serial(Dense(2)), (-1, 3), print_fn=None)))
        | Layer | Type | Output shape | Params | State | Bytes | FLOPs |
        | --- | --- | --- | ---: | ---: | ---: | ---: |
        | `dense` | Dense | (None, 2) | 8 | 0 | 32 B | 14 FLOP |
        <BLANKLINE>
        - Total params: 8 (32 B)
        ...
    """
    header = _header(s)
    lines = [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join(["---"] * (len(header) - 4) + ["---:"] * 4) + " |",
    ]
    for r in s.rows:
        cells = [*_left(s, r, f"`{r.path}`"), *_cells(r)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join([*lines, "", *(f"- {k}: {v}" for k, v in _totals(s))])


def html_table(s: Summary) -> str:
    """The table as HTML (names indented by depth), the totals underneath: a notebook's display.

    Example:
        >>> import jaxnn
        >>> from jaxnn.layers import Dense
        >>> from jaxnn.models.summary import summary
        >>> page = html_table(summary(jaxnn.serial(Dense(2)), (-1, 3), print_fn=None))
        >>> "<td" in page and ">dense</td>" in page and "Total params: 8 (32 B)" in page
        True
    """
    header = _header(s)
    body = [[*_left(s, r, "\u2003" * r.depth + r.path), *_cells(r)] for r in s.rows]
    title = (
        f"Model '{s.name}': input {format_shape(s.input_shape)} -> "
        f"output {format_shape(s.output_shape)}"
    )
    numeric = range(len(header) - 4, len(header))
    totals = [f"{label}: {value}" for label, value in _totals(s)]
    return _html.table(header, body, title=title, numeric=numeric, footer=totals)
