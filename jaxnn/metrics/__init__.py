"""Classification and regression metrics that accumulate exactly over batches.

Each metric is a :class:`Metric`: ``stats(predictions, labels, sample_weight)`` returns
*sufficient statistics* (a dict of weighted sums), ``compute(stats)`` turns them into the value.
Statistics of two batches add (:func:`merge`), so the metric over an epoch computed batch by batch
equals the metric computed on all samples at once. Everything is jit-compatible: the number of
classes comes from static shapes.

How predictions become classes:

- shape ``(N, K)`` with ``K >= 2``: scores (logits or probabilities), the class is the argmax;
- shape ``(N,)`` or ``(N, 1)`` of floats: a binary score, the class is ``score > threshold``
  (default 0.5 for probabilities; pass ``threshold=0.0`` for logits);
- an integer array: class ids already (pass ``num_classes``).

Labels are integer ids of shape ``(N,)`` (or ``(N, 1)``) or one-hot rows ``(N, K)``.

The lowercase functions (:func:`accuracy`, :func:`precision`, ...) compute a value in one call;
the CamelCase constructors (:func:`Accuracy`, :func:`Precision`, ...) return the accumulable
:class:`Metric`; :func:`get` looks one up by name, as ``fit(metrics=["accuracy"])`` does.
"""

from jaxnn.metrics.base import Metric, merge
from jaxnn.metrics.classification import (
    Accuracy,
    ConfusionMatrix,
    F1Score,
    Precision,
    Recall,
    TopKAccuracy,
    accuracy,
    confusion_matrix,
    f1_score,
    precision,
    recall,
    top_k_accuracy,
)
from jaxnn.metrics.lookup import get, names
from jaxnn.metrics.ranking import AUC, roc_auc
from jaxnn.metrics.regression import Mean

__all__ = [
    "AUC",
    "Accuracy",
    "ConfusionMatrix",
    "F1Score",
    "Mean",
    "Metric",
    "Precision",
    "Recall",
    "TopKAccuracy",
    "accuracy",
    "confusion_matrix",
    "f1_score",
    "get",
    "merge",
    "names",
    "precision",
    "recall",
    "roc_auc",
    "top_k_accuracy",
]
