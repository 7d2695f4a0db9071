"""``jaxnn search``: options in; :func:`jaxnn.search`; a results table, plots and the best run out.

The folder ``--out`` receives ``results.csv`` (one row per configuration, columns
``<metric>_mean`` and ``<metric>_std`` over the seeds), ``results.md``, ``results.png`` (each
metric against each hyperparameter), ``width_depth.png`` when a spec varies ``{width}`` and
``{depth}``, and ``best/``: the best configuration's best seed as a run directory of
``jaxnn train`` (``config.toml``, ``history.csv``, ``model.jaxnn``, ``test.json``, plots).
Nothing is written before the search has finished.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import click

from jaxnn import optimizers
from jaxnn.callbacks import EarlyStopping
from jaxnn.cli.common import UserError, debug_option, list_files, note
from jaxnn.cli.datasets import dataset_names, defaults, load_dataset, short_name
from jaxnn.cli.models import adapt_targets, check_names, default_loss, output_shape
from jaxnn.cli.plot import draw_plots, viz_module
from jaxnn.cli.resume import write_history
from jaxnn.cli.rundir import prepare, write_config
from jaxnn.cli.train import _metrics, _Plan, _test
from jaxnn.models import save_model
from jaxnn.search import SearchResult, search
from jaxnn.search.space import configurations, template

__all__ = ["RESULT_FILES", "search_command"]

RESULT_FILES = ("results.csv", "results.md", "results.png", "width_depth.png")


def _list(kind: type) -> Any:
    """A click callback: ``"0.001,0.01"`` as ``[0.001, 0.01]`` of ``kind``."""

    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
        del ctx
        if value is None:
            return None
        items = [v.strip() for v in value.split(",")]
        if not all(items):
            raise click.BadParameter(f"{value!r} holds an empty value.", param=param)
        try:
            return [kind(v) for v in items]
        except ValueError:
            raise click.BadParameter(
                f"{value!r} must be comma-separated {kind.__name__} values.", param=param
            ) from None

    return convert


def _existing(folder: Path) -> list[Path]:
    found = [folder / n for n in RESULT_FILES if (folder / n).is_file()]
    return found + ([folder / "best"] if (folder / "best").exists() else [])


def _prepare(folder: Path, overwrite: bool) -> None:
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--out {str(folder)!r} is a file, not a folder.")
    old = _existing(folder)
    if old and not overwrite:
        names = ", ".join(p.name for p in old)
        raise UserError(
            f"{str(folder)!r} already holds search results ({names}). Pass --overwrite to "
            f"replace them, or choose another --out."
        )


def _grid(given: dict[str, Any], base: dict[str, Any]) -> tuple[dict[str, list], dict[str, Any]]:
    """The grid from the list options, and the fit arguments fixed for every configuration."""
    grid: dict[str, list] = {}
    fixed: dict[str, Any] = {}
    for option, key in (
        ("learning_rate", "learning_rate"),
        ("batch_size", "batch_size"),
        ("optimizer", "optimizer"),
        ("l2", "l2"),
    ):
        values = given[option]
        if values is not None and len(values) > 1:
            grid[key] = values
        elif values is not None:
            fixed[key] = values[0]
    fixed.setdefault("optimizer", base["optimizer"])
    fixed.setdefault("batch_size", base["batch_size"])
    if "learning_rate" not in grid and "learning_rate" not in fixed:
        if fixed["optimizer"] == base["optimizer"] and "optimizer" not in grid:
            fixed["learning_rate"] = base.get("learning_rate")
    if "l2" in fixed:  # one rate: still a grid key (fit has no l2 argument)
        grid["l2"] = [fixed.pop("l2")]
    return grid, fixed


def _first_model(spec: str, grid: dict[str, list]) -> Any:
    tpl = template(spec, where="--model")
    values = {**tpl.sets, **{k: v for k, v in grid.items() if k in tpl.names}}
    if any(n not in values for n in tpl.required):
        return None  # search reports the missing placeholder
    return tpl.build(configurations({k: values[k] for k in tpl.names})[0])


def _write_best(
    folder: Path, result: SearchResult, dataset: Any, options: dict[str, Any], loss: Any,
    spec: str, quiet: bool, plots: bool,
) -> list[Path]:  # fmt: skip
    """``best/`` as a run directory of ``jaxnn train``."""
    best = result.best
    if best is None or best.train_state is None or best.model is None:
        return []
    prepare(folder, overwrite=True)
    tpl = template(spec)
    run_options = {
        **options,
        **{k: v for k, v in best.config.items() if k not in tpl.names and k != "l2"},
        "model": tpl.describe({k: best.config[k] for k in tpl.names}),
        "seed": best.seed,
    }
    written = [write_config(folder / "config.toml", run_options)]
    write_history(folder / "history.csv", best.history)
    written.append(folder / "history.csv")
    written.append(save_model(folder / "model.jaxnn", best.model, best.train_state))
    out_shape, params = output_shape(best.model, dataset.input_shape)
    plan = _Plan(run_options, dataset, best.model, loss, run_options["optimizer"], out_shape,
                 params)  # fmt: skip
    written += _test(plan, best.train_state, folder)[1]
    if plots:
        written += draw_plots(folder, best.model, best.train_state, dataset, loss=loss, quiet=quiet)
    return written


def _write_plots(folder: Path, result: SearchResult) -> list[Path]:
    viz = viz_module()
    written = [viz.save_figure(result.plot(), folder / "results.png")]
    if {"width", "depth"} <= set(result.varying()):
        fig = result.plot_heatmap("width", "depth")
        written.append(viz.save_figure(fig, folder / "width_depth.png"))
    return written


@click.command("search")
@click.option(
    "--data",
    required=True,
    metavar="NAME|FILE",
    help=f"A data set ({', '.join(dataset_names())}), a .csv (with --target) or .npz.",
)
@click.option("--data-dir", type=click.Path(file_okay=False), help="For mnist: the IDX folder.")
@click.option("--target", metavar="COLUMN", help="For a CSV: the column to predict.")
@click.option(
    "--model",
    metavar="SPEC",
    help="Layers with value sets and placeholders, e.g. 'dense({32,64},relu) dense(10)' "
    "or '[dense({width},relu)]*{depth} dense(10)' (with --width, --depth). Default: the "
    "data set's model.",
)
@click.option("--width", callback=_list(int), metavar="LIST", help="Values of {width}, e.g. 16,64.")
@click.option("--depth", callback=_list(int), metavar="LIST", help="Values of {depth}, e.g. 1,2,3.")
@click.option("--loss", metavar="NAME", help="Default: from the data, as jaxnn train.")
@click.option(
    "--optimizer",
    callback=_list(str),
    metavar="LIST",
    help=f"One or more of {', '.join(optimizers.names())} (default adam).",
)
@click.option(
    "--learning-rate",
    callback=_list(float),
    metavar="LIST",
    help="One or more rates, e.g. 0.001,0.01 (trained together, vectorised).",
)
@click.option("--batch-size", callback=_list(int), metavar="LIST", help="One or more sizes.")
@click.option(
    "--l2",
    callback=_list(float),
    metavar="LIST",
    help="L2 rates of every kernel, e.g. 0,0.0001 (trained together, vectorised).",
)
@click.option("--epochs", type=click.IntRange(1), help="Default: per data set.")
@click.option(
    "--validation-split",
    type=click.FloatRange(0.0, 1.0, max_open=True),
    help="Held out for validation and ranking (default 0.1; 0: rank by training loss).",
)
@click.option(
    "--test-split",
    type=click.FloatRange(0.0, 1.0, max_open=True),
    default=0.2,
    show_default=True,
    help="Held out as the test set of best/.",
)
@click.option(
    "--early-stopping",
    type=click.IntRange(0),
    metavar="PATIENCE",
    help="Stop each model when its validation loss has not improved for PATIENCE "
    "epochs; keep its best weights.",
)
@click.option(
    "--seeds",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Seeds per configuration (0 .. N-1): rows give mean and std over them.",
)
@click.option(
    "--sampler",
    type=click.Choice(["grid", "random", "tpe"]),
    default="grid",
    show_default=True,
    help="random and tpe sample --trials configurations (Optuna).",
)
@click.option("--trials", type=click.IntRange(1), help="Configurations Optuna tries.")
@click.option(
    "--storage",
    metavar="URL",
    help="Optuna storage, e.g. sqlite:///DIR/study.db: a rerun resumes the study.",
)
@click.option("--monitor", metavar="NAME", help="The value that ranks (default val_loss).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="The results folder (default runs/search-<data>-<timestamp>).",
)
@click.option("--overwrite", is_flag=True, help="Replace the results already in --out.")
@click.option("--no-plots", is_flag=True, help="Draw no plots (they need matplotlib).")
@click.option("--quiet", "-q", is_flag=True, help="No progress or notes on stderr.")
@debug_option
def search_command(**given: Any) -> None:  # fmt: skip
    """Train a grid of hyperparameters over several seeds and rank the models.

    Example: jaxnn search --data digits --model "dense({32,64},relu) dense(10)"
    --learning-rate 0.001,0.01 --seeds 3 --epochs 20 --out runs/search
    """
    quiet = given["quiet"]
    dataset = load_dataset(
        given["data"], data_dir=given["data_dir"], target=given["target"],
        test_split=given["test_split"], seed=0,
    )  # fmt: skip
    base = defaults(dataset)
    spec = given["model"] or base["model"]
    grid, fixed = _grid(given, base)
    placeholders = {k: given[k] for k in ("width", "depth") if given[k] is not None}
    grid = {**placeholders, **grid}  # the model's columns first
    first = _first_model(spec, grid)
    loss = given["loss"]
    if loss is None and first is not None:
        loss = default_loss(output_shape(first, dataset.input_shape)[0], dataset)
    loss, _ = check_names(loss or "softmax_cross_entropy", fixed["optimizer"])
    split = (
        base["validation_split"] if given["validation_split"] is None else given["validation_split"]
    )
    epochs = given["epochs"] or base["epochs"]
    callbacks = []
    if given["early_stopping"] is not None:
        monitor = "val_loss" if split else "loss"
        callbacks.append(EarlyStopping(monitor, patience=given["early_stopping"],
                                       restore_best_weights=True))  # fmt: skip
    folder = given["out"] or Path("runs") / (
        f"search-{short_name(given['data'])}-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    )
    _prepare(folder, given["overwrite"])
    result = search(
        spec, (dataset.x_train, adapt_targets(dataset.y_train, loss)), grid=grid,
        seeds=given["seeds"], sampler=given["sampler"], trials=given["trials"],
        storage=given["storage"], monitor=given["monitor"], verbose=0 if quiet else 1,
        loss=loss, metrics=_metrics(dataset), epochs=epochs, validation_split=split or None,
        callbacks=callbacks, **fixed,
    )  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    result.to_csv(folder / "results.csv")
    result.to_markdown(folder / "results.md")
    written = [folder / "results.csv", folder / "results.md"]
    plots = not given["no_plots"]
    if plots:
        try:
            written += _write_plots(folder, result)
        except ImportError as error:
            note(f"plots skipped: {error}", quiet=quiet)
            plots = False
    options = {
        "data": given["data"], "data_dir": given["data_dir"], "target": given["target"],
        "test_split": given["test_split"], "loss": loss, "epochs": epochs,
        "validation_split": split, "early_stopping": given["early_stopping"], **fixed,
    }  # fmt: skip
    written += _write_best(folder / "best", result, dataset, options, loss, spec, quiet, plots)
    click.echo(result.to_markdown())
    if result.best is not None:
        click.echo(f"best: {result.best.config} (seed {result.best.seed}) by {result.monitor}")
    click.echo(list_files(written))
