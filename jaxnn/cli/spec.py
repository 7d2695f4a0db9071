"""The model spec of ``jaxnn train --model``: :mod:`jaxnn.models.spec`, where the language lives.

It sits below the command (in :mod:`jaxnn.models`) because :func:`jaxnn.search` takes spec
strings too, and the library imports nothing of :mod:`jaxnn.cli`.
"""

from jaxnn.models.spec import (
    LAYERS,
    LayerSpec,
    SpecError,
    build,
    known_names,
    parse,
)

__all__ = ["LAYERS", "LayerSpec", "SpecError", "build", "known_names", "parse"]
