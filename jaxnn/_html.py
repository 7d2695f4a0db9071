"""Small HTML tables for the rich displays in a notebook (``_repr_html_``).

Jupyter shows an object's ``_repr_html_()`` in place of its ``repr``. The layer, the summary,
the training history and the saved model build theirs with :func:`table`: plain ``<table>``
markup, every text escaped, numbers right-aligned, no script and no style sheet, so that it reads
the same in JupyterLab, VS Code and a page rendered from the notebook.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

__all__ = ["escape", "layer_rows", "table"]

_CELL = "padding: 1px 8px"


def escape(value: Any) -> str:
    """``str(value)`` with ``&``, ``<``, ``>`` and quotes escaped.

    Example:
        >>> escape("<dense>")
        '&lt;dense&gt;'
    """
    return html.escape(str(value), quote=True)


def table(
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    title: str = "",
    numeric: Sequence[int] = (),
    footer: Sequence[str] = (),
) -> str:
    """An HTML table: an optional bold title, the header, the rows and lines of text under it.

    Args:
        header: The column names.
        rows: The cells of each row (escaped; ``str`` of anything else).
        title: A line above the table (escaped); none when empty.
        numeric: Indices of the columns to right-align.
        footer: Lines below the table (escaped), e.g. the totals.

    Returns:
        The markup, one ``<div>`` holding everything.

    Example:
        >>> page = table(["Layer", "Params"], [["dense", "8"]], numeric=[1])
        >>> page.startswith('<div class="jaxnn-repr"><table>'), page.count("<tr>")
        (True, 2)
        >>> '<td style="padding: 1px 8px; text-align: right">8</td>' in page
        True
    """

    def cell(tag: str, i: int, value: Any) -> str:
        align = "right" if i in numeric else "left"
        return f'<{tag} style="{_CELL}; text-align: {align}">{escape(value)}</{tag}>'

    head = "".join(cell("th", i, name) for i, name in enumerate(header))
    body = "".join(
        "<tr>" + "".join(cell("td", i, value) for i, value in enumerate(row)) + "</tr>"
        for row in rows
    )
    parts = [f"<strong>{escape(title)}</strong>"] if title else []
    parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    parts += [f'<div style="{_CELL}">{escape(line)}</div>' for line in footer]
    return '<div class="jaxnn-repr">' + "".join(parts) + "</div>"


def _argument(value: Any) -> str:
    """A config value for the HTML table: a function by its name, anything else as ``repr``."""
    if callable(value):
        return getattr(value, "__name__", type(value).__name__)
    return repr(value)


def layer_rows(layer: Any, depth: int = 0) -> list[list[str]]:
    """``[indented name, type, arguments]`` of ``layer`` and, below it, of its children."""
    config = dict(layer.config or {})
    kind = str(config.pop("type", "Layer"))
    args = ", ".join(
        f"{k}={_argument(v)}" for k, v in config.items() if k not in ("name", "layers")
    )
    rows = [["\u2003" * depth + layer.name, kind, args]]
    for child in layer.children:
        rows += layer_rows(child, depth + 1)
    return rows
