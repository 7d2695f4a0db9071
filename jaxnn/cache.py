"""JAX's persistent compilation cache, for the command line and the demo (and users who ask).

Compiling a training epoch takes a second or more on a CPU; the compiled program depends only on
the model, the shapes and the options, so a second run of the same job can load it from disk.
JAX keeps such a cache when ``jax_compilation_cache_dir`` is set. The library never sets it on
import (a global setting belongs to the user); :func:`enable_compilation_cache` is the one call
that does, and ``python -m jaxnn.demo`` and the ``jaxnn`` command make it for you, unless the
environment says otherwise.

Environment:
    ``JAXNN_COMPILATION_CACHE``: unset, ``1`` or ``on`` for the default folder; ``0``, ``off``
    or ``no`` to leave the cache off; any other value is the folder to use.
    ``XDG_CACHE_HOME``: the default folder is ``$XDG_CACHE_HOME/jaxnn/xla`` (else
    ``~/.cache/jaxnn/xla``).
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

__all__ = ["cache_from_environment", "default_cache_dir", "enable_compilation_cache"]

_OFF = {"0", "off", "no", "false"}
_ON = {"", "1", "on", "yes", "true"}


def default_cache_dir() -> Path:
    """The default cache folder: ``$XDG_CACHE_HOME/jaxnn/xla`` or ``~/.cache/jaxnn/xla``.

    Example:
        >>> default_cache_dir().parts[-2:]
        ('jaxnn', 'xla')
    """
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jaxnn" / "xla"


def enable_compilation_cache(directory: str | os.PathLike | None = None) -> Path:
    """Turns on JAX's persistent compilation cache in ``directory`` for this process.

    Every compiled program is stored (JAX's default keeps only those that took over a second),
    so a later run of the same model, shapes and options loads it instead of compiling. This
    changes JAX's global configuration; call it once, at the start of a program.

    Args:
        directory: The cache folder (created if missing); default :func:`default_cache_dir`.

    Returns:
        The folder in use.

    Raises:
        OSError: If the folder cannot be created; the message names it.

    Example:
        >>> import tempfile
        >>> folder = enable_compilation_cache(tempfile.mkdtemp())
        >>> jax.config.jax_compilation_cache_dir == str(folder)
        True
        >>> jax.config.update("jax_compilation_cache_dir", None)  # off again
    """
    path = Path(directory) if directory is not None else default_cache_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(
            f"enable_compilation_cache: cannot create the cache folder {str(path)!r}: "
            f"{error.strerror or error}."
        ) from error
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path


def cache_from_environment(*, disabled: bool = False) -> Path | None:
    """What the demo and the command do: the cache per ``JAXNN_COMPILATION_CACHE``.

    Args:
        disabled: ``True`` when the user asked for no cache on the command line.

    Returns:
        The folder in use, or ``None`` when the cache stays off (or cannot be created: a cache
        is an optimisation, so a read-only home never stops a run).

    Example:
        >>> import os
        >>> os.environ["JAXNN_COMPILATION_CACHE"] = "off"
        >>> cache_from_environment() is None
        True
        >>> del os.environ["JAXNN_COMPILATION_CACHE"]
    """
    setting = os.environ.get("JAXNN_COMPILATION_CACHE", "").strip()
    if disabled or setting.lower() in _OFF:
        return None
    try:
        return enable_compilation_cache(None if setting.lower() in _ON else setting)
    except OSError:
        return None
