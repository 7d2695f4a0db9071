"""The ``jaxnn`` command: a Click group with one subcommand per module of :mod:`jaxnn.cli`."""

from __future__ import annotations

import os
import traceback
import warnings
from collections.abc import MutableMapping, Sequence
from typing import Any, TextIO

import click

from jaxnn.cache import cache_from_environment
from jaxnn.cli.bench import bench
from jaxnn.cli.common import DEBUG_KEY, USER_ERRORS, UserError, debug_option
from jaxnn.cli.devices import devices
from jaxnn.cli.evaluate import evaluate
from jaxnn.cli.playground import playground
from jaxnn.cli.plot import plot
from jaxnn.cli.predict import predict
from jaxnn.cli.runs import runs
from jaxnn.cli.search import search_command
from jaxnn.cli.summary import summary
from jaxnn.cli.train import train
from jaxnn.layers.conv import CPU_CONV_FLAG

__all__ = ["JAXNN_SET_XLA_FLAGS", "cli", "main", "own_process_flags"]

# Set in the environment when the command chose XLA_FLAGS itself (``jaxnn devices`` says so).
JAXNN_SET_XLA_FLAGS = "JAXNN_SET_XLA_FLAGS"


def own_process_flags(environ: MutableMapping[str, str]) -> bool:
    """Sets the command's XLA flags in ``environ`` unless the user set ``XLA_FLAGS``.

    The command owns its process, so it turns YNNPACK's CPU convolutions off
    (:data:`jaxnn.layers.conv.CPU_CONV_FLAG`), the route measured fastest for the small CNN on
    the CPU (``docs/benchmarks.md``); a library user sets the flag themselves. It must run
    before JAX starts its backends, as :func:`main` does.

    Returns:
        Whether the flags were set (``False`` when ``XLA_FLAGS`` was already there).

    Example:
        >>> env = {}
        >>> own_process_flags(env), env["XLA_FLAGS"] == CPU_CONV_FLAG
        (True, True)
        >>> own_process_flags({"XLA_FLAGS": "--xla_dump_to=/tmp/x"})
        False
    """
    if "XLA_FLAGS" in environ:
        return False
    environ["XLA_FLAGS"] = CPU_CONV_FLAG
    environ[JAXNN_SET_XLA_FLAGS] = "1"
    return True


class _Group(click.Group):
    """A group that reports the library's errors for a user's mistake without a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        """Runs the subcommand; ValueError, TypeError, OSError, ImportError become messages."""
        try:
            return super().invoke(ctx)
        except click.ClickException as error:
            if ctx.meta.get(DEBUG_KEY) and error.__cause__ is not None:
                traceback.print_exception(error.__cause__)
            raise
        except USER_ERRORS as error:
            if ctx.meta.get(DEBUG_KEY):
                raise
            raise UserError(str(error) or type(error).__name__) from error


@click.group(
    cls=_Group,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="jaxnn", prog_name="jaxnn")
@click.option(
    "--no-compilation-cache",
    is_flag=True,
    help="Compile afresh instead of using JAX's compilation cache (also: "
    "JAXNN_COMPILATION_CACHE=off; a folder there moves the cache).",
)
@debug_option
def cli(no_compilation_cache: bool) -> None:
    """Train, evaluate and inspect neural networks on JAX from the command line.

    Example: jaxnn train --data digits --out runs/demo

    Shell completion: add eval "$(_JAXNN_COMPLETE=bash_source jaxnn)" to ~/.bashrc
    (zsh_source for zsh, fish_source for fish). A mistake is reported without a traceback;
    --debug (before or after the subcommand) shows it.
    """
    cache_from_environment(disabled=no_compilation_cache)


for _command in (train, evaluate, predict, summary, plot, runs, devices, bench, playground):
    cli.add_command(_command)
cli.add_command(search_command)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Shows a warning as one line, ``warning: ...``, without the file and line of the code."""
    del category, filename, lineno, file, line
    click.echo(f"warning: {message}", err=True)


def main(argv: Sequence[str] | None = None) -> None:
    """The entry point of the ``jaxnn`` console script and ``python -m jaxnn``.

    Exits with 0 on success, 1 for a mistake in the input (reported in one message on stderr,
    no traceback unless ``--debug``), 2 for a command line Click cannot parse.

    Args:
        argv: The arguments (default: ``sys.argv[1:]``).
    """
    own_process_flags(os.environ)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        cli.main(args=list(argv) if argv is not None else None, prog_name="jaxnn")
