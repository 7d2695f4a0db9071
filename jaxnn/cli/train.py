"""``jaxnn train``: options in; :func:`jaxnn.fit` and :func:`jaxnn.save_model`; a run folder out."""

from __future__ import annotations

import math
import sys
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import click
import jax
import numpy as np

from jaxnn import callbacks as callbacks_lib
from jaxnn import losses, optimizers
from jaxnn.cli.common import UserError, debug_option, list_files, note, scores
from jaxnn.cli.datasets import (
    PREPROCESSING_FILE,
    Dataset,
    dataset_names,
    defaults,
    load_dataset,
)
from jaxnn.cli.models import (
    adapt_targets,
    check_names,
    check_output,
    default_loss,
    load_source,
    output_shape,
)
from jaxnn.cli.plot import draw_plots
from jaxnn.cli.resume import (
    Resume,
    RunCheckpoint,
    is_unfinished,
    read_resume,
    remove_checkpoint,
    write_history,
)
from jaxnn.cli.rundir import CONFIG_KEYS, default_out, prepare, read_config, write_config
from jaxnn.cli.rundir import write_json as write_json_file
from jaxnn.core import Layer
from jaxnn.models import save_model
from jaxnn.precision import POLICIES
from jaxnn.train import TrainState, evaluate, fit
from jaxnn.train.grain_input import GRAIN_EXTRA

__all__ = ["device_name", "train"]


def _complete_data(ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
    del ctx, param
    from click.shell_completion import CompletionItem

    names = [CompletionItem(n) for n in dataset_names() if n.startswith(incomplete)]
    return [*names, CompletionItem(incomplete, type="file")]


def _completer(known: list[str]) -> Any:
    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
        del ctx, param
        return [n for n in known if n.startswith(incomplete.lower())]

    return complete


_FRACTION = click.FloatRange(0.0, 1.0, max_open=True)


def _finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    del ctx
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number.", param=param)
    return value


# The options of `jaxnn train`; each defaults to None so that a config file can fill it.
_OPTIONS = [
    click.option(
        "--data",
        metavar="NAME|FILE",
        shell_complete=_complete_data,
        help=f"A data set ({', '.join(dataset_names())}; - or _ alike), a .csv file (with "
        f"--target), an .npz file with arrays x and y (and optionally x_test, y_test), a "
        f"folder of x.npy and y.npy (optionally x_test.npy, y_test.npy; memory-mapped, so x "
        f"may be larger than memory), or grain:MODULE:FUNCTION (or grain:FILE.py:FUNCTION): "
        f"your function, imported from the current folder or PYTHONPATH and run (it is your "
        f"code) with no arguments, returns a Grain dataset of (x, y) batches, or a dict with "
        f"'train' and optionally 'validation', 'test' and 'num_classes' (needs "
        f"{GRAIN_EXTRA}).",
    ),
    click.option(
        "--data-dir",
        type=click.Path(file_okay=False),
        help="For mnist and fashion-mnist: the folder of the four IDX files (default: the "
        "cache, downloading what is missing).",
    ),
    click.option(
        "--target",
        metavar="COLUMN",
        help="For a CSV: the column to predict; text columns are one-hot encoded, numeric "
        "ones standardised.",
    ),
    click.option(
        "--drop",
        metavar="COLUMNS",
        help="For a CSV: columns to leave out, comma-separated (identifiers, names, free text).",
    ),
    click.option(
        "--categorical",
        metavar="COLUMNS",
        help="For a CSV: numeric columns to one-hot encode as categories, comma-separated "
        "(e.g. a passenger class 1, 2, 3).",
    ),
    click.option(
        "--model",
        metavar="SPEC|FILE.py",
        help="Layers such as 'dense(64,relu) dropout(0.2) dense(10)', or a Python file that "
        "defines `model` (and optionally `loss`, `optimizer`). Default: one per data set.",
    ),
    click.option(
        "--loss",
        metavar="NAME",
        shell_complete=_completer(losses.names()),
        help="Default: softmax_cross_entropy for classes (sigmoid_binary_cross_entropy with "
        "one output), mse for numeric targets.",
    ),
    click.option(
        "--optimizer",
        metavar="NAME",
        shell_complete=_completer(optimizers.names()),
        help=f"One of {', '.join(optimizers.names())} (default adam).",
    ),
    click.option(
        "--learning-rate",
        type=click.FloatRange(0.0, min_open=True),
        callback=_finite,
        help="Default: per data set, else the optimizer's own.",
    ),
    click.option("--epochs", type=click.IntRange(1), help="Default: per data set."),
    click.option(
        "--batch-size",
        type=click.IntRange(1),
        help="Default: 32 (for grain: data, the dataset's batches).",
    ),
    click.option(
        "--steps-per-epoch",
        type=click.IntRange(1),
        help="For grain: data: batches per epoch (default: one pass); an endless dataset "
        "(repeat()) needs it.",
    ),
    click.option(
        "--validation-split",
        type=_FRACTION,
        help="Fraction of the training samples held out for validation (default 0.1; 0: none).",
    ),
    click.option(
        "--test-split",
        type=_FRACTION,
        help="Fraction held out as the test set, evaluated at the end (default 0.2; 0: none; "
        "MNIST keeps its own).",
    ),
    click.option(
        "--early-stopping",
        type=click.IntRange(0),
        metavar="PATIENCE",
        help="Stop when the validation loss has not improved for PATIENCE epochs; keep the "
        "best weights.",
    ),
    click.option(
        "--seed", type=int, help="Seed of the split, the weights and the shuffle (default 0)."
    ),
    click.option(
        "--precision",
        type=click.Choice(list(POLICIES)),
        help="float32 (default), bfloat16, mixed_bfloat16 (float32 weights, bfloat16 compute) "
        "or mixed_float16 (with dynamic loss scaling); saved in the model file.",
    ),
    click.option(
        "--out",
        type=click.Path(path_type=Path),
        help="The run directory (default runs/<data>-<timestamp>).",
    ),
    click.option(
        "--overwrite",
        is_flag=True,
        help="Replace the files of a run already in --out (other files stay).",
    ),
    click.option(
        "--resume",
        type=click.Path(file_okay=False, path_type=Path),
        metavar="RUN",
        help="Continue the run in folder RUN that did not finish (it was killed, or the machine "
        "stopped) from its last finished epoch, with the options in its config.toml; the "
        "result equals an uninterrupted run. --epochs may raise its number of epochs.",
    ),
    click.option(
        "--config",
        "config_file",
        type=click.Path(exists=True, path_type=Path),
        help="A run's config.toml (or its folder): every option from it; options on the "
        "command line override.",
    ),
    click.option("--no-plots", is_flag=True, help="Draw no plots (they need matplotlib)."),
    click.option(
        "--no-tensorboard",
        is_flag=True,
        help="Write no TensorBoard events (they need tensorboardX).",
    ),
    click.option("--quiet", "-q", is_flag=True, help="No progress or notes on stderr."),
    debug_option,
]


def _options(command: Any) -> Any:
    """Applies :data:`_OPTIONS` to the command function."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


class _Plan(NamedTuple):
    """Everything a run needs, resolved before anything is written."""

    options: dict[str, Any]
    dataset: Dataset
    model: Layer
    loss: Any
    optimizer: Any
    out_shape: tuple[int, ...]
    params: int


def _from_config(ctx: click.Context, path: Path) -> dict[str, Any]:
    """A config file's options, each checked by its command-line option's type."""
    path = path / "config.toml" if path.is_dir() else path
    params = {p.name: p for p in ctx.command.params}
    options = {}
    for key, value in read_config(path).items():
        try:
            options[key] = params[key].type.convert(value, params[key], ctx)
        except click.BadParameter as error:
            raise UserError(f"{str(path)!r}: {key} = {value!r}: {error.message}") from None
    return options


def _resolve(ctx: click.Context, given: dict[str, Any]) -> dict[str, Any]:
    """Config file options, then the command line's on top, then the defaults of the data."""
    options = _from_config(ctx, given["config_file"]) if given["config_file"] else {}
    options.update({k: v for k, v in given.items() if k in CONFIG_KEYS and v is not None})
    if options.get("data") is None:
        raise UserError("give --data NAME (e.g. --data digits) or --config FILE.")
    options.setdefault("test_split", 0.2)
    options.setdefault("seed", 0)
    return options


def _plan(options: dict[str, Any]) -> _Plan:
    """Loads the data, builds the model and checks that the two fit, before any training."""
    dataset = load_dataset(
        options["data"],
        data_dir=options.get("data_dir"),
        target=options.get("target"),
        test_split=options["test_split"],
        seed=options["seed"],
        drop=options.get("drop"),
        categorical=options.get("categorical"),
        allow_grain=True,
    )
    if dataset.grain is not None:
        options["test_split"] = None  # the function's 'test' dataset is the test set
    base = _defaults(dataset, options)
    options["model"] = options.get("model") or base["model"]
    source = load_source(options["model"])
    out_shape, params = output_shape(source.model, dataset.input_shape)
    check_output(out_shape, dataset)
    loss = options.get("loss") or source.loss or default_loss(out_shape, dataset)
    optimizer = options.get("optimizer") or source.optimizer or base["optimizer"]
    loss, optimizer = check_names(loss, optimizer)
    if dataset.grain is not None and adapt_targets(dataset.y_train, loss) is not dataset.y_train:
        raise UserError(
            f"the loss {loss} takes one score per sample: the batches of {dataset.name!r} need "
            f"y of shape (B, 1), or end the model with dense({dataset.num_classes})."
        )
    if options.get("learning_rate") is None and optimizer == base["optimizer"]:
        options["learning_rate"] = base.get("learning_rate")
    for key in ("epochs", "batch_size", "validation_split"):
        options[key] = base[key] if options.get(key) is None else options[key]
    options.update(
        loss=loss if isinstance(loss, str) else None,
        optimizer=optimizer if isinstance(optimizer, str) else None,
    )
    return _Plan(options, dataset, source.model, loss, optimizer, out_shape, params)


def _defaults(dataset: Dataset, options: dict[str, Any]) -> dict[str, Any]:
    """The data's default options; for Grain data its batches' (options checked against them)."""
    if dataset.grain is not None:
        return dict(dataset.grain.defaults(defaults(dataset), options))
    if options.get("steps_per_epoch") is not None:
        raise UserError(
            f"--steps-per-epoch is for --data grain:...; {dataset.name!r} trains on all its "
            f"rows each epoch (ceil(N / batch size) steps)."
        )
    return defaults(dataset)


def _callbacks(
    folder: Path, plan: _Plan, given: dict[str, Any], resume: Resume | None
) -> list[callbacks_lib.Callback]:
    quiet = given["quiet"]
    if resume is not None:  # the rows of the epochs the checkpoint holds, and no others
        write_history(folder / "history.csv", resume.history)
    result: list[callbacks_lib.Callback] = [
        callbacks_lib.CSVLogger(folder / "history.csv", append=resume is not None)
    ]
    try:
        if not given["no_tensorboard"]:
            result.append(callbacks_lib.TensorBoard(folder / "tb"))
    except ImportError as error:
        note(f"TensorBoard events skipped: {error}", quiet=quiet)
    patience = plan.options.get("early_stopping")
    stopping = None
    if patience is not None:
        monitor = "val_loss" if plan.options["validation_split"] else "loss"
        stopping = callbacks_lib.EarlyStopping(
            monitor, patience=patience, restore_best_weights=True
        )
        if resume is not None and resume.early_stopping is not None:
            stopping.resume(resume.early_stopping, resume.best_state)
        result.append(stopping)
    before = None if resume is None else resume.history
    result.append(RunCheckpoint(folder, history=before, early_stopping=stopping))
    if not quiet:
        result.append(callbacks_lib.ProgressBar(1, stream=sys.stderr))
    return result


def _metrics(dataset: Dataset) -> list[str]:
    return ["accuracy"] if dataset.num_classes is not None else ["mae"]


def _fit(
    plan: _Plan, folder: Path, given: dict[str, Any], resume: Resume | None
) -> tuple[Any, Any]:
    """Trains with :func:`jaxnn.fit`: ``history.csv`` and the checkpoint are written as it runs.

    A resumed run whose training had finished before it was killed trains nothing.
    """
    if resume is not None and (resume.stopped or resume.epoch >= plan.options["epochs"]):
        history = callbacks_lib.History(dict(resume.history), stop_reason=resume.stopped)
        keep_best = plan.options.get("early_stopping") is not None and resume.best_state
        return (resume.best_state if keep_best else resume.train_state), history
    with warnings.catch_warnings():  # the command reports a non-finite loss itself, once
        warnings.filterwarnings("ignore", "fit: the loss became NaN", RuntimeWarning)
        return _fit_call(plan, folder, given, resume)


def _fit_call(
    plan: _Plan, folder: Path, given: dict[str, Any], resume: Resume | None
) -> tuple[Any, Any]:
    options, dataset = plan.options, plan.dataset
    if dataset.grain is not None:  # the batches stream from the Grain datasets
        position = None if resume is None else resume.input_position
        data = dataset.grain.fit_arguments(options, position)
    else:
        data = {
            "data": (dataset.x_train, adapt_targets(dataset.y_train, plan.loss)),
            "validation_split": options["validation_split"] or None,
        }
    return fit(
        plan.model,
        **data,
        loss=plan.loss,
        optimizer=plan.optimizer,
        learning_rate=options.get("learning_rate"),
        epochs=options["epochs"],
        batch_size=options["batch_size"],
        metrics=_metrics(dataset),
        callbacks=_callbacks(folder, plan, given, resume),
        seed=options["seed"],
        precision=options.get("precision"),
        verbose=0,
        initial_state=None if resume is None else resume.train_state,
        initial_epoch=0 if resume is None else resume.epoch,
    )


def _test(plan: _Plan, train_state: Any, folder: Path) -> tuple[dict[str, Any], list[Path]]:
    """Evaluates the held-out test set; writes ``test.json``."""
    dataset, metrics = plan.dataset, _metrics(plan.dataset)
    if dataset.grain is not None:  # the function's 'test' dataset, if it gave one
        found = dataset.grain.test_values(plan.model, train_state, loss=plan.loss, metrics=metrics)
        return (
            ({}, []) if found is None else (found, [write_json_file(folder / "test.json", found)])
        )
    if dataset.x_test is None or dataset.y_test is None:
        return {}, []
    y = adapt_targets(dataset.y_test, plan.loss)
    result = evaluate(plan.model, train_state, (dataset.x_test, y), loss=plan.loss, metrics=metrics)
    values = scores(result, len(dataset.x_test))
    return values, [write_json_file(folder / "test.json", values)]


def device_name() -> str:
    """The first device JAX uses, e.g. ``cpu`` or ``gpu (NVIDIA H200)``, and how many there are."""
    devices = jax.devices()
    first = devices[0]
    kind = "" if first.device_kind == first.platform else f" ({first.device_kind})"
    return f"{first.platform}{kind}" + (f", {len(devices)} devices" if len(devices) > 1 else "")


def _describe(plan: _Plan, folder: Path, quiet: bool) -> None:
    rate = plan.options.get("learning_rate")
    optimizer = plan.options.get("optimizer") or "from the model file"
    note(
        f"device: {device_name()}\n"
        f"data: {plan.dataset.describe()}\n"
        f"model: {plan.options['model']} -> output {plan.out_shape}, {plan.params:,} params\n"
        f"training: loss {plan.options.get('loss') or 'from the model file'}, optimizer "
        f"{optimizer}{'' if rate is None else f' (learning rate {rate:g})'}, "
        f"{plan.options['epochs']} epochs of batch {plan.options['batch_size']}\n"
        f"run directory: {folder}",
        quiet=quiet,
    )


def _report(history: Any, test: dict[str, Any], seconds: float) -> str:
    """The results: epochs and speed, the last epoch's metrics, the test metrics."""
    rates = history.samples_per_second[1:] or history.samples_per_second
    last = {k: v[-1] for k, v in history.history.items() if v and np.ndim(v[-1]) == 0}
    if not history.epoch:
        first = "no epochs left to train: the run had finished them before it stopped"
    else:
        span = f" (epochs {history.epoch[0] + 1}-{history.epoch[-1] + 1})" * bool(history.epoch[0])
        first = (
            f"trained {len(history.epoch)} epochs{span} in {seconds:.1f} s, "
            f"{float(np.median(rates)):,.0f} training samples/s after compilation on "
            f"{device_name()}"
        )
    lines = [first, "final " + "  ".join(f"{k} {v:.4f}" for k, v in sorted(last.items()))]
    if test:
        metrics = "  ".join(f"test {k} {v:.4f}" for k, v in test.items() if k != "samples")
        lines.append(f"{metrics}  ({test['samples']:,} test samples)")
    return "\n".join(lines)


@click.command("train")
@_options
@click.pass_context
def train(ctx: click.Context, **given: Any) -> None:
    """Train a model on a data set and write a run directory.

    Example: jaxnn train --data digits --model "dense(128,relu) dropout(0.1) dense(10)"

    From a Grain pipeline, make() in pipeline.py: jaxnn train --data grain:pipeline:make
    """
    quiet = given["quiet"]
    resume = None
    if given["resume"] is not None:
        plan, folder, resume = _resumed(ctx, given)
    else:
        plan = _plan(_resolve(ctx, given))
        folder = given["out"] or default_out(plan.options["data"])
        removed = prepare(folder, overwrite=given["overwrite"])
        if removed:
            note(f"replaced the {len(removed)} files of the run in {folder}", quiet=quiet)
    written = [write_config(folder / "config.toml", plan.options)]
    if plan.dataset.preprocessing is not None:
        preprocessing = plan.dataset.preprocessing.to_dict()
        written.append(write_json_file(folder / PREPROCESSING_FILE, preprocessing))
    _describe(plan, folder, quiet)
    if given["resume"] is not None:
        done = 0 if resume is None else resume.epoch
        note(f"resuming after epoch {done} of {plan.options['epochs']}", quiet=quiet)
    train_state, history = _fit(plan, folder, given, resume)
    if history.stop_reason:
        note(history.stop_reason, quiet=quiet)
    written += [folder / "history.csv", save_model(folder / "model.jaxnn", plan.model, train_state)]
    test, test_files = _test(plan, train_state, folder)
    written += test_files + sorted((folder / "tb").glob("*/events.out.tfevents.*"))
    try:
        if not given["no_plots"]:
            written += draw_plots(
                folder, plan.model, train_state, plan.dataset, loss=plan.loss, quiet=quiet
            )
    except ImportError as error:
        note(f"plots skipped: {error}", quiet=quiet)
    click.echo(_report(history, test, sum(history.epoch_times)))
    click.echo(list_files(written))
    remove_checkpoint(folder)  # the run has finished
    if history.non_finite:
        raise UserError(
            f"training did not finish: {history.stop_reason} The run keeps the last finite "
            f"weights in {folder / 'model.jaxnn'}."
        )


# Options that a resumed run takes from its config.toml (or that would start another run).
_FIXED_ON_RESUME = tuple(k for k in CONFIG_KEYS if k != "epochs") + ("out", "overwrite")


def _resumed(ctx: click.Context, given: dict[str, Any]) -> tuple[_Plan, Path, Resume | None]:
    """The plan, folder and checkpoint of ``--resume RUN``; ``None`` before its first epoch."""
    folder = given["resume"]
    fixed = [k for k in (*_FIXED_ON_RESUME, "config_file") if given.get(k) not in (None, False)]
    if fixed:
        names = ", ".join(
            "--" + ("config" if k == "config_file" else k).replace("_", "-") for k in fixed
        )
        raise UserError(
            f"--resume continues {str(folder)!r} with the options in its config.toml; {names} "
            f"cannot be given with it (only --epochs, to train longer, and --quiet, --no-plots, "
            f"--no-tensorboard)."
        )
    config = folder / "config.toml"
    if not config.is_file():
        raise UserError(
            f"--resume {str(folder)!r} is not the folder of a `jaxnn train` run (it has no "
            f"config.toml)."
        )
    if not is_unfinished(folder):
        raise UserError(
            f"--resume: the run in {str(folder)!r} has finished (it has model.jaxnn and no "
            f"checkpoint/); to train again, start a new run: jaxnn train --config {folder}."
        )
    options = _from_config(ctx, config)
    options.setdefault("test_split", 0.2)
    options.setdefault("seed", 0)
    if given["epochs"] is not None:
        options["epochs"] = given["epochs"]
    plan = _plan(options)
    opt = optimizers.get(plan.optimizer, plan.options.get("learning_rate"))
    input_shape = (-1, *plan.dataset.x_train.shape[1:])
    target = TrainState.create(
        plan.model, jax.random.key(0), input_shape, opt, precision=plan.options.get("precision")
    )
    resume = read_resume(folder, target)
    done = 0 if resume is None else resume.epoch
    if plan.options["epochs"] < done:
        raise UserError(
            f"--epochs {plan.options['epochs']}: the run in {str(folder)!r} has finished {done} "
            f"epochs already; give --epochs {done} or more."
        )
    if resume is None:  # killed before its first epoch ended: it starts afresh
        (folder / "history.csv").unlink(missing_ok=True)
    return plan, folder, resume
