"""Plots: training history, decision boundaries, activations, confusion matrices, samples, weights.

Every function takes data (and, where one panel makes sense, an optional matplotlib ``Axes`` to
draw into), returns a :class:`matplotlib.figure.Figure` built without pyplot (no global state, no
window), and never calls ``plt.show()``; :func:`save_figure` writes PNG, SVG or PDF atomically.
matplotlib is imported only when a plot is drawn (``pip install "jaxnn[plot]"``).
"""

from jaxnn.viz.activations import DEFAULT_ACTIVATIONS, plot_activations
from jaxnn.viz.boundary import plot_decision_boundary
from jaxnn.viz.classification import plot_confusion_matrix, plot_samples
from jaxnn.viz.figure import save_figure
from jaxnn.viz.history import plot_history
from jaxnn.viz.weights import plot_activation_histograms, plot_weight_histograms

__all__ = [
    "DEFAULT_ACTIVATIONS",
    "plot_activation_histograms",
    "plot_activations",
    "plot_confusion_matrix",
    "plot_decision_boundary",
    "plot_history",
    "plot_samples",
    "plot_weight_histograms",
    "save_figure",
]
