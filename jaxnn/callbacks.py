"""Callbacks: host-side hooks that ``fit`` calls between compiled chunks of steps.

Subclass :class:`Callback` and override the hooks you need; each receives the :class:`FitRun`,
which holds the model, the current TrainState and the History, and whose ``stop_training`` flag
ends training after the current epoch. A callback may replace ``run.train_state`` (EarlyStopping
does, to restore the best weights).

``fit`` adds :class:`TerminateOnNaN` unless one is given, and a :class:`ProgressBar` when
``verbose > 0``.
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from jaxnn import _html, checkpoint
from jaxnn.core import Layer

if TYPE_CHECKING:  # jaxnn.train imports this module; TrainState is needed for hints only
    from jaxnn.train.state import TrainState

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "FitRun",
    "History",
    "LambdaCallback",
    "LivePlot",
    "ModelCheckpoint",
    "ProgressBar",
    "TensorBoard",
    "TerminateOnNaN",
]

Logs = dict[str, Any]


@dataclass
class History:
    """What ``fit`` returns beside the TrainState.

    Attributes:
        history: Per-epoch values keyed as Keras does: ``loss``, ``accuracy``, ``val_loss``,
            ``val_accuracy`` ...
        epoch: The epoch numbers (0-based) that ran.
        epoch_times: Wall-clock seconds of each epoch, training and validation; the first
            includes compilation. When several epochs ran in one compiled call
            (``epochs_in_call[i] > 1``) only the call was timed, and this is its equal share.
        samples_per_second: Training samples per second of each epoch (validation excluded);
            for epochs that shared a call, the call's rate (the same for each of them).
        epochs_in_call: How many epochs ran in the compiled call that ran each epoch (1: the
            epoch was timed on its own).
        call_seconds: The measured wall-clock seconds of that call (equal to ``epoch_times``
            when ``epochs_in_call`` is 1).
        stop_reason: Why training stopped before ``epochs``, or ``None``.
        non_finite: Whether training stopped because a loss or a logged value became NaN or
            Inf (the TrainState ``fit`` returned is then the last finite one).
    """

    history: dict[str, list[float]] = field(default_factory=dict)
    epoch: list[int] = field(default_factory=list)
    epoch_times: list[float] = field(default_factory=list)
    samples_per_second: list[float] = field(default_factory=list)
    stop_reason: str | None = None
    non_finite: bool = False
    epochs_in_call: list[int] = field(default_factory=list)
    call_seconds: list[float] = field(default_factory=list)

    def append(
        self,
        epoch: int,
        logs: Logs,
        seconds: float,
        samples_per_second: float,
        *,
        epochs_in_call: int = 1,
        call_seconds: float | None = None,
    ) -> None:
        """Records one epoch; ``seconds`` is its share of a call of ``epochs_in_call`` epochs."""
        self.epoch.append(epoch)
        self.epoch_times.append(seconds)
        self.samples_per_second.append(samples_per_second)
        self.epochs_in_call.append(epochs_in_call)
        self.call_seconds.append(seconds * epochs_in_call if call_seconds is None else call_seconds)
        for name, value in logs.items():
            self.history.setdefault(name, []).append(value)

    def shared(self, i: int = -1) -> tuple[int, int] | None:
        """The epochs ``(first, last)`` (0-based) of the call that ran the ``i``-th recorded epoch.

        ``None`` when that epoch was timed on its own.

        Example:
            >>> h = History()
            >>> for e in range(3):
            ...     h.append(e, {}, 0.1, 900.0, epochs_in_call=3, call_seconds=0.3)
            >>> h.shared(1), h.shared(-1)
            ((0, 2), (0, 2))
        """
        counts = self.epochs_in_call
        i = range(len(counts))[i]
        k = counts[i]
        if k <= 1:
            return None
        # Every call in a run of equal counts ran exactly k epochs: find the run's start.
        start = i
        while start > 0 and counts[start - 1] == k:
            start -= 1
        first = start + (i - start) // k * k
        epochs = self.epoch[len(self.epoch) - len(counts) :]  # aligned with the counts
        return epochs[first], epochs[first] + k - 1

    def _repr_html_(self) -> str:
        """The epochs as an HTML table in a notebook: one row per epoch, one column per log.

        A history of more than 20 epochs shows its first 5 and last 10 rows.
        """
        names = [k for k, v in self.history.items() if all(np.ndim(x) == 0 for x in v)]
        rows = [
            [e + 1, *(f"{self.history[k][i]:.4f}" for k in names), f"{self.epoch_times[i]:.2f}"]
            for i, e in enumerate(self.epoch)
        ]
        if len(rows) > 20:
            rows = [*rows[:5], ["..."] * len(rows[0]), *rows[-10:]]
        footer = [f"Stopped early: {self.stop_reason}"] if self.stop_reason else []
        return _html.table(
            ["Epoch", *names, "Seconds"],
            rows,
            title=f"History: {len(self.epoch)} epoch{'s' if len(self.epoch) != 1 else ''}",
            numeric=range(len(names) + 2),
            footer=footer,
        )


@dataclass
class FitRun:
    """The state of a ``fit`` call that callbacks see and may change.

    Attributes:
        model: The model being trained.
        train_state: The current TrainState (replaceable).
        history: The History so far.
        epochs: The last epoch (exclusive) that ``fit`` will run.
        steps_per_epoch: Optimizer steps per epoch.
        stop_training: Set to ``True`` to stop after the current epoch.
        stop_reason: A sentence saying why, for ``History.stop_reason``.
        non_finite: Set by whoever stops training because a value became NaN or Inf.
        input_position: Where a stream of batches stands after the last finished epoch (a
            JSON dict, ``None`` for arrays); checkpoints save it to resume exactly.
    """

    model: Layer
    train_state: TrainState
    history: History
    epochs: int
    steps_per_epoch: int
    stop_training: bool = False
    stop_reason: str | None = None
    non_finite: bool = False
    input_position: dict[str, Any] | None = None

    def stop(self, reason: str, *, non_finite: bool = False) -> None:
        """Stops training after this epoch, recording why (and whether a value went NaN/Inf)."""
        self.stop_training = True
        self.stop_reason = self.stop_reason or reason
        self.non_finite = self.non_finite or non_finite


class Callback:
    """Base class of callbacks; every hook does nothing by default.

    Attributes:
        logs_only: ``True`` for a callback that only reads the logs: it never reads or replaces
            ``run.train_state`` and never stops training. When every callback says so, ``fit``
            may run several epochs in one compiled call and call the hooks for each of them
            afterwards, in order, with the same logs. ``False`` (the default, safe for any
            callback) makes ``fit`` stop on the host after every epoch.

    Example:
        >>> class PrintLoss(Callback):
        ...     logs_only = True
        ...
        ...     def on_epoch_end(self, epoch, logs, run):
        ...         print(f"epoch {epoch}: {logs['loss']:.3f}")
    """

    logs_only: bool = False

    def on_train_begin(self, run: FitRun) -> None:
        """Called once before the first epoch."""

    def on_epoch_begin(self, epoch: int, run: FitRun) -> None:
        """Called before each epoch (0-based)."""

    def on_chunk_end(self, epoch: int, steps_done: int, logs: Logs, run: FitRun) -> None:
        """Called after each compiled chunk of steps with the epoch's running training logs."""

    def on_epoch_end(self, epoch: int, logs: Logs, run: FitRun) -> None:
        """Called after each epoch with its training and validation logs."""

    def on_train_end(self, run: FitRun) -> None:
        """Called once after the last epoch."""


class LambdaCallback(Callback):
    """A callback made of plain functions, for one-off hooks.

    Args:
        on_epoch_end: ``fn(epoch, logs, run)``, optional.
        on_train_end: ``fn(run)``, optional.

    Example:
        >>> seen = []
        >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs, run: seen.append(epoch))
    """

    def __init__(
        self,
        *,
        on_epoch_end: Callable[[int, Logs, FitRun], None] | None = None,
        on_train_end: Callable[[FitRun], None] | None = None,
    ) -> None:
        """Stores the functions."""
        self._epoch_end, self._train_end = on_epoch_end, on_train_end

    def on_epoch_end(self, epoch: int, logs: Logs, run: FitRun) -> None:
        """Calls the ``on_epoch_end`` function, if any."""
        if self._epoch_end is not None:
            self._epoch_end(epoch, logs, run)

    def on_train_end(self, run: FitRun) -> None:
        """Calls the ``on_train_end`` function, if any."""
        if self._train_end is not None:
            self._train_end(run)


def _is_finite(value: Any) -> bool:
    return bool(np.all(np.isfinite(np.asarray(value, dtype=np.float64))))


class TerminateOnNaN(Callback):
    """Stops training when a logged value (training or validation) is NaN or Inf.

    ``fit`` itself stops at the first non-finite training loss and returns the last finite state;
    this callback also watches validation and metric values at the end of each epoch.
    """

    logs_only = True

    def on_epoch_end(self, epoch: int, logs: Logs, run: FitRun) -> None:
        """Stops if any value in ``logs`` is not finite."""
        bad = sorted(k for k, v in logs.items() if not _is_finite(v))
        if bad:
            run.stop(
                f"TerminateOnNaN: {bad} not finite at the end of epoch {epoch + 1}. {NAN_ADVICE}",
                non_finite=True,
            )


NAN_ADVICE = (
    "Try a smaller learning rate, fit(..., clip_norm=1.0), inputs scaled to "
    "about unit range, or a loss on logits (from_logits) instead of on probabilities."
)
_MAX_WORDS = ("acc", "auc", "precision", "recall", "f1")


def _resolve_mode(monitor: str, mode: str, where: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{where}: mode must be 'auto', 'min' or 'max'; got {mode!r}.")
    if mode != "auto":
        return mode
    return "max" if any(word in monitor for word in _MAX_WORDS) else "min"


class _Monitor:
    """Tracks the best value of one logged quantity."""

    def __init__(self, monitor: str, mode: str, min_delta: float, where: str) -> None:
        self.monitor, self.where = monitor, where
        self.mode = _resolve_mode(monitor, mode, where)
        self.min_delta = abs(min_delta)
        self.best = math.inf if self.mode == "min" else -math.inf

    def value(self, logs: Logs) -> float | None:
        if self.monitor not in logs:
            warnings.warn(
                f"{self.where}: monitor {self.monitor!r} is not in the logs {sorted(logs)}; "
                f"pass validation data for val_* quantities.",
                stacklevel=3,
            )
            return None
        return float(logs[self.monitor])

    def improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(Callback):
    """Stops training when a monitored quantity has stopped improving.

    Args:
        monitor: The log key to watch (default ``"val_loss"``).
        mode: ``"min"``, ``"max"`` or ``"auto"`` (default: max for accuracy-like names).
        min_delta: The smallest change that counts as an improvement (default 0).
        patience: Stop after this many epochs in a row without improvement (default 0: at the
            first epoch without one), as Keras.
        restore_best_weights: Return the TrainState of the best epoch instead of the last
            (default ``False``).

    Raises:
        ValueError: For an unknown mode or a negative patience.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        *,
        mode: str = "auto",
        min_delta: float = 0.0,
        patience: int = 0,
        restore_best_weights: bool = False,
    ) -> None:
        """Records the options."""
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0; got {patience}.")
        self._monitor = _Monitor(monitor, mode, min_delta, "EarlyStopping")
        self.patience, self.restore_best_weights = patience, restore_best_weights
        self.best_epoch: int | None = None
        self._wait = 0
        self._best_state: Any = None
        self._resume: tuple[dict[str, Any], Any] | None = None

    def state(self) -> dict[str, Any]:
        """The progress so far, as JSON values.

        ``best`` (``None`` before any), ``best_epoch`` (0-based) and ``wait``. With
        :meth:`resume` it lets a resumed ``fit`` stop where an uninterrupted one would.
        """
        best = self._monitor.best if math.isfinite(self._monitor.best) else None
        return {"best": best, "best_epoch": self.best_epoch, "wait": self._wait}

    def resume(self, state: dict[str, Any], best_state: Any = None) -> None:
        """Makes the next ``fit`` continue from ``state`` (from :meth:`state`) instead of afresh.

        Args:
            state: What :meth:`state` returned when the interrupted run saved its checkpoint.
            best_state: The TrainState of epoch ``state["best_epoch"]``, for
                ``restore_best_weights`` (without it the best of the resumed epochs is restored).

        Raises:
            ValueError: If ``state`` lacks a key or holds a value of the wrong type.
        """
        best, epoch, wait = (state.get(k) for k in ("best", "best_epoch", "wait"))
        if (
            not (best is None or isinstance(best, (int, float)))
            or isinstance(best, bool)
            or not (epoch is None or isinstance(epoch, int))
            or not isinstance(wait, int)
            or wait < 0
        ):
            raise ValueError(
                f"EarlyStopping.resume: state must hold a number or None 'best', an int or None "
                f"'best_epoch' and an int >= 0 'wait'; got {state!r}."
            )
        self._resume = (dict(state), best_state)

    def on_train_begin(self, run: FitRun) -> None:
        """Resets the best value, or takes the one given to :meth:`resume`."""
        self._monitor.best = math.inf if self._monitor.mode == "min" else -math.inf
        self._wait, self.best_epoch, self._best_state = 0, None, None
        if self._resume is not None:
            state, self._best_state = self._resume
            if state["best"] is not None:
                self._monitor.best = float(state["best"])
            self.best_epoch, self._wait = state["best_epoch"], state["wait"]
            self._resume = None

    def on_epoch_end(self, epoch: int, logs: Logs, run: FitRun) -> None:
        """Records an improvement or counts an epoch without one."""
        value = self._monitor.value(logs)
        if value is None:
            return
        if self._monitor.improved(value):
            self._monitor.best, self.best_epoch, self._wait = value, epoch, 0
            if self.restore_best_weights:
                self._best_state = jax.device_get(run.train_state)
            return
        self._wait += 1
        if self._wait >= self.patience:
            run.stop(
                f"EarlyStopping: {self._monitor.monitor} did not improve for {self._wait} epochs; "
                f"best {self._monitor.best:.6g} at epoch {(self.best_epoch or 0) + 1}."
            )

    def on_train_end(self, run: FitRun) -> None:
        """Restores the best TrainState when asked to."""
        if self.restore_best_weights and self._best_state is not None:
            run.train_state = jax.device_put(self._best_state)


class ModelCheckpoint(Callback):
    """Saves checkpoints during training (atomically, see :mod:`jaxnn.checkpoint`).

    In a multi-host run every process gathers the state and process 0 alone writes (and
    deletes old files); any process can load them.

    Args:
        filepath: The file to write. It may contain ``{epoch}`` (1-based) and log keys, e.g.
            ``"ckpt/epoch{epoch:03d}-{val_loss:.3f}.msgpack"``.
        monitor: The log key for ``save_best_only`` (default ``"val_loss"``).
        mode: ``"min"``, ``"max"`` or ``"auto"``.
        save_best_only: Save only when ``monitor`` improves (default ``False``).
        every_n_epochs: Save every this many epochs (default 1).
        keep: Keep only the newest this many files written by this callback (default: all).
        config: Optional JSON-serialisable config saved with each checkpoint.
    """

    def __init__(
        self,
        filepath: str | os.PathLike,
        *,
        monitor: str = "val_loss",
        mode: str = "auto",
        save_best_only: bool = False,
        every_n_epochs: int = 1,
        keep: int | None = None,
        config: Any = None,
    ) -> None:
        """Records the options."""
        if every_n_epochs < 1:
            raise ValueError(f"ModelCheckpoint: every_n_epochs must be >= 1; got {every_n_epochs}.")
        if keep is not None and keep < 1:
            raise ValueError(f"ModelCheckpoint: keep must be >= 1 or None; got {keep}.")
        self.filepath = str(filepath)
        self._monitor = _Monitor(monitor, mode, 0.0, "ModelCheckpoint")
        self.save_best_only, self.every_n_epochs = save_best_only, every_n_epochs
        self.keep, self.config = keep, config
        self.saved: list[Path] = []

    def on_epoch_end(self, epoch: int, logs: Logs, run: FitRun) -> None:
        """Saves when the schedule (and, with ``save_best_only``, an improvement) says so."""
        if (epoch + 1) % self.every_n_epochs:
            return
        if self.save_best_only:
            value = self._monitor.value(logs)
            if value is None or not self._monitor.improved(value):
                return
            self._monitor.best = value
        path = Path(self.filepath.format(epoch=epoch + 1, **logs))
        kwargs = {"history": run.history.history, "config": self.config}
        if run.input_position is not None:
            kwargs["input_position"] = run.input_position
        if jax.process_count() > 1:  # every process gathers the state, process 0 writes
            if checkpoint.save_from_main(path, run.train_state, **kwargs) is None:
                return
        else:
            checkpoint.save(path, run.train_state, **kwargs)
        if path in self.saved:
            self.saved.remove(path)
        self.saved.append(path)
        if self.keep is not None:
            for old in self.saved[: -self.keep]:
                old.unlink(missing_ok=True)
            self.saved = self.saved[-self.keep :]


class CSVLogger(Callback):
    """Writes one CSV row per epoch: ``epoch`` and every log value.

    The whole file is rewritten atomically after each epoch, so it is never half-written. In a
    multi-host run only process 0 writes it.

    Args:
        filename: The CSV file.
        separator: The field separator (default ``","``).
        append: Keep the rows already in the file (default ``False``: start afresh).
        timing: Add the columns ``seconds``, ``samples_per_second`` and ``epochs_in_call``
            (default ``False``). When several epochs ran in one compiled call, ``seconds`` is
            each one's equal share of the call and ``samples_per_second`` the call's rate, which
            ``epochs_in_call > 1`` marks (see :class:`History`).
    """

    logs_only = True

    def __init__(
        self,
        filename: str | os.PathLike,
        *,
        separator: str = ",",
        append: bool = False,
        timing: bool = False,
    ):
        """Records the options."""
        self.path, self.separator, self.append = Path(filename), separator, append
        self.timing = timing
        self._rows: list[dict[str, Any]] = []

    def on_train_begin(self, run: FitRun) -> None:
        """Reads the existing rows when appending."""
        self._rows = []
        if self.append and self.path.is_file():
            with self.path.open(newline="") as f:
                self._rows = list(csv.DictReader(f, delimiter=self.separator))

    def on_epoch_end(self, epoch: int, logs: Logs, run: FitRun) -> None:
        """Adds the row and rewrites the file (process 0 only)."""
        if jax.process_index() != 0:
            return
        row = {"epoch": epoch, **{k: _scalar(v) for k, v in logs.items()}}
        if self.timing and run.history.epoch:
            h = run.history
            row |= {
                "seconds": h.epoch_times[-1],
                "samples_per_second": h.samples_per_second[-1],
                "epochs_in_call": h.epochs_in_call[-1],
            }
        self._rows.append(row)
        fields = list(dict.fromkeys(k for row in self._rows for k in row))
        out = io.StringIO()
        writer = csv.DictWriter(
            out, fieldnames=fields, delimiter=self.separator, lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(self._rows)
        checkpoint.write_atomic(self.path, out.getvalue().encode())


def _scalar(value: Any) -> Any:
    return float(value) if np.ndim(value) == 0 else np.asarray(value).tolist()


class TensorBoard(Callback):
    """Writes TensorBoard event files (through tensorboardX; TensorFlow is not needed).

    Scalars go to ``log_dir/train`` and ``log_dir/validation`` under their log names, one point
    per epoch, as Keras writes them. In a multi-host run only process 0 writes.

    Args:
        log_dir: The folder for the event files.
        timing: Also write ``epoch_samples_per_second`` to ``log_dir/train`` (default
            ``False``): one point per measurement, so for epochs that ran in one compiled call
            one point at the call's last epoch, the call's rate.

    Raises:
        ImportError: At construction, if tensorboardX is missing (``pip install 'jaxnn[log]'``).
    """

    logs_only = True

    def __init__(self, log_dir: str | os.PathLike = "logs", *, timing: bool = False) -> None:
        """Checks that tensorboardX is installed."""
        try:
            from tensorboardX import SummaryWriter
        except ImportError as error:
            raise ImportError(
                "TensorBoard needs the tensorboardX package: pip install 'jaxnn[log]'."
            ) from error
        self._writer_class = SummaryWriter
        self.log_dir = Path(log_dir)
        self.timing = timing
        self._writers: dict[str, Any] = {}

    def on_epoch_end(self, epoch: int, logs: Logs, run: FitRun) -> None:
        """Writes every scalar log value (process 0 only)."""
        if jax.process_index() != 0:
            return
        for name, value in logs.items():
            if np.ndim(value):
                continue
            split = "validation" if name.startswith("val_") else "train"
            if split not in self._writers:
                self._writers[split] = self._writer_class(str(self.log_dir / split))
            self._writers[split].add_scalar(
                f"epoch_{name.removeprefix('val_')}", float(value), epoch
            )
        h = run.history
        shared = h.shared(-1) if self.timing and h.epochs_in_call else None
        if self.timing and h.epoch and (shared is None or shared[1] == epoch):
            if "train" not in self._writers:
                self._writers["train"] = self._writer_class(str(self.log_dir / "train"))
            self._writers["train"].add_scalar(
                "epoch_samples_per_second", float(h.samples_per_second[-1]), epoch
            )
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, run: FitRun) -> None:
        """Closes the event files."""
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


def _format_logs(logs: Logs) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items() if np.ndim(v) == 0)


def _in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (IPython is looked up, never imported)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def _notebook_bars() -> bool:
    """Whether tqdm's notebook widget can draw here: a Jupyter kernel with ipywidgets."""
    import importlib.util

    return _in_notebook() and all(
        importlib.util.find_spec(name) is not None for name in ("tqdm", "ipywidgets")
    )


class ProgressBar(Callback):
    """Reports progress: a tqdm bar per epoch on a terminal, else one line per epoch.

    In a Jupyter notebook with ipywidgets installed the bar is tqdm's notebook widget
    (``tqdm.notebook``), unless ``stream`` is given. In a multi-host run only process 0 reports.

    Args:
        verbose: 1 for a bar when the output is a terminal (or a notebook) and tqdm is installed
            (else lines), 2 for one line per epoch always.
        stream: Where to write (default ``sys.stdout``).
    """

    logs_only = True

    def __init__(self, verbose: int = 1, *, stream: Any = None) -> None:
        """Records the options."""
        self.verbose, self.stream = verbose, stream
        self._bar: Any = None

    def _out(self) -> Any:
        return self.stream or sys.stdout

    def _use_bar(self) -> bool:
        if self.verbose == 1 and self.stream is None and _notebook_bars():
            return True
        if self.verbose != 1 or not getattr(self._out(), "isatty", lambda: False)():
            return False
        try:
            import tqdm  # noqa: F401
        except ImportError:
            return False
        return True

    def on_epoch_begin(self, epoch: int, run: FitRun) -> None:
        """Opens a bar for the epoch when a bar is used."""
        if self._use_bar() and jax.process_index() == 0:
            desc = f"Epoch {epoch + 1}/{run.epochs}"
            if self.stream is None and _notebook_bars():
                from tqdm.notebook import tqdm as notebook_tqdm

                self._bar = notebook_tqdm(total=run.steps_per_epoch, desc=desc, leave=True)
                return
            from tqdm import tqdm

            self._bar = tqdm(total=run.steps_per_epoch, desc=desc, file=self._out(), leave=True)

    def on_chunk_end(self, epoch: int, steps_done: int, logs: Logs, run: FitRun) -> None:
        """Advances the bar."""
        if self._bar is not None:
            self._bar.update(steps_done - self._bar.n)
            self._bar.set_postfix_str(_format_logs(logs))

    def on_epoch_end(self, epoch: int, logs: Logs, run: FitRun) -> None:
        """Closes the bar or prints the epoch's line."""
        if jax.process_index() != 0:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(_format_logs(logs))
            self._bar.close()
            self._bar = None
            return
        line = f"Epoch {epoch + 1}/{run.epochs} - {_timing(run.history)}"
        print(f"{line} - {_format_logs(logs)}", file=self._out(), flush=True)


def _timing(history: History) -> str:
    """The time of the last recorded epoch as measured: its own, or once for a shared call.

    An epoch timed on its own reads ``0.12s - 9,000 samples/s``. When several epochs ran in one
    compiled call only the call was timed: its first epoch reads ``epochs 1-8 in one call:
    0.08s - 105,648 samples/s`` and the others ``(epochs 1-8: one call)``.

    Example:
        >>> h = History()
        >>> h.append(0, {}, 0.5, 2000.0)
        >>> _timing(h)
        '0.50s - 2,000 samples/s'
        >>> for e in (1, 2):
        ...     h.append(e, {}, 0.05, 40000.0, epochs_in_call=2, call_seconds=0.1)
        ...     print(_timing(h))
        epochs 2-3 in one call: 0.10s - 40,000 samples/s
        (epochs 2-3: one call)
    """
    if not history.epoch:
        return "0.00s - 0 samples/s"
    rate = history.samples_per_second[-1]
    shared = history.shared(-1) if history.epochs_in_call else None
    if shared is None:
        return f"{history.epoch_times[-1]:.2f}s - {rate:,.0f} samples/s"
    first, last = shared
    span = f"epochs {first + 1}-{last + 1}"
    if history.epoch[-1] != first:
        return f"({span}: one call)"
    return f"{span} in one call: {history.call_seconds[-1]:.2f}s - {rate:,.0f} samples/s"


class _Picture:
    """A PNG that IPython shows as an image (``_repr_png_``) and a text front end as a line."""

    def __init__(self, png: bytes, text: str) -> None:
        self.png, self.text = png, text

    def _repr_png_(self) -> bytes:
        return self.png

    def __repr__(self) -> str:
        return self.text


class _Text:
    """A line of text for a display before the first figure."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


class LivePlot(Callback):
    """Redraws the training curves in place in a notebook while ``fit`` runs.

    One panel per metric (``loss``, ``accuracy``, ...) shows its training curve and, when
    ``fit`` validates, the ``val_`` curve, against the epoch (1-based). At the start of training
    the callback opens one output in the cell (IPython's ``display(..., display_id=True)``) and
    after every ``every``-th epoch, and the last, replaces it with the new figure (the handle's
    ``update``), so the cell shows one figure that grows. It only reads the logs
    (``logs_only``): ``fit`` keeps running several epochs per compiled call, and the curves
    then grow by those epochs at once.

    Args:
        metrics: The log names to plot (without ``val_``), e.g. ``["loss"]``; default every
            scalar training log.
        every: Redraw after every ``every``-th epoch (default 1); the last is always drawn.
        panel: Width and height of one panel in inches (default ``(4.0, 3.0)``).
        display: ``display(obj) -> handle`` with ``handle.update(obj)``; default IPython's
            ``display(obj, display_id=True)``. Anything with that shape works (a test's fake).

    Raises:
        ImportError: At construction, if matplotlib is missing (``pip install 'jaxnn[plot]'``) or,
            without ``display``, IPython is (``pip install 'jaxnn[notebooks]'``).
        ValueError: For ``every`` below 1, or, at the first epoch, a metric the logs do not
            have (the logs are listed).

    Example:
        >>> class Fake:
        ...     def __init__(self): self.shown = []
        ...     def __call__(self, obj): self.shown.append(obj); return self
        ...     def update(self, obj): self.shown.append(obj)
        >>> import jax.numpy as jnp, jaxnn
        >>> from jaxnn.layers import Dense
        >>> fake = Fake()
        >>> x, y = jaxnn.data.xor(n=64, seed=0)
        >>> _ = jaxnn.fit(jaxnn.serial(Dense(4), jnp.tanh, Dense(2)), (x, y),
        ...               loss="softmax_cross_entropy", epochs=3, verbose=0,
        ...               callbacks=[LivePlot(display=fake)])
        >>> len(fake.shown), fake.shown[-1]  # the first line, then one figure per epoch
        (4, LivePlot: epoch 3 of 3, loss ...)
    """

    logs_only = True

    def __init__(
        self,
        metrics: list[str] | tuple[str, ...] | None = None,
        *,
        every: int = 1,
        panel: tuple[float, float] = (4.0, 3.0),
        display: Callable[[Any], Any] | None = None,
    ) -> None:
        """Checks the options and that matplotlib (and IPython, for the default display) exist."""
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"LivePlot: every must be an int >= 1; got {every!r}.")
        try:
            import matplotlib  # noqa: F401
        except ImportError as error:
            raise ImportError(
                "LivePlot draws with matplotlib: pip install 'jaxnn[plot]'."
            ) from error
        if display is None:
            try:
                from IPython.display import display as ipython_display
            except ImportError as error:
                raise ImportError(
                    "LivePlot draws in a Jupyter notebook, which needs IPython: "
                    "pip install 'jaxnn[notebooks]' (or pass display=)."
                ) from error

            def display(obj: Any) -> Any:
                return ipython_display(obj, display_id=True)

        self.metrics, self.every, self.panel = metrics, every, panel
        self._display = display
        self._handle: Any = None
        self._drawn: int | None = None

    def on_train_begin(self, run: FitRun) -> None:
        """Opens the output that the figures replace."""
        if jax.process_index() == 0:
            self._handle = self._display(_Text("LivePlot: waiting for the first epoch"))
            self._drawn = None

    def on_epoch_end(self, epoch: int, logs: Logs, run: FitRun) -> None:
        """Draws the curves so far after every ``every``-th epoch and the last."""
        if self._handle is None:
            return
        done = epoch + 1 - (run.history.epoch[0] if run.history.epoch else 0)
        if done % self.every and epoch + 1 < run.epochs and not run.stop_training:
            return
        self._update(epoch, logs, run)

    def on_train_end(self, run: FitRun) -> None:
        """Draws the last epoch if it was not drawn (training stopped between redraws)."""
        h = run.history
        if self._handle is not None and h.epoch and self._drawn != h.epoch[-1]:
            self._update(h.epoch[-1], {k: v[-1] for k, v in h.history.items()}, run)

    def _update(self, epoch: int, logs: Logs, run: FitRun) -> None:
        names = self._names(run.history, logs)
        text = f"LivePlot: epoch {epoch + 1} of {run.epochs}, " + ", ".join(
            f"{k} {logs[k]:.4f}" for k in names if k in logs
        )
        self._handle.update(_Picture(self._draw(run.history, names), text))
        self._drawn = epoch

    def _names(self, history: History, logs: Logs) -> list[str]:
        scalar = [k for k, v in logs.items() if np.ndim(v) == 0]
        if self.metrics is None:
            return [k for k in scalar if not k.startswith("val_")]
        unknown = [k for k in self.metrics if k not in history.history]
        if unknown:
            raise ValueError(
                f"LivePlot: no log {unknown[0]!r} to plot; the logs are {sorted(scalar)}."
            )
        return list(self.metrics)

    def _draw(self, history: History, names: list[str]) -> bytes:
        """The PNG of one panel per name: training and validation curves against the epoch."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        n = max(1, len(names))
        fig = Figure(figsize=(self.panel[0] * n, self.panel[1]), layout="constrained")
        FigureCanvasAgg(fig)
        epochs = [e + 1 for e in history.epoch]
        for i, name in enumerate(names):
            ax = fig.add_subplot(1, n, i + 1)
            for key, label in ((name, "training"), (f"val_{name}", "validation")):
                values = history.history.get(key, [])
                if values:
                    ax.plot(epochs[len(epochs) - len(values) :], values, marker=".", label=label)
            ax.set_title(name)
            ax.set_xlabel("epoch")
            ax.legend()
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=80)
        return out.getvalue()
