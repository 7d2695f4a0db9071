"""What every command shares: the user-error type, name suggestions, notes and tables."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import click
import numpy as np

__all__ = [
    "DEBUG_KEY",
    "UNSAFE_KEY",
    "USER_ERRORS",
    "UserError",
    "debug_option",
    "did_you_mean",
    "format_table",
    "list_files",
    "load_saved",
    "note",
    "unknown_name",
    "unsafe_option",
]

# What the library raises for a user's mistake (DESIGN.md: every public function checks what a
# user can get wrong and says so). The command prints the message without a traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, OSError, ImportError)


class UserError(click.ClickException):
    """A mistake in the command line or its files: printed as ``Error: ...``, exit code 1."""


def unknown_name(kind: str, name: str, known: Iterable[str], *, plural: str = "") -> str:
    """The message for an unknown name: the closest known names, then all of them, sorted.

    Args:
        kind: What the name is, e.g. ``"optimizer"``.
        name: The name given.
        known: The valid names.
        plural: The plural of ``kind`` (default: ``kind + "s"``).

    Returns:
        One sentence per part, e.g. ``unknown optimizer 'adma'. Did you mean 'adam'? ...``.

    Example:
        >>> print(unknown_name("optimizer", "adma", ["sgd", "adam"]))
        unknown optimizer 'adma'. Did you mean 'adam'? Known optimizers: adam, sgd.
    """
    known = sorted(set(known))
    hint = did_you_mean(name, known)
    return f"unknown {kind} {name!r}.{hint} Known {plural or kind + 's'}: {', '.join(known)}."


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` with the closest names (``difflib``), or ``""`` when none is close.

    Example:
        >>> did_you_mean("Survivd", ["Age", "Survived"])
        " Did you mean 'Survived'?"
    """
    known = list(known)
    lower = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(lower), n=3, cutoff=0.6)
    return f" Did you mean {' or '.join(repr(lower[c]) for c in close)}?" if close else ""


def note(message: str, *, quiet: bool = False) -> None:
    """Writes a message for the user to stderr (results go to stdout), unless ``quiet``."""
    if not quiet:
        click.echo(message, err=True)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table: columns padded to their widest cell, numbers right-aligned.

    Example:
        >>> print(format_table(["run", "epochs"], [["a", 3], ["bb", 40]]))
        run  epochs
        ---  ------
        a         3
        bb       40
    """
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [bool(rows) and all(_is_number(r[i]) for r in rows) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(row, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    rule = ["-" * w for w in widths]
    return "\n".join([line(cells[0]), line(rule), *(line(r) for r in cells[1:])])


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "-" if value is None else str(value)


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def scores(result: dict[str, Any], samples: int) -> dict[str, Any]:
    """The scalar metrics of :func:`jaxnn.evaluate`'s result and the ``samples`` they cover.

    Per-class metrics (arrays) are left out: ``test.json`` and ``jaxnn evaluate`` print one
    number per name.

    Example:
        >>> scores({"loss": 0.5, "recall": [0.9, 0.1]}, 8)
        {'loss': 0.5, 'samples': 8}
    """
    return {**{k: v for k, v in result.items() if np.ndim(v) == 0}, "samples": samples}


def list_files(paths: Iterable[Path]) -> str:
    """The lines that end a command's output: each file it wrote, one per line.

    Example:
        >>> print(list_files([Path("runs/a/config.toml"), Path("runs/a/model.jaxnn")]))
        files written:
          runs/a/config.toml
          runs/a/model.jaxnn
    """
    lines = [f"  {path}" for path in paths]
    return "\n".join(["files written:", *lines]) if lines else "no files written"


DEBUG_KEY = "jaxnn.debug"


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    del param
    if value:
        ctx.meta[DEBUG_KEY] = True
    return value


debug_option = click.option(
    "--debug",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_set_debug,
    help="Show the full traceback of an error.",
)


UNSAFE_KEY = "jaxnn.unsafe"


def _set_unsafe(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    del param
    if value:
        ctx.meta[UNSAFE_KEY] = True
    return value


unsafe_option = click.option(
    "--unsafe",
    is_flag=True,
    expose_value=False,
    callback=_set_unsafe,
    help="Trust the model file: let it name any importable function (it may run code).",
)


def load_saved(path: Path) -> Any:
    """:func:`jaxnn.load_model` for a command: safe unless ``--unsafe`` was given (warned).

    Raises:
        UserError: For a file that safe loading refuses or that is damaged (the library's
            message, which names the file, the entry and the way to trust it).
    """
    from jaxnn.models import load_model

    ctx = click.get_current_context(silent=True)
    unsafe = bool(ctx is not None and ctx.meta.get(UNSAFE_KEY))
    if unsafe:
        note(
            f"warning: --unsafe: loading {str(path)!r} may import and run any code it names; "
            f"use it only for a file you trust."
        )
    try:
        return load_model(path, safe_mode=not unsafe)
    except ValueError as error:
        message = str(error).replace("safe_mode=False (the command: --unsafe)", "--unsafe")
        raise UserError(message) from None
