"""Data sets by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jaxnn.core import lookup
from jaxnn.data.idx import fashion_mnist, mnist
from jaxnn.data.real import digits
from jaxnn.data.synthetic import GENERATORS

__all__ = ["load", "names"]

_BY_NAME: dict[str, Callable[..., Any]] = {
    **GENERATORS,
    "digits": digits,
    "mnist": mnist,
    "fashion_mnist": fashion_mnist,
}


def names() -> list[str]:
    """All data set names :func:`load` knows, sorted.

    Example:
        >>> names()[:3]
        ['blobs', 'circle', 'digits']
    """
    return sorted(_BY_NAME)


def load(name: str, **options: Any) -> Any:
    """Loads a data set by name, passing ``options`` to its function.

    Raises:
        ValueError: For an unknown name; the message lists the known names.

    Example:
        >>> x, y = load("spiral", n=100, noise=0.1)
        >>> x.shape
        (100, 2)
    """
    return lookup(_BY_NAME, name, kind="data set", example="circle", alternative="a function")(
        **options
    )
