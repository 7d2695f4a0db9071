"""Real data shipped with an installed package: the 8 x 8 handwritten digits of scikit-learn."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["digits"]


def _digits_file() -> Path | None:
    """scikit-learn's ``digits.csv.gz``, found without importing scikit-learn (1.4 s here)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
    return path if path.is_file() else None


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    path = _digits_file()
    if path is not None:  # 64 pixel columns and the label, as load_digits reads it
        table = np.loadtxt(path, delimiter=",", dtype=np.float64)
        pixels, labels = table[:, :-1], table[:, -1]
    else:
        try:
            from sklearn.datasets import load_digits
        except ImportError as error:
            raise ImportError(
                "digits() reads the data that ships with scikit-learn, which is not installed: "
                "pip install 'jaxnn[datasets]' (or scikit-learn)."
            ) from error
        data = load_digits()
        pixels, labels = data.data, data.target
    return (pixels / 16.0).astype(np.float32), labels.astype(np.int32)


def digits(*, images: bool = False, test_fraction: float | None = None, seed: int = 0) -> Any:
    """The 1,797 real 8 x 8 handwritten digits (UCI, as shipped inside scikit-learn).

    Pixel values 0-16 are scaled to [0, 1]. No download: the data is part of scikit-learn
    (``pip install 'jaxnn[datasets]'``).

    Args:
        images: Return images ``(N, 8, 8, 1)`` (channels last) instead of vectors ``(N, 64)``.
        test_fraction: If given, split off this fraction as a stratified test set.
        seed: Seed of the split (default 0).

    Returns:
        ``(x, y)`` with float32 ``x`` and int32 labels 0-9, or
        ``((x_train, y_train), (x_test, y_test))`` with ``test_fraction``.

    Raises:
        ImportError: If scikit-learn is not installed; the message names the extra to install.

    Example:
        >>> x, y = digits()
        >>> x.shape, x.dtype, float(x.max()), np.bincount(y).tolist()[:3]
        ((1797, 64), dtype('float32'), 1.0, [178, 182, 177])
    """
    x, y = _digits_arrays()
    if images:
        x = x.reshape(-1, 8, 8, 1)
    if test_fraction is None:
        return x, y
    from jaxnn.data.split import train_test_split

    return train_test_split(x, y, test_fraction=test_fraction, stratify=True, seed=seed)
