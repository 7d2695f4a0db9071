"""MNIST and Fashion-MNIST: the IDX file format, the cache, and verified downloads.

``mnist()`` and ``fashion_mnist()`` look in the cache folder (``$JAXNN_DATA``, default
``~/.cache/jaxnn``) under ``mnist/`` or ``fashion_mnist/`` for the four IDX files, plain or gzipped.
For MNIST a Keras-style ``mnist.npz`` there (or in ``~/.keras/datasets/``) also works. Missing
files are downloaded from public mirrors and verified by SHA-256 (:mod:`jaxnn.data.download`);
offline, the error says where to put them.

Both return ``((x_train, y_train), (x_test, y_test))`` with uint8 images ``(N, 28, 28)`` and uint8
labels, as ``keras.datasets`` does.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jaxnn.data.download import cache_dir, fetch

__all__ = ["fashion_mnist", "load_idx", "mnist"]

_IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def load_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads an IDX file (the MNIST format), plain or gzipped.

    The header is two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dimensions, then each dimension as a big-endian
    int32; the data follows in row-major order, big-endian.

    Args:
        path: The file; gzip is recognised by its first bytes, not its name.

    Returns:
        The array, in native byte order.

    Raises:
        ValueError: For a bad magic number, an unknown type code, or a data size that does not
            match the dimensions (a truncated file); the message names the file.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "labels.idx1-ubyte")
        >>> _ = Path(path).write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]))
        >>> load_idx(path)
        array([7, 2, 1], dtype=uint8)
    """
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise ValueError(
                f"load_idx: {str(path)!r} is not a complete gzip file ({error})."
            ) from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(
            f"load_idx: {str(path)!r} does not start with an IDX magic number (0x0000, type, "
            f"ndim); got bytes {list(raw[:4])}."
        )
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise ValueError(
            f"load_idx: {str(path)!r} has unknown type code {code:#04x}; known codes are "
            f"{[f'{c:#04x}' for c in sorted(_IDX_TYPES)]}."
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"load_idx: {str(path)!r} is truncated inside its header.")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">i4", count=ndim, offset=4))
    dtype = _IDX_TYPES[code]
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"load_idx: {str(path)!r} declares dimensions {dims} ({expected} bytes of data) but "
            f"holds {len(raw) - header} bytes; the file is truncated or corrupt."
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


class _Spec(NamedTuple):
    name: str
    mirrors: tuple[str, ...]
    files: dict[str, tuple[str, str]]  # role -> (file name, SHA-256)


_MNIST = _Spec(
    "mnist",
    (
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
    ),
    {
        "x_train": (
            "train-images-idx3-ubyte.gz",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        ),
        "y_train": (
            "train-labels-idx1-ubyte.gz",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        ),
        "x_test": (
            "t10k-images-idx3-ubyte.gz",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        ),
        "y_test": (
            "t10k-labels-idx1-ubyte.gz",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        ),
    },
)
_FASHION = _Spec(
    "fashion_mnist",
    (
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    {
        "x_train": (
            "train-images-idx3-ubyte.gz",
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        ),
        "y_train": (
            "train-labels-idx1-ubyte.gz",
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        ),
        "x_test": (
            "t10k-images-idx3-ubyte.gz",
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        ),
        "y_test": (
            "t10k-labels-idx1-ubyte.gz",
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        ),
    },
)


def _from_npz(path: Path) -> Any:
    with np.load(path) as data:
        return (data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])


def _load(spec: _Spec, directory: str | os.PathLike | None, download: bool) -> Any:
    folder = cache_dir(directory) / spec.name
    if spec.name == "mnist":
        for npz in (folder / "mnist.npz", Path.home() / ".keras" / "datasets" / "mnist.npz"):
            if npz.is_file():
                return _from_npz(npz)
    arrays = {}
    for role, (filename, sha256) in spec.files.items():
        plain = folder / filename.removesuffix(".gz")
        if plain.is_file():
            arrays[role] = load_idx(plain)
            continue
        if not download and not (folder / filename).is_file():
            raise FileNotFoundError(
                f"{spec.name}: {filename} is not in {folder} and download=False. Copy the four "
                f"IDX files ({', '.join(f for f, _ in spec.files.values())}) there, plain or "
                f"gzipped, or set $JAXNN_DATA to a folder that holds {spec.name}/."
            )
        path = (
            folder / filename
            if not download
            else fetch(filename, sha256=sha256, mirrors=spec.mirrors, directory=folder)
        )
        arrays[role] = load_idx(path)
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def mnist(*, cache_dir: str | os.PathLike | None = None, download: bool = True) -> Any:
    """The MNIST handwritten digits: 60,000 training and 10,000 test images, 28 x 28.

    Args:
        cache_dir: The cache folder (default ``$JAXNN_DATA`` or ``~/.cache/jaxnn``); files live
            in its ``mnist/`` subfolder.
        download: Download missing files (default ``True``); ``False`` raises instead.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: uint8 images ``(N, 28, 28)``, uint8 labels.

    Raises:
        OSError: If a file is missing and cannot be downloaded (the message says where to put
            it); FileNotFoundError with ``download=False``; ValueError for a corrupt file.
    """
    return _load(_MNIST, cache_dir, download)


def fashion_mnist(*, cache_dir: str | os.PathLike | None = None, download: bool = True) -> Any:
    """Fashion-MNIST: Zalando's 70,000 28 x 28 images of clothing in 10 classes.

    Args and returns as :func:`mnist`; files live in the ``fashion_mnist/`` subfolder.
    """
    return _load(_FASHION, cache_dir, download)
