"""Tests of jaxnn.viz.history.plot_history: History objects, dicts and CSVLogger files."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from jaxnn.callbacks import CSVLogger, History
from jaxnn.viz import plot_history
from tests.viz.conftest import check_rendered

LOGS = {
    "loss": [0.9, 0.6, 0.45, 0.4],
    "accuracy": [0.5, 0.7, 0.8, 0.85],
    "val_loss": [1.0, 0.8, 0.7, 0.72],
    "val_accuracy": [0.45, 0.6, 0.7, 0.7],
}


def make_history(logs=LOGS, first_epoch=0):
    history = History()
    for i in range(len(logs["loss"])):
        history.append(first_epoch + i, {k: v[i] for k, v in logs.items()}, 0.1, 1000.0)
    return history


def curves(ax):
    return [
        (line.get_label(), line.get_linestyle(), list(line.get_xdata()), list(line.get_ydata()))
        for line in ax.get_lines()
    ]


def test_one_panel_per_metric_loss_first_training_solid_validation_dashed(tmp_path):
    fig = plot_history(make_history())
    loss_ax, acc_ax = fig.axes
    epochs = [0, 1, 2, 3]
    assert curves(loss_ax) == [
        ("training", "-", epochs, LOGS["loss"]),
        ("validation", "--", epochs, LOGS["val_loss"]),
    ]
    assert curves(acc_ax) == [
        ("training", "-", epochs, LOGS["accuracy"]),
        ("validation", "--", epochs, LOGS["val_accuracy"]),
    ]
    assert [ax.get_title() for ax in fig.axes] == ["loss per epoch", "accuracy per epoch"]
    assert [(ax.get_xlabel(), ax.get_ylabel()) for ax in fig.axes] == [
        ("epoch", "loss"),
        ("epoch", "accuracy"),
    ]
    # Training and validation of one metric share a colour.
    assert loss_ax.get_lines()[0].get_color() == loss_ax.get_lines()[1].get_color()
    check_rendered(fig, tmp_path)


def test_x_is_the_recorded_epoch_numbers():
    fig = plot_history(make_history(first_epoch=5), metrics="loss")
    assert np.asarray(fig.axes[0].get_lines()[0].get_xdata()).tolist() == [5, 6, 7, 8]


def test_plain_dict_without_validation():
    fig = plot_history({"accuracy": [0.1, 0.2], "loss": [2.0, 1.0]})
    assert [ax.get_title() for ax in fig.axes] == ["loss per epoch", "accuracy per epoch"]
    assert curves(fig.axes[0]) == [("training", "-", [0, 1], [2.0, 1.0])]


def test_csv_logger_file(tmp_path):
    path = tmp_path / "history.csv"
    logger = CSVLogger(path)
    logger.on_train_begin(None)  # type: ignore[arg-type]
    for epoch in range(4):
        logger.on_epoch_end(epoch, {k: np.float32(v[epoch]) for k, v in LOGS.items()}, None)  # type: ignore[arg-type]
    fig = plot_history(path)
    assert len(fig.axes) == 2
    for ax, name in zip(fig.axes, ["loss", "accuracy"], strict=True):
        (_, _, x, train), (_, _, _, val) = curves(ax)
        assert x == [0, 1, 2, 3]
        np.testing.assert_allclose(train, LOGS[name], rtol=1e-6)
        np.testing.assert_allclose(val, LOGS[f"val_{name}"], rtol=1e-6)
    assert plot_history(str(path), metrics=["accuracy"]).axes[0].get_title() == "accuracy per epoch"


def test_csv_with_semicolons_and_a_column_that_starts_late(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("epoch;loss;lr\n0;1.5;\n1;1.0;0.01\n")
    fig = plot_history(path)
    assert [ax.get_title() for ax in fig.axes] == ["loss per epoch", "lr per epoch"]
    np.testing.assert_array_equal(fig.axes[1].get_lines()[0].get_ydata(), [np.nan, 0.01])


def test_given_ax_gets_all_selected_metrics():
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_history(LOGS, ax=ax) is fig
    assert [(label, y) for label, _, _, y in curves(ax)] == [
        ("training loss", LOGS["loss"]),
        ("validation loss", LOGS["val_loss"]),
        ("training accuracy", LOGS["accuracy"]),
        ("validation accuracy", LOGS["val_accuracy"]),
    ]
    other = Figure().add_subplot()
    plot_history(LOGS, metrics="accuracy", ax=other)
    assert [y for *_, y in curves(other)] == [LOGS["accuracy"], LOGS["val_accuracy"]]


def test_logs_that_are_not_numbers_per_epoch_are_left_out_unless_asked():
    logs = {"loss": [1.0, 0.5], "confusion_matrix": [[[1, 0], [0, 1]], [[2, 0], [0, 0]]]}
    assert [ax.get_title() for ax in plot_history(logs).axes] == ["loss per epoch"]
    with pytest.raises(
        ValueError,
        match=r"'confusion_matrix' is not one number per epoch; got values of shape \(2, 2, 2\)",
    ):
        plot_history(logs, metrics="confusion_matrix")


def test_errors(tmp_path):
    with pytest.raises(
        ValueError, match=r"unknown metric 'acc'; the history has \['accuracy', 'loss'\]"
    ):
        plot_history(LOGS, metrics=["acc"])
    with pytest.raises(ValueError, match="history is empty"):
        plot_history({})
    with pytest.raises(ValueError, match="history is empty"):
        plot_history(History())
    with pytest.raises(TypeError, match="history must be a jaxnn.callbacks.History, .* got list"):
        plot_history([1.0, 0.5])
    with pytest.raises(FileNotFoundError, match="no CSV history file at '.*missing.csv'"):
        plot_history(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="metrics must be names from"):
        plot_history(LOGS, metrics=[])
