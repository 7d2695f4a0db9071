"""``search``: the public entry point, a grid or an Optuna sampler over the configurations."""

from __future__ import annotations

from typing import Any

from jaxnn.search import space
from jaxnn.search.driver import plan, train_configs
from jaxnn.search.result import SearchResult
from jaxnn.search.sampling import optuna_search

__all__ = ["search"]

_SAMPLERS = ("grid", "random", "tpe")


def search(
    model: Any,
    data: Any,
    *,
    grid: Any = None,
    seeds: Any = 1,
    sampler: str = "grid",
    trials: int | None = None,
    storage: str | None = None,
    pruner: Any = None,
    monitor: str | None = None,
    max_memory: int | None = None,
    verbose: int = 1,
    **fit_kwargs: Any,
) -> SearchResult:
    r"""Trains a model for every configuration of a grid and several seeds; ranks them.

    Configurations that share an architecture (and the optimizer, batch size, epochs ...)
    and differ only in the seed, the learning rate, the ``l1``/``l2`` rates or the rates of
    their :func:`~jaxnn.layers.Dropout` layers train together: their TrainStates are stacked
    and ``jax.vmap`` maps ``fit``'s compiled epochs over them, one compilation per
    architecture (models that differ only in dropout rates are one architecture, rebuilt from
    their config with each member's rate, :mod:`jaxnn.search.dropout`; a model without a config
    trains one group per rate). Each model gets what a separate
    ``fit(model, data, seed=seed, ...)`` call gives (its parameters and history, to float
    precision), early stopping included (each model stops on its own). The memory a group
    needs is read from the compiled program first; a group too large for the device runs in
    several calls.

    For each configuration the result has every logged value's mean and standard deviation
    over the seeds, taken at the last epoch (the best one when early stopping restores the
    best weights):

    .. math:: \bar m = \frac{1}{S}\sum_{s} m_s, \quad
        \sigma_m = \sqrt{\frac{1}{S}\sum_s (m_s - \bar m)^2}

    Args:
        model: A :class:`~jaxnn.Layer`; a model spec whose value sets ``{a,b}`` and
            placeholders ``{name}`` are hyperparameters (``"dense({32,64},relu) dense(10)"``,
            ``"[dense({width},relu)]*{depth} dense(10)"``, see :mod:`jaxnn.search.space`); or a
            function of hyperparameters returning a Layer.
        data: ``(x, y)`` or ``(x, y, sample_weight)``, as for :func:`jaxnn.fit`.
        grid: A dict from names to lists of values: ``fit`` arguments (``learning_rate``,
            ``batch_size``, ``optimizer``, ``epochs`` ...), ``l1``/``l2`` (kernel penalty
            rates) and the model's placeholders or parameters (a dropout rate is one of these:
            ``dropout({0.1,0.3})`` in a spec is ``drop_rate``). Every combination is one
            configuration (default: none, one configuration).
        seeds: How many seeds (``0 .. N-1``, default 1) or a list of seeds.
        sampler: ``"grid"`` (every combination, default), or with Optuna (``pip install
            'jaxnn[search]'``) ``"random"`` or ``"tpe"``, which try ``trials`` combinations and
            prune poor ones from their epoch metrics.
        trials: How many configurations Optuna tries (its samplers only).
        storage: An Optuna storage such as ``"sqlite:///DIR/study.db"``: the study is kept
            there, and a search with the same storage resumes it.
        pruner: An Optuna pruner (default ``MedianPruner(n_warmup_steps=1)``): after every
            epoch each trial reports its monitored value, averaged over its seeds.
        monitor: The logged value that ranks configurations (default ``val_loss`` with
            validation data, else ``loss``); accuracy-like names are maximised.
        max_memory: Bytes one compiled call may use (default: 80% of the device's free
            memory; on the CPU half the free host memory).
        verbose: 1 (default) a progress bar over configurations on stderr, 0 silent.
        **fit_kwargs: The other arguments of :func:`jaxnn.fit`, the same for every
            configuration: ``loss`` (required), ``metrics``, ``epochs``, ``validation_split``,
            ``callbacks`` (one :class:`~jaxnn.callbacks.EarlyStopping`) ...

    Returns:
        A :class:`~jaxnn.search.SearchResult`.

    Raises:
        ValueError: For a value the model refuses (a dropout rate outside ``[0, 1)``, named
            with its value, before anything trains), an empty grid list or value set, a grid
            key that is neither a fit argument nor a placeholder of the model (named, with the
            close ones), a placeholder without values, a fit argument a search does not take
            (``seed``, ``initial_state`` ...), an unknown sampler or monitor, ``trials``
            without a sampler that uses it; what ``fit`` refuses in the data.
        TypeError: For an unknown fit argument, a missing ``loss``, or callbacks other than
            EarlyStopping.
        ImportError: For ``sampler="random"`` or ``"tpe"`` without Optuna.

    Example:
        >>> import numpy as np, jaxnn
        >>> x = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
        >>> y = (x[:, 0] > 0).astype("int32")
        >>> result = jaxnn.search("dense({4,8},tanh) dense(2)", (x, y), seeds=2,
        ...                       grid={"learning_rate": [0.01, 0.1]}, epochs=3,
        ...                       loss="softmax_cross_entropy", metrics=["accuracy"], verbose=0)
        >>> len(result.rows), result.groups, sorted(result.rows[0])[:4]
        (4, 2, ['accuracy_mean', 'accuracy_std', 'epochs', 'learning_rate'])
    """
    where = "search"
    if sampler not in _SAMPLERS:
        raise ValueError(
            f"{where}: unknown sampler {sampler!r}; known samplers: {', '.join(_SAMPLERS)}."
        )
    if sampler == "grid" and (trials is not None or storage is not None or pruner is not None):
        raise ValueError(
            f"{where}: trials=, storage= and pruner= belong to the Optuna samplers; give "
            f"sampler='random' or 'tpe' with them."
        )
    p = plan(
        model, data, grid=grid, seeds=seeds, monitor=monitor, max_memory=max_memory,
        verbose=verbose, fit_kwargs=fit_kwargs, where=where,
    )  # fmt: skip
    keys = list(p.values)
    if sampler != "grid":
        outcome = optuna_search(p, sampler=sampler, trials=trials, storage=storage, pruner=pruner)
    else:
        outcome = train_configs(p, space.configurations(p.values))
    return SearchResult(
        outcome.rows,
        outcome.runs,
        outcome.best,
        keys,
        p.monitor,
        p.mode,
        outcome.groups,
        outcome.sizes,
    )
