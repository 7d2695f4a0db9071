import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import losses
from tests.conftest import check_fn_grads

LOGITS = np.array(
    [[2.0, -1.0, 0.5], [0.1, 0.2, 0.3], [-3.0, 4.0, 1.0], [1.0, 1.0, -2.0]], np.float32
)
LABELS = np.array([0, 2, 1, 1])


def np_log_softmax(z):
    z = z.astype(np.float64)
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def np_xent(z, labels):
    return -np_log_softmax(z)[np.arange(len(labels)), labels]


def test_integer_and_one_hot_labels_agree_with_numpy():
    expected = np_xent(LOGITS, LABELS).mean()
    np.testing.assert_allclose(losses.softmax_cross_entropy(LOGITS, LABELS), expected, rtol=1e-6)
    one_hot = np.eye(3, dtype=np.float32)[LABELS]
    np.testing.assert_allclose(losses.softmax_cross_entropy(LOGITS, one_hot), expected, rtol=1e-6)
    probs = np.exp(np_log_softmax(LOGITS)).astype(np.float32)
    np.testing.assert_allclose(losses.categorical_cross_entropy(probs, LABELS), expected, rtol=1e-5)
    np.testing.assert_allclose(
        losses.categorical_cross_entropy(probs, one_hot), expected, rtol=1e-5
    )
    np.testing.assert_allclose(
        losses.categorical_cross_entropy(LOGITS, LABELS, from_logits=True), expected, rtol=1e-6
    )


def test_label_smoothing():
    alpha, k = 0.1, 3
    smooth = (1 - alpha) * np.eye(k)[LABELS] + alpha / k
    expected = -(smooth * np_log_softmax(LOGITS)).sum(-1).mean()
    np.testing.assert_allclose(
        losses.softmax_cross_entropy(LOGITS, LABELS, label_smoothing=alpha), expected, rtol=1e-6
    )
    one_hot = np.eye(k, dtype=np.float32)[LABELS]
    np.testing.assert_allclose(
        losses.softmax_cross_entropy(LOGITS, one_hot, label_smoothing=alpha), expected, rtol=1e-6
    )


def test_stable_for_huge_logits():
    z = jnp.array([[1000.0, 0.0], [0.0, 1000.0]])
    np.testing.assert_allclose(losses.softmax_cross_entropy(z, jnp.array([0, 0])), 500.0, rtol=1e-6)


def test_class_weights_normalise_by_total_weight():
    cw = np.array([1.0, 2.0, 0.5])
    terms = np_xent(LOGITS, LABELS)
    w = cw[LABELS]
    expected = (w * terms).sum() / w.sum()
    np.testing.assert_allclose(
        losses.softmax_cross_entropy(LOGITS, LABELS, class_weight=cw), expected, rtol=1e-6
    )
    one_hot = np.eye(3, dtype=np.float32)[LABELS]
    np.testing.assert_allclose(
        losses.softmax_cross_entropy(LOGITS, one_hot, class_weight=cw), expected, rtol=1e-6
    )
    sw = np.array([1.0, 0.0, 2.0, 1.0])
    both = (sw * w * terms).sum() / (sw * w).sum()
    np.testing.assert_allclose(
        losses.softmax_cross_entropy(LOGITS, LABELS, class_weight=cw, sample_weight=sw),
        both,
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        losses.softmax_cross_entropy(LOGITS, LABELS, reduction="none", class_weight=cw),
        w * terms,
        rtol=1e-6,
    )


def test_kl_divergence_matches_numpy():
    p = np.array([[0.2, 0.5, 0.3], [0.9, 0.05, 0.05]], np.float32)
    t = np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]], np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(t > 0, t * (np.log(t) - np.log(p)), 0.0).sum(-1)
    np.testing.assert_allclose(losses.kl_divergence(p, t), terms.mean(), rtol=1e-6)
    logits = np.log(p)
    np.testing.assert_allclose(
        losses.kl_divergence(logits, t, from_logits=True), terms.mean(), rtol=1e-5
    )
    assert float(losses.kl_divergence(p, p)) == pytest.approx(0.0, abs=1e-7)


def test_gradients_match_finite_differences():
    check_fn_grads(lambda z: losses.softmax_cross_entropy(z, LABELS), (LOGITS,), order=2)
    check_fn_grads(
        lambda z: losses.softmax_cross_entropy(z, LABELS, label_smoothing=0.2), (LOGITS,), order=2
    )
    probs = np.exp(np_log_softmax(LOGITS))
    check_fn_grads(lambda p: losses.categorical_cross_entropy(p, LABELS), (probs,), order=2)
    t = np.array([[0.1, 0.6, 0.3]] * 4)
    check_fn_grads(lambda z: losses.kl_divergence(z, t, from_logits=True), (LOGITS,), order=2)


def test_gradient_of_softmax_cross_entropy_is_softmax_minus_one_hot():
    with jax.enable_x64(True):
        z = jnp.asarray(LOGITS, jnp.float64)
        grad = jax.grad(lambda z: losses.softmax_cross_entropy(z, LABELS, reduction="sum"))(z)
        expected = np.exp(np_log_softmax(LOGITS)) - np.eye(3)[LABELS]
        np.testing.assert_allclose(grad, expected, atol=1e-12)


def test_labels_closed_over_in_a_trace_are_still_checked():
    # Under jit or eval_shape the loss is traced, but labels captured as NumPy values are concrete.
    bad = np.array([0, 3, 1, 1])
    with pytest.raises(
        ValueError, match=r"labels must be class ids in \[0, 3\); 1 of 4 are not: values \[3\]"
    ):
        jax.eval_shape(lambda z: losses.softmax_cross_entropy(z, bad), LOGITS)
    with pytest.raises(ValueError, match=r"targets must be in \[0, 1\]"):
        jax.jit(lambda z: losses.sigmoid_binary_cross_entropy(z, np.array([[2.0]])))(
            np.zeros((1, 1))
        )


def test_jit_with_traced_integer_labels():
    f = jax.jit(losses.softmax_cross_entropy)
    np.testing.assert_allclose(
        f(LOGITS, LABELS), losses.softmax_cross_entropy(LOGITS, LABELS), rtol=1e-6
    )


def test_errors():
    with pytest.raises(
        ValueError,
        match=r"softmax_cross_entropy: labels must be class ids in \[0, 3\); 2 of 4 are not: values \[-1, 3\], first at index 1\. \(Keras maps -1",
    ):
        losses.softmax_cross_entropy(LOGITS, np.array([0, -1, 3, 1]))
    with pytest.raises(
        ValueError,
        match=r"integer labels must have shape \(4,\) for predictions of shape \(4, 3\); got \(4, 1\)",
    ):
        losses.softmax_cross_entropy(LOGITS, LABELS[:, None])
    with pytest.raises(
        ValueError,
        match=r"labels must be integer class ids of shape \(4,\) or one-hot \(probability\) rows of shape \(4, 3\); got float32 labels of shape \(4,\)",
    ):
        losses.softmax_cross_entropy(LOGITS, LABELS.astype(np.float32))
    with pytest.raises(
        ValueError,
        match=r"predictions must have shape \(N, \.\.\., K\) with K classes on the last axis; got \(4,\)",
    ):
        losses.softmax_cross_entropy(LOGITS[:, 0], LABELS)
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\); got 1.0"):
        losses.softmax_cross_entropy(LOGITS, LABELS, label_smoothing=1.0)
    with pytest.raises(ValueError, match=r"class_weight must hold one weight per class \(3\)"):
        losses.categorical_cross_entropy(LOGITS, LABELS, class_weight=[1.0, 2.0])
