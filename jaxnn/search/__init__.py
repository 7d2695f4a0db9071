"""Many models at once: grid and Optuna searches over hyperparameters and seeds.

:func:`search` trains every configuration of a grid over several seeds. Models that share an
architecture train together in one compiled call (``jax.vmap`` over their stacked TrainStates),
each with the results a separate :func:`jaxnn.fit` call would give. :class:`SearchResult` holds
one row per configuration (each metric's mean and spread over the seeds), every run and the
best model, and writes them as CSV, Markdown and plots.
"""

from jaxnn.search.api import search
from jaxnn.search.result import Best, Run, SearchResult

__all__ = ["Best", "Run", "SearchResult", "search"]
