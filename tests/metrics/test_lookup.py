import numpy as np
import pytest

from jaxnn import metrics


def test_get_by_name_and_regression_means():
    assert metrics.get("accuracy").name == "accuracy"
    assert metrics.get("ACC").name == "accuracy"
    m = metrics.get("Accuracy")
    assert metrics.get(m) is m
    p = np.array([1.0, 2.0, 4.0], np.float32)
    t = np.array([1.5, 2.0, 1.0], np.float32)
    w = np.array([1.0, 2.0, 1.0], np.float32)
    np.testing.assert_allclose(
        metrics.get("mae")(p, t, w), (w * np.abs(p - t)).sum() / w.sum(), rtol=1e-6
    )
    np.testing.assert_allclose(metrics.get("mse")(p, t), ((p - t) ** 2).mean(), rtol=1e-6)


def test_unknown_metric_lists_known_ones():
    with pytest.raises(
        ValueError, match=r"Unknown metric 'accuracy_score'\. Known metrics: acc, accuracy, auc"
    ):
        metrics.get("accuracy_score")
    with pytest.raises(TypeError, match="metric must be a name such as 'accuracy' or a Metric"):
        metrics.get(3)
