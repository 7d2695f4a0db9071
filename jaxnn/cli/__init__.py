"""The ``jaxnn`` command line: train, evaluate, predict, summary, plot, runs and devices.

``cli`` is the Click group (for mkdocs-click and ``click.testing``); ``main`` is the console
script's entry point.
"""

from jaxnn.cli.app import cli, main

__all__ = ["cli", "main"]
