"""Tests of jaxnn.viz.classification: confusion matrices against NumPy counts, sample grids."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from jaxnn.viz import plot_confusion_matrix, plot_samples
from tests.viz.conftest import check_rendered

RNG = np.random.default_rng(0)
K = 4
Y_TRUE = RNG.integers(0, K, size=60)
Y_PRED = np.where(RNG.random(60) < 0.6, Y_TRUE, RNG.integers(0, K, size=60))


def numpy_counts(y_true, y_pred, k):
    counts = np.zeros((k, k), int)
    np.add.at(counts, (y_true, y_pred), 1)
    return counts


def cells(ax):
    return np.asarray(ax.images[0].get_array()), [t.get_text() for t in ax.texts]


def test_counts_in_image_and_cells(tmp_path):
    fig = plot_confusion_matrix(Y_TRUE, Y_PRED)
    ax = fig.axes[0]
    expected = numpy_counts(Y_TRUE, Y_PRED, K)
    image, texts = cells(ax)
    np.testing.assert_array_equal(image, expected)
    assert texts == [str(c) for c in expected.ravel()]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted class", "true class")
    assert ax.get_title() == "confusion matrix (number of samples)"
    assert len(fig.axes) == 2  # the matrix and its colour bar
    check_rendered(fig, tmp_path)


def test_normalized_rows_are_fractions_of_each_true_class():
    y_true = np.array([0, 0, 0, 1, 2, 2])  # class 3 never occurs: its row stays 0
    y_pred = np.array([0, 1, 1, 1, 3, 2])
    fig = plot_confusion_matrix(y_true, y_pred, normalize=True, labels=["a", "b", "c", "d"])
    image, texts = cells(fig.axes[0])
    expected = np.array([[1 / 3, 2 / 3, 0, 0], [0, 1, 0, 0], [0, 0, 0.5, 0.5], [0, 0, 0, 0]])
    np.testing.assert_allclose(image, expected)
    assert texts[:4] == ["0.33", "0.67", "0.00", "0.00"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["a", "b", "c", "d"]


def test_logits_probabilities_and_one_hot_inputs():
    logits = RNG.normal(size=(60, K))
    one_hot = np.eye(K, dtype=np.float32)[Y_TRUE]
    image, _ = cells(plot_confusion_matrix(one_hot, logits).axes[0])
    np.testing.assert_array_equal(image, numpy_counts(Y_TRUE, logits.argmax(-1), K))
    probs = np.array([0.1, 0.7, 0.51, 0.2])  # class 1 when > 0.5
    image, _ = cells(plot_confusion_matrix([0, 1, 0, 1], probs).axes[0])
    np.testing.assert_array_equal(image, [[1, 1], [1, 1]])


def test_given_axes():
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_confusion_matrix([0, 1, 1], [0, 1, 0], ax=ax) is fig
    np.testing.assert_array_equal(ax.images[0].get_array(), [[1, 0], [1, 1]])


def test_confusion_matrix_errors():
    with pytest.raises(
        ValueError, match="y_true and y_pred must have the same number of samples; got 3 and 2"
    ):
        plot_confusion_matrix([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match=r"labels must name all 3 classes; got \['a', 'b'\]"):
        plot_confusion_matrix([0, 1, 2], np.eye(3), labels=["a", "b"])
    with pytest.raises(ValueError, match=r"y_true must be class ids in \[0, 2\).*values \[2\]"):
        plot_confusion_matrix([0, 1, 2], [0, 1, 1], labels=["a", "b"])
    with pytest.raises(
        ValueError, match=r"y_true must be class ids in \[0, 2\); 1 of 3 are not: values \[-1\]"
    ):
        plot_confusion_matrix([0, -1, 1], [0, 1, 1])
    with pytest.raises(ValueError, match=r"y_pred must be class ids in \[0, 2\).*values \[5\]"):
        plot_confusion_matrix([0, 1], [0, 5], labels=["a", "b"])
    with pytest.raises(TypeError, match="normalize must be True or False; got 'true'"):
        plot_confusion_matrix([0, 1], [0, 1], normalize="true")  # type: ignore[arg-type]
    with pytest.raises(
        ValueError,
        match=r"y_true must be class ids \(N,\), \(N, 1\) or rows \(N, K\); got \(2, 2, 2\)",
    ):
        plot_confusion_matrix(np.zeros((2, 2, 2)), [0, 1])


def test_samples_titles_and_mistakes(tmp_path):
    images = RNG.random((5, 64))  # flat 8x8
    labels = np.array([3, 1, 4, 1, 5])
    predictions = np.eye(6)[[3, 1, 0, 1, 2]]  # scores: argmax; samples 2 and 4 are wrong
    fig = plot_samples(images, labels, predictions, ncols=3)
    assert [ax.get_title() for ax in fig.axes] == [
        "true 3 / pred 3",
        "true 1 / pred 1",
        "true 4 / pred 0",
        "true 1 / pred 1",
        "true 5 / pred 2",
    ]
    assert [ax.title.get_color() for ax in fig.axes] == ["black", "black", "red", "black", "red"]
    assert fig.axes[2].spines["left"].get_edgecolor() == (1.0, 0.0, 0.0, 1.0)
    np.testing.assert_array_equal(fig.axes[4].images[0].get_array(), images[4].reshape(8, 8))
    spec = fig.axes[0].get_gridspec()
    assert spec is not None and spec.get_geometry() == (2, 3)  # 5 images, 3 per row
    check_rendered(fig, tmp_path)


def test_samples_names_limits_and_colour():
    images = RNG.random((40, 5, 4, 3)).astype(np.float32) * 4 - 2
    fig = plot_samples(images, labels=np.arange(40) % 2, class_names=["cat", "dog"], max_samples=6)
    assert [ax.get_title() for ax in fig.axes] == ["true cat", "true dog"] * 3
    shown = np.asarray(fig.axes[1].images[0].get_array())
    assert shown.shape == (5, 4, 3)
    np.testing.assert_allclose((shown.min(), shown.max()), (0.0, 1.0), atol=1e-6)
    np.testing.assert_allclose(shown, (images[1] - images[1].min()) / np.ptp(images[1]), rtol=1e-5)
    assert [
        ax.get_title() for ax in plot_samples(np.zeros((2, 3, 3, 1)), predictions=[0.9, 0.2]).axes
    ] == [
        "pred 1",
        "pred 0",
    ]
    assert [ax.get_title() for ax in plot_samples(np.zeros((2, 3, 3))).axes] == ["#0", "#1"]


def test_samples_errors():
    with pytest.raises(
        ValueError, match=r"flat images \(N, D\) need a square D = H \* W; got D = 10"
    ):
        plot_samples(np.zeros((2, 10)))
    with pytest.raises(ValueError, match=r"images must have shape \(N, H, W\).*got \(2, 3, 3, 2\)"):
        plot_samples(np.zeros((2, 3, 3, 2)))
    with pytest.raises(ValueError, match="labels must have one entry per image, 2; got 3"):
        plot_samples(np.zeros((2, 4)), labels=[0, 1, 1])
    with pytest.raises(ValueError, match=r"labels must be class ids in \[0, 2\).*values \[2\]"):
        plot_samples(np.zeros((2, 4)), labels=[0, 2], class_names=["cat", "dog"])
    with pytest.raises(
        ValueError, match=r"predictions must be class ids in \[0, 2\).*values \[2\]"
    ):
        plot_samples(np.zeros((2, 4)), predictions=np.eye(3)[[0, 2]], class_names=["cat", "dog"])
    with pytest.raises(ValueError, match="ncols must be a positive int; got 0"):
        plot_samples(np.zeros((2, 4)), ncols=0)
    with pytest.raises(TypeError, match="max_samples must be a positive int; got 2.5"):
        plot_samples(np.zeros((2, 4)), max_samples=2.5)  # type: ignore[arg-type]
