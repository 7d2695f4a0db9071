r"""Loss functions: pure, numerically stable, with sample and class weights.

Every loss has the signature::

    loss(predictions, targets, *, sample_weight=None, class_weight=None, reduction="mean")

Predictions come first, as in Optax. Each loss forms elementwise terms :math:`\ell_{n,e}`
(one per sample :math:`n` and element :math:`e`), a weight :math:`w_{n,e} = s_n c_{n,e}` from
the sample weight :math:`s_n` and the class weight :math:`c_{n,e}` of the target, and reduces:

- ``"mean"`` (default): the weighted mean :math:`\sum w\ell / \sum w` (0 when all weights are
  0). Uniform weights therefore give the unweighted mean. This is PyTorch's convention for class
  weights; Keras divides by the batch size instead.
- ``"sum"``: :math:`\sum_n \frac{1}{E}\sum_e w_{n,e}\ell_{n,e}`, the sum of the weighted
  per-sample means.
- ``"none"``: those per-sample means, shape ``(N,)``.

Class weights (a sequence with one weight per class, or a dict ``{class: weight}`` where missing
classes weigh 1) apply to the classification losses only. Losses that take probabilities clip
them to :math:`[\epsilon, 1-\epsilon]` with :math:`\epsilon = 10^{-7}` as Keras does; prefer the
logit forms (``sigmoid_binary_cross_entropy``, ``softmax_cross_entropy``), which use log-sum-exp
and are exact for any logits. Keras names (``"binary_crossentropy"``,
``"categorical_crossentropy"``, ``"sparse_categorical_crossentropy"``) look up the functions with
Keras' meaning: they take probabilities.
"""

from jaxnn.losses.binary import binary_cross_entropy, hinge, sigmoid_binary_cross_entropy
from jaxnn.losses.categorical import (
    categorical_cross_entropy,
    kl_divergence,
    softmax_cross_entropy,
)
from jaxnn.losses.lookup import get, names
from jaxnn.losses.regression import huber, mae, mse

__all__ = [
    "binary_cross_entropy",
    "categorical_cross_entropy",
    "get",
    "hinge",
    "huber",
    "kl_divergence",
    "mae",
    "mse",
    "names",
    "sigmoid_binary_cross_entropy",
    "softmax_cross_entropy",
]
