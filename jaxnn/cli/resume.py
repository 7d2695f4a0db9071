"""A run's checkpoint: what ``jaxnn train`` keeps after each finished epoch, and ``--resume``.

``checkpoint/last.msgpack`` in the run folder holds the TrainState after the last finished epoch
(parameters, optimizer state, step and key), the history so far, in its config the number of
finished epochs, whether training had stopped, and the progress of ``--early-stopping``, and for
streamed data (``--data grain:...``) the input position, where the next epoch's batches begin. With
``--early-stopping`` the best epoch's TrainState is kept as ``checkpoint/best-EEEE.msgpack``.
Every file goes through :func:`jaxnn.checkpoint.save` (temporary file, fsync, rename), so a
kill at any moment leaves the previous epoch's checkpoint whole. The folder is removed when the
run has finished: a run folder that still has one did not finish.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jaxnn import checkpoint
from jaxnn.callbacks import Callback, EarlyStopping, FitRun, Logs
from jaxnn.cli.common import UserError
from jaxnn.train.state import TrainState

__all__ = [
    "CHECKPOINT_DIR",
    "Resume",
    "RunCheckpoint",
    "is_unfinished",
    "read_resume",
    "remove_checkpoint",
    "write_history",
]

CHECKPOINT_DIR = "checkpoint"
_LAST = "last.msgpack"
_FORMAT = "jaxnn-run-checkpoint"


class Resume(NamedTuple):
    """What ``--resume`` continues from.

    Attributes:
        epoch: How many epochs had finished.
        train_state: The TrainState after them.
        history: The per-epoch logs of those epochs.
        stopped: Why training had stopped before its last epoch (early stopping), else ``None``.
        early_stopping: :meth:`EarlyStopping.state` at that point, or ``None``.
        best_state: The best epoch's TrainState, for ``restore_best_weights``, or ``None``.
        input_position: Where a stream of batches stood after those epochs
            (``fit(input_position=...)``), or ``None`` for arrays.
    """

    epoch: int
    train_state: TrainState
    history: dict[str, list[float]]
    stopped: str | None
    early_stopping: dict[str, Any] | None
    best_state: TrainState | None
    input_position: dict[str, Any] | None = None


def _best_name(epoch: int) -> str:
    return f"best-{epoch + 1:04d}.msgpack"


class RunCheckpoint(Callback):
    """Saves the run's checkpoint after every epoch (after the callbacks before it in the list).

    Args:
        folder: The run folder.
        history: The logs of the epochs before this ``fit`` (a resumed run's), kept in front.
        early_stopping: The run's EarlyStopping callback, whose progress is saved with it.
    """

    def __init__(
        self,
        folder: Path,
        *,
        history: dict[str, list[float]] | None = None,
        early_stopping: EarlyStopping | None = None,
    ) -> None:
        """Records where to save and what to save beside the TrainState."""
        self.directory = Path(folder) / CHECKPOINT_DIR
        self.before = {k: list(v) for k, v in (history or {}).items()}
        self.early_stopping = early_stopping

    def on_epoch_end(self, epoch: int, logs: Logs, run: FitRun) -> None:
        """Writes the best state when it changed, then ``last.msgpack``, then drops old bests."""
        history = {k: list(v) for k, v in self.before.items()}
        for name, values in run.history.history.items():
            if all(np.ndim(v) == 0 for v in values):
                history[name] = history.get(name, []) + [float(v) for v in values]
        stopping, state, keep = self.early_stopping, None, None
        if stopping is not None:
            state = stopping.state()
            if state["best_epoch"] is not None:
                keep = _best_name(state["best_epoch"])
                if stopping.restore_best_weights and state["best_epoch"] == epoch:
                    checkpoint.save(self.directory / keep, run.train_state)
        config = {
            "format": _FORMAT,
            "epoch": epoch + 1,
            "stopped": run.stop_reason if run.stop_training else None,
            "early_stopping": state,
        }
        checkpoint.save(
            self.directory / _LAST,
            run.train_state,
            history=history,
            config=config,
            input_position=run.input_position,
        )
        for old in self.directory.glob("best-*.msgpack"):
            if old.name != keep:
                old.unlink(missing_ok=True)


def _config(path: Path, config: Any) -> dict[str, Any]:
    ok = (
        isinstance(config, dict)
        and config.get("format") == _FORMAT
        and isinstance(config.get("epoch"), int)
        and config["epoch"] >= 1
        and (config.get("stopped") is None or isinstance(config["stopped"], str))
        and (config.get("early_stopping") is None or isinstance(config["early_stopping"], dict))
    )
    if not ok:
        raise UserError(
            f"{str(path)!r} is not the checkpoint of a `jaxnn train` run (its config is "
            f"{config!r}); start the run again with --overwrite."
        )
    return config


def read_resume(folder: Path, target: TrainState) -> Resume | None:
    """The run's checkpoint read into the structure of ``target``, or ``None`` if it has none.

    Raises:
        UserError: If the checkpoint is damaged or belongs to another model or optimizer.
    """
    path = folder / CHECKPOINT_DIR / _LAST
    if not path.is_file():
        return None
    try:
        saved = checkpoint.load(path, target)
    except ValueError as error:
        raise UserError(f"cannot resume {str(folder)!r}: {error}") from None
    config = _config(path, saved.config)
    state = config.get("early_stopping")
    best = None
    if state is not None and state.get("best_epoch") is not None:
        best_path = path.parent / _best_name(state["best_epoch"])
        if best_path.is_file():
            try:
                best = checkpoint.load(best_path, target).train_state
            except ValueError as error:
                raise UserError(f"cannot resume {str(folder)!r}: {error}") from None
    history = {k: list(v) for k, v in saved.history.items()}
    return Resume(
        config["epoch"],
        saved.train_state,
        history,
        config.get("stopped"),
        state,
        best,
        saved.input_position,
    )


def write_history(path: Path, history: dict[str, list[float]]) -> None:
    """Writes ``history.csv`` as :class:`~jaxnn.callbacks.CSVLogger` does (removes it if empty)."""
    rows = len(next(iter(history.values()), []))
    if not rows:
        path.unlink(missing_ok=True)
        return
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["epoch", *history], lineterminator="\n")
    writer.writeheader()
    writer.writerows({"epoch": i, **{k: v[i] for k, v in history.items()}} for i in range(rows))
    checkpoint.write_atomic(path, out.getvalue().encode())


def remove_checkpoint(folder: Path) -> None:
    """Removes the run's checkpoint folder (the run has finished)."""
    shutil.rmtree(folder / CHECKPOINT_DIR, ignore_errors=True)


def is_unfinished(folder: Path) -> bool:
    """Whether the run in ``folder`` did not finish: a checkpoint is left, or no model yet."""
    if (folder / CHECKPOINT_DIR / _LAST).is_file():
        return True
    return (folder / "config.toml").is_file() and not (folder / "model.jaxnn").is_file()
