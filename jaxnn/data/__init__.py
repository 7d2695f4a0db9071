"""Data: synthetic sets, real data loaders, splits, scalers and batching."""

from jaxnn.data.batching import batches
from jaxnn.data.download import cache_dir
from jaxnn.data.idx import fashion_mnist, load_idx, mnist
from jaxnn.data.lookup import load, names
from jaxnn.data.preprocessing import MinMax, Standardize
from jaxnn.data.real import digits
from jaxnn.data.split import train_test_split, train_val_test_split
from jaxnn.data.synthetic import (
    blobs,
    circle,
    gaussian,
    moons,
    regression_gaussian,
    regression_plane,
    spiral,
    xor,
)
from jaxnn.data.tabular import Tabular, TabularEncoder, load_csv, read_columns
from jaxnn.data.text import (
    CharVocab,
    char_windows,
    corpus_names,
    text_corpus,
    train_test_windows,
)
from jaxnn.encoding import one_hot, to_categorical

__all__ = [
    "CharVocab",
    "MinMax",
    "Standardize",
    "Tabular",
    "TabularEncoder",
    "batches",
    "blobs",
    "cache_dir",
    "char_windows",
    "circle",
    "corpus_names",
    "digits",
    "fashion_mnist",
    "gaussian",
    "load",
    "load_csv",
    "load_idx",
    "mnist",
    "moons",
    "names",
    "one_hot",
    "read_columns",
    "regression_gaussian",
    "regression_plane",
    "spiral",
    "text_corpus",
    "to_categorical",
    "train_test_split",
    "train_test_windows",
    "train_val_test_split",
    "xor",
]
