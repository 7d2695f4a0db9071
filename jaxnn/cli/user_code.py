"""The user's own code that a command line names: a module or a ``.py`` file, and a function in it.

``jaxnn train --data grain:MODULE:FUNCTION`` imports and calls code of the user's. That is the
point, as with ``--model FILE.py``: the user named it on their own command line, and a command
line can run anything anyway. What this module adds is messages: a module that is not there,
a function that is missing (the module's functions listed) or not one, and code that fails,
with the file and line where it failed.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from jaxnn.cli.common import UserError, did_you_mean

__all__ = ["call", "error_place", "get_function", "import_module", "importable_here"]


@contextlib.contextmanager
def importable_here() -> Iterator[None]:
    """The current folder on ``sys.path`` (as ``python -m`` has it), for the user's imports."""
    folder = os.getcwd()
    added = folder not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        yield
    finally:
        if added and folder in sys.path:
            sys.path.remove(folder)


def error_place(error: BaseException) -> str:
    """`` (FILE, line N)`` of where the user's code failed, or ``""``.

    Example:
        >>> error_place(SyntaxError("bad", ("pipe.py", 3, 1, "x = (")))
        ' (pipe.py, line 3)'
    """
    if isinstance(error, SyntaxError) and error.filename and error.lineno:
        return f" ({error.filename}, line {error.lineno})"
    ours = str(Path(__file__).resolve().parents[1])  # jaxnn's own frames say nothing to the user
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if not f.filename.startswith((ours, "<"))
    ]
    return f" ({frames[-1].filename}, line {frames[-1].lineno})" if frames else ""


def _run_file(path: Path, where: str) -> ModuleType:
    """The file at ``path`` run as a module (registered in ``sys.modules`` under its stem)."""
    if not path.is_file():
        raise UserError(f"{where}: no file {str(path)!r}.")
    spec = importlib.util.spec_from_file_location(f"jaxnn_user_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    found = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = found  # so that dataclasses and pickling find it
    try:
        spec.loader.exec_module(found)
    except Exception as error:  # the user's code may raise anything: report where
        sys.modules.pop(spec.name, None)
        raise UserError(
            f"{where}: running {str(path)!r} failed{error_place(error)}: "
            f"{type(error).__name__}: {error}"
        ) from error
    return found


def import_module(module: str, *, where: str, instead: str) -> ModuleType:
    """A dotted module imported, or a ``.py`` file run as a module.

    Args:
        module: A dotted name (``pkg.pipeline``) or a path ending in ``.py``.
        where: The option and value, for messages (``--data 'grain:pipe:make'``).
        instead: What to give instead when no such module can be imported.

    Raises:
        UserError: For a file or module that is not there, or code that fails (the place named).
    """
    if module.lower().endswith(".py"):
        return _run_file(Path(module).expanduser(), where)
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is not None and (module + ".").startswith(error.name + "."):
            raise UserError(
                f"{where}: no module {module!r} to import from the current folder "
                f"({os.getcwd()}) or PYTHONPATH; {instead}."
            ) from error
        raise UserError(
            f"{where}: importing {module!r} failed{error_place(error)}: {error}"
        ) from error
    except Exception as error:  # the user's code may raise anything: report where
        raise UserError(
            f"{where}: importing {module!r} failed{error_place(error)}: "
            f"{type(error).__name__}: {error}"
        ) from error


def get_function(module: ModuleType, function: str, *, where: str, label: str, role: str) -> Any:
    """The function ``function`` of ``module``, checked to be one.

    Args:
        module: The module.
        function: The function's name.
        where: The option and value, for messages.
        label: The module as the user wrote it.
        role: What the function does, for the message when it is not one.

    Raises:
        UserError: For a missing name (the module's functions listed) or one that is not callable.
    """
    missing = object()
    value = getattr(module, function, missing)
    if value is missing:
        defined = sorted(
            n
            for n, v in vars(module).items()
            if callable(v)
            and not n.startswith("_")
            and getattr(v, "__module__", "") == module.__name__
        )
        raise UserError(
            f"{where}: {label!r} has no function {function!r}."
            f"{did_you_mean(function, defined)} It defines: {', '.join(defined) or 'none'}."
        )
    if not callable(value):
        raise UserError(
            f"{where}: {function} in {label!r} is of type {type(value).__name__}, not a "
            f"function; name a function that {role}."
        )
    return value


def call(function: Any, *, where: str, name: str) -> Any:
    """``function()``; what it raises becomes one message with the place.

    Raises:
        UserError: Naming the exception, the file and line, and the message.
    """
    try:
        return function()
    except Exception as error:  # the user's code may raise anything: report where
        raise UserError(
            f"{where}: {name}() (called with no arguments) raised "
            f"{type(error).__name__}{error_place(error)}: {error}"
        ) from error
