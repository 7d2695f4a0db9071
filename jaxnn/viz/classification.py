"""Classifier results: :func:`plot_confusion_matrix` and :func:`plot_samples`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import jax.numpy as jnp
import numpy as np

from jaxnn.encoding import check_labels
from jaxnn.metrics import confusion_matrix
from jaxnn.viz.figure import check_positive_int, class_ids, grid, target

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_confusion_matrix", "plot_samples"]

_MAX_CELL_TEXTS = 30  # classes; beyond this the numbers no longer fit in the cells


def plot_confusion_matrix(
    y_true: Any,
    y_pred: Any,
    *,
    labels: Sequence[str] | None = None,
    normalize: bool = False,
    ax: Axes | None = None,
) -> Figure:
    r"""The confusion matrix as an image, with the count (or fraction) written in each cell.

    .. math:: M_{ij} = \#\{n : c_n = i,\ \hat c_n = j\}, \qquad
        \tilde M_{ij} = M_{ij} / \textstyle\sum_j M_{ij} \ (\text{normalize})

    Rows are true classes, columns predicted ones (scikit-learn's layout), computed with
    :func:`jaxnn.metrics.confusion_matrix`. A true class with no samples has a row of zeros
    when normalised.

    Args:
        y_true: True classes: ids ``(N,)``/``(N, 1)`` or one-hot rows ``(N, K)``.
        y_pred: Predicted classes: integer ids, or scores ``(N, K)`` (logits or probabilities,
            argmax), or float ``(N,)``/``(N, 1)`` probabilities of class 1 (``> 0.5``).
        labels: Class names for the ticks, one per class; default ``None``, the ids 0 ... K-1.
        normalize: Divide each row by its sum, so a cell is the fraction of that true class
            (default ``False``, counts).
        ax: The Axes to draw into; default ``None``, a new figure sized to the classes.

    Returns:
        The figure: ``ax.images[0]`` holds the matrix (counts or fractions); ``ax.texts`` are the
        cells' numbers in row-major order (up to 30 classes).

    Raises:
        ValueError: If the two have different lengths, a class id lies outside ``[0, K)``,
            ``labels`` has fewer names than classes, or the shapes are not as above.
        TypeError: If ``normalize`` is not a bool or labels are not integer ids.

    Example:
        >>> fig = plot_confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2])
        >>> fig.axes[0].images[0].get_array().astype(int).tolist()
        [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
        >>> [t.get_text() for t in fig.axes[0].texts][3:6]
        ['0', '1', '1']
    """
    where = "plot_confusion_matrix"
    if not isinstance(normalize, bool):
        raise TypeError(f"{where}: normalize must be True or False; got {normalize!r}.")
    true_ids = class_ids(y_true, where=where, arg="y_true", scores=False)
    pred_ids = class_ids(y_pred, where=where, arg="y_pred", scores=True)
    if true_ids.shape != pred_ids.shape:
        raise ValueError(
            f"{where}: y_true and y_pred must have the same number of samples; got "
            f"{true_ids.shape[0]} and {pred_ids.shape[0]}."
        )
    k = _num_classes(y_true, y_pred, true_ids, pred_ids, labels, where)
    check_labels(true_ids, k, where=where, arg="y_true")
    check_labels(pred_ids, k, where=where, arg="y_pred")
    counts = np.asarray(
        confusion_matrix(jnp.asarray(pred_ids), jnp.asarray(true_ids), num_classes=k)
    )
    counts = np.rint(counts).astype(np.int64)
    rows = counts.sum(axis=1, keepdims=True)
    values = (
        np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0) if normalize else counts
    )
    side = max(4.0, 0.5 * k + 2.0)
    fig, ax = target(where, ax, (side + 1.0, side))
    _draw_matrix(ax, values, normalize, list(labels) if labels is not None else list(range(k)))
    return fig


def _num_classes(
    y_true: Any, y_pred: Any, true_ids: np.ndarray, pred_ids: np.ndarray, labels: Any, where: str
) -> int:
    """K: the number of ``labels`` if given, else the widest scores or the largest id plus 1."""
    widths = [np.shape(a)[1] for a in (y_true, y_pred) if np.ndim(a) == 2 and np.shape(a)[1] > 1]
    if labels is None:
        return max([int(true_ids.max(initial=0)) + 1, int(pred_ids.max(initial=0)) + 1, *widths])
    if isinstance(labels, str) or len(labels) < max(widths, default=1):
        raise ValueError(
            f"{where}: labels must name all {max(widths, default=1)} classes; got {labels!r}. "
            f"Give one name per class."
        )
    return len(labels)  # ids beyond it are reported by check_labels


def _draw_matrix(ax: Axes, values: np.ndarray, normalize: bool, names: list[Any]) -> None:
    k = values.shape[0]
    top = 1.0 if normalize else max(1.0, float(values.max()))
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=top)
    if k <= _MAX_CELL_TEXTS:
        for i in range(k):
            for j in range(k):
                text = f"{values[i, j]:.2f}" if normalize else f"{int(values[i, j])}"
                color = "white" if values[i, j] > top / 2 else "black"
                ax.text(j, i, text, ha="center", va="center", color=color, fontsize="small")
    ticks = list(range(k))
    rotate = 45 if any(len(str(n)) > 3 for n in names) else 0
    ax.set_xticks(ticks, [str(n) for n in names], rotation=rotate)
    ax.set_yticks(ticks, [str(n) for n in names])
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    kind = "fraction of each true class" if normalize else "number of samples"
    ax.set_title(f"confusion matrix ({kind})")
    ax.figure.colorbar(image, ax=ax, label=kind)


def plot_samples(
    images: Any,
    labels: Any = None,
    predictions: Any = None,
    *,
    ncols: int = 8,
    class_names: Sequence[str] | None = None,
    max_samples: int = 32,
) -> Figure:
    """A grid of the first images, titled with their true and predicted classes.

    A title reads ``true 3 / pred 5`` (or the class names); a wrong prediction has a red title
    and a red frame.

    Args:
        images: ``(N, H, W)`` grey, ``(N, H, W, C)`` with ``C`` 1, 3 or 4, or flat rows
            ``(N, D)`` where ``D`` is a perfect square (the 8x8 digits' 64, MNIST's 784), shown
            as square images. Float colour images are scaled to ``[0, 1]`` per image.
        labels: True classes, ids ``(N,)`` or one-hot ``(N, K)``; default ``None``.
        predictions: Predicted ids, or scores ``(N, K)`` (argmax), or float ``(N,)``
            probabilities of class 1 (``> 0.5``); default ``None``.
        ncols: Images per row (default 8).
        class_names: Names of the classes for the titles; default ``None``, the ids.
        max_samples: How many images to show at most, from the first (default 32).

    Returns:
        The figure, one Axes per image shown (1.4 x 1.6 inches each).

    Raises:
        ValueError: For images of another shape, labels or predictions of another length than
            ``images`` or outside ``[0, len(class_names))``, or a non-positive ``ncols`` or
            ``max_samples``.

    Example:
        >>> import numpy as np
        >>> fig = plot_samples(np.zeros((3, 64)), labels=[1, 2, 3], predictions=[1, 2, 0])
        >>> [(ax.get_title(), ax.title.get_color()) for ax in fig.axes]
        [('true 1 / pred 1', 'black'), ('true 2 / pred 2', 'black'), ('true 3 / pred 0', 'red')]
    """
    where = "plot_samples"
    pictures = _images(images, where)
    ncols = check_positive_int(ncols, where=where, arg="ncols")
    n = min(len(pictures), check_positive_int(max_samples, where=where, arg="max_samples"))
    k = None if class_names is None else len(class_names)
    true_ids, pred_ids = (
        None if a is None else class_ids(a, where=where, arg=arg, scores=s, num_classes=k)
        for a, arg, s in ((labels, "labels", False), (predictions, "predictions", True))
    )
    for ids, arg in ((true_ids, "labels"), (pred_ids, "predictions")):
        if ids is not None and len(ids) != len(pictures):
            raise ValueError(
                f"{where}: {arg} must have one entry per image, {len(pictures)}; got {len(ids)}."
            )
    fig, axes = grid(where, n, ncols=ncols, panel=(1.4, 1.6))
    names = list(class_names) if class_names is not None else None
    for i, ax in enumerate(axes):
        ax.imshow(pictures[i], cmap="gray" if pictures[i].ndim == 2 else None)
        ax.set_xticks([])
        ax.set_yticks([])
        title, wrong = _caption(i, true_ids, pred_ids, names)
        ax.set_title(title, color="red" if wrong else "black", fontsize="small")
        if wrong:
            for spine in ax.spines.values():
                spine.set_color("red")
                spine.set_linewidth(2.0)
    if pred_ids is not None and true_ids is not None:
        fig.suptitle(f"{n} of {len(pictures)} samples (red: wrong prediction)")
    return fig


def _caption(
    i: int, true_ids: np.ndarray | None, pred_ids: np.ndarray | None, names: list[Any] | None
) -> tuple[str, bool]:
    def name(c: int) -> str:
        return str(names[c]) if names is not None else str(c)

    parts = []
    if true_ids is not None:
        parts.append(f"true {name(int(true_ids[i]))}")
    if pred_ids is not None:
        parts.append(f"pred {name(int(pred_ids[i]))}")
    wrong = true_ids is not None and pred_ids is not None and true_ids[i] != pred_ids[i]
    return (" / ".join(parts) or f"#{i}"), bool(wrong)


def _images(images: Any, where: str) -> np.ndarray:
    array = np.asarray(images)
    if array.ndim == 2 and array.shape[0] > 0:
        side = math.isqrt(array.shape[1])
        if side * side != array.shape[1]:
            raise ValueError(
                f"{where}: flat images (N, D) need a square D = H * W; got D = {array.shape[1]}. "
                f"Reshape them to (N, H, W) first."
            )
        return array.reshape(-1, side, side)
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 3 and array.shape[0] > 0:
        return array
    if array.ndim == 4 and array.shape[0] > 0 and array.shape[-1] in (3, 4):
        if array.dtype.kind == "f":  # imshow wants floats in [0, 1]; scale each image
            low = array.min(axis=(1, 2, 3), keepdims=True)
            span = array.max(axis=(1, 2, 3), keepdims=True) - low
            array = (array - low) / np.where(span > 0, span, 1.0)
        return array
    raise ValueError(
        f"{where}: images must have shape (N, H, W), (N, H, W, C) with C in (1, 3, 4), or "
        f"(N, D) with D a perfect square, and N >= 1; got {array.shape}."
    )
